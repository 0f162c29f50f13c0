import { describe, expect, it } from 'vitest';
import { LAYOUT } from '../../contracts/test-machine.js';
import { layoutCode, splitCode, truncateAfter, withInstructions } from './instructions.js';
import { encode, hexOf, makeCase } from './test-fixtures.js';

const DATA = LAYOUT.data;

// mov eax, 1 | jmp short +5 (over the mov ebx) | mov ebx, 2 | add r13, [rip→0x20000] | lea rcx, [rip→0x20040] | jne (back to the jmp)
const sample = encode([
  'b801000000', // 0x10000 mov eax, 1
  'eb05', // 0x10005 jmp short 0x1000c
  'bb02000000', // 0x10007 mov ebx, 2
  { hex: '4c032d00000000', ripTo: DATA }, // 0x1000c add r13, [rip+…]
  { hex: '488d0d00000000', ripTo: DATA + 0x40n }, // 0x10013 lea rcx, [rip+…]
  '75f0', // 0x1001a jne 0x1000c
]);

describe('splitCode / layoutCode', () => {
  it('splits into instructions with their relative fields, and lays them out unchanged', () => {
    const ins = splitCode(sample);
    expect(ins.map((i) => i.mnemonic)).toEqual(['mov', 'jmp', 'mov', 'add', 'lea', 'jne']);
    expect(ins[3]!.ripRelative).toEqual({ target: DATA, offset: 3, size: 4 });
    expect(ins[1]!.branch).toEqual({ target: 0x1000cn, offset: 1, size: 1 });
    expect(ins[5]!.branch?.target).toBe(0x1000cn);
    expect(hexOf(layoutCode(ins)!)).toBe(hexOf(sample));
  });

  it('keeps RIP-relative operands on the same absolute address when earlier instructions are dropped', () => {
    const ins = splitCode(sample);
    const code = layoutCode([ins[3]!, ins[4]!])!;
    const moved = splitCode(code);
    expect(moved[0]!.address).toBe(LAYOUT.code);
    expect(moved[0]!.ripRelative?.target).toBe(DATA);
    expect(moved[1]!.ripRelative?.target).toBe(DATA + 0x40n);
    expect(moved[0]!.text).toBe(`add r13, [rip+0x${(DATA - LAYOUT.code - 7n).toString(16)}]`);
  });

  it('re-aims branches at the instruction they hit, or the next kept one when it was dropped', () => {
    const ins = splitCode(sample);
    // drop `mov ebx, 2`: the jmp now lands 0 bytes further, still on the add
    const a = splitCode(layoutCode([ins[0]!, ins[1]!, ins[3]!, ins[4]!, ins[5]!])!);
    expect(a[1]!.branch?.target).toBe(a[2]!.address);
    expect(a[4]!.branch?.target).toBe(a[2]!.address);
    expect(a[2]!.ripRelative?.target).toBe(DATA);
    // drop the add itself: both branches go to what followed it (the lea)
    const b = splitCode(layoutCode([ins[1]!, ins[2]!, ins[4]!, ins[5]!])!);
    expect(b[0]!.branch?.target).toBe(b[2]!.address);
    expect(b[3]!.branch?.target).toBe(b[2]!.address);
    // drop everything after the jmp: it goes to the end of the code
    const c = splitCode(layoutCode([ins[0]!, ins[1]!])!);
    expect(c[1]!.branch?.target).toBe(LAYOUT.code + 7n);
  });

  it('refuses a layout whose displacement no longer fits', () => {
    const far = splitCode(encode([{ hex: '4c032d00000000', ripTo: DATA }]), LAYOUT.code);
    const shifted = [{ ...far[0]!, ripRelative: { ...far[0]!.ripRelative!, target: 1n << 40n } }];
    expect(layoutCode(shifted)).toBeUndefined();
  });
});

describe('truncateAfter / withInstructions', () => {
  it('cuts the code right after the instruction at a RIP and refreshes the disassembly', () => {
    const c = makeCase({ code: sample });
    const cut = truncateAfter(c, 0x1000cn)!;
    expect(splitCode(cut.code).map((i) => i.mnemonic)).toEqual(['mov', 'jmp', 'mov', 'add']);
    expect(cut.asm).toHaveLength(4);
    expect(truncateAfter(c, 0x1001an)).toBeUndefined(); // already the last one
    expect(truncateAfter(c, 0x9999n)).toBeUndefined();
  });

  it('builds a case from a subset', () => {
    const c = makeCase({ code: sample });
    const only = withInstructions(c, splitCode(sample).slice(3, 4))!;
    expect(only.asm).toEqual(['add r13, [rip+0xfff9]']);
  });
});
