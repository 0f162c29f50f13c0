import { describe, expect, it } from 'vitest';
import { parseKallsyms, SymbolTable } from './symbols.js';

const TEXT = [
  '0000000000000000 A fixed_percpu_data',
  'ffffffff81000000 T startup_64',
  'ffffffff81000000 T _stext',
  'ffffffff81000070 T secondary_startup_64',
  '[    2.071194] tsc: a console line in the middle',
  'ffffffff8103b210 t __text_poke',
  'ffffffff8103b6a0 T text_poke',
  'ffffffff82a00000 D init_task',
].join('\n');

const LOADS = [{ vaddr: 0xffffffff81000000n, paddr: 0x1000000n, memsz: 0x2000000n }];

describe('kernel symbols', () => {
  const table = new SymbolTable(parseKallsyms(TEXT), LOADS);

  it('parses symbol lines and skips console noise', () => {
    expect(parseKallsyms(TEXT)).toHaveLength(7);
    expect(table.size).toBe(6); // the absolute symbol is an offset, not an address
  });

  it('names an address as the kernel does: function+offset/size', () => {
    expect(table.symbolize(0xffffffff8103b3a2n)).toBe('__text_poke+0x192/0x490');
    expect(table.symbolize(0xffffffff81000005n)).toBe('startup_64+0x5/0x70');
  });

  it('maps a physical alias of the kernel image back to its symbol and says so', () => {
    expect(table.symbolize(0x1000075n)).toBe('secondary_startup_64+0x5/0x3b1a0 (phys alias)');
    expect(table.symbolize(0x5000n)).toBe('0x5000');
  });

  it('finds symbols by name', () => {
    expect(table.lookup('text_poke').map((s) => s.addr)).toEqual([0xffffffff8103b6a0n]);
    expect(table.lookup('nope')).toEqual([]);
  });
});
