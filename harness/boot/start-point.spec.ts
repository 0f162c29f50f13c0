import { describe, expect, it } from 'vitest';
import { parseBootPoint } from './start-point.js';
import { parseKallsyms, SymbolTable } from './symbols.js';

const loads = [{ vaddr: 0xffffffff81000000n, paddr: 0x1000000n, memsz: 0x2000000n }];
const symbols = new SymbolTable(parseKallsyms([
  'ffffffff81000000 T startup_64',
  'ffffffff8103b210 t __text_poke',
  'ffffffff81100000 t dup_name',
  'ffffffff81200000 t dup_name',
  'ffffffff82000000 D some_data',
].join('\n')), loads);
const ctx = { symbols, loads, pvhEntry: 0x1000850n };

describe('--from / --until points', () => {
  it('watches a kernel symbol at its link address and its physical alias', () => {
    expect(parseBootPoint('startup_64', '--from', ctx)).toEqual({ kind: 'address', label: 'startup_64', addresses: [0xffffffff81000000n, 0x1000000n] });
    expect(parseBootPoint('__text_poke+0x192', '--from', ctx)).toMatchObject({ addresses: [0xffffffff8103b3a2n, 0x103b3a2n] });
  });

  it('takes the PVH entry, addresses, instruction counts and boot-ok', () => {
    expect(parseBootPoint('entry', '--from', ctx)).toMatchObject({ kind: 'address', addresses: [0x1000850n] });
    expect(parseBootPoint('0xffffffff8103b220', '--from', ctx)).toMatchObject({ kind: 'address', label: '0xffffffff8103b220 (__text_poke+0x10/0xc4df0)' });
    expect(parseBootPoint('176_000_000', '--until', ctx)).toEqual({ kind: 'icount', label: 'instruction 176,000,000', icount: 176_000_000 });
    expect(parseBootPoint('boot-ok', '--until', ctx)).toMatchObject({ kind: 'boot-ok' });
  });

  it('refuses, in one line, what it cannot use', () => {
    expect(() => parseBootPoint('boot-ok', '--from', ctx)).toThrow('--from boot-ok is not a start point; use it with --until');
    expect(() => parseBootPoint('nope', '--from', ctx)).toThrow('--from nope: no such kernel symbol; check the spelling');
    expect(() => parseBootPoint('dup_name', '--from', ctx)).toThrow('--from dup_name names 2 symbols (0xffffffff81100000, 0xffffffff81200000); pass the address of the one you mean');
    expect(() => parseBootPoint('a b', '--until', ctx)).toThrow(/--until 'a b' is not entry, a symbol/);
    const bare = { ...ctx, symbols: new SymbolTable([]), symbolsNote: 'no symbols: the symbol boot failed' };
    expect(() => parseBootPoint('start_kernel', '--from', bare)).toThrow('--from start_kernel: no such kernel symbol (no symbols: the symbol boot failed; pass an address instead)');
  });
});
