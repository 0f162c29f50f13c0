import { describe, expect, it } from 'vitest';
import { DECODE_TOO_LONG, DECODE_UD, decode, NEED_MORE } from './decoder.js';
import { BASE_RIP, Insn, Opnd, Seg } from './insn.js';

/** Encodings from the SDM (Vol. 2 §2.1–2.2, Tables 2-2/2-3) and checked against nasm output. */
const mode = { long64: true, default32: true, features: new Set<never>() };

function dec(...bytes: number[]): Insn {
  const d = new Insn();
  const n = decode(Uint8Array.from(bytes), bytes.length, mode, d);
  if (n <= 0) throw new Error(`decode returned ${n}`);
  return d;
}

describe('decoder', () => {
  it('decodes the seed instruction add r13, [rip+0x17fcc33]', () => {
    const d = dec(0x4c, 0x03, 0x2d, 0x33, 0xcc, 0x7f, 0x01);
    expect(d.row.mnemonic).toBe('ADD');
    expect(d.len).toBe(7);
    expect(d.osize).toBe(8);
    expect(d.or[0]).toBe(13);
    expect(d.base).toBe(BASE_RIP);
    expect(d.disp).toBe(0x17fcc33);
  });

  it('applies REX only when it immediately precedes the opcode', () => {
    expect(dec(0x48, 0x66, 0x01, 0xd8).osize).toBe(2);
    expect(dec(0x66, 0x48, 0x01, 0xd8).osize).toBe(8);
    expect(dec(0x41, 0x48, 0x01, 0xd8).or[0]).toBe(0); // last REX (48) wins: no REX.B
  });

  it('maps byte registers: AH–BH without REX, SPL–DIL with it', () => {
    // 88 E0 = mov al, ah (r/m = AL, reg = AH; AH–BH are numbered 16–19 here)
    expect(dec(0x88, 0xe0).or[0]).toBe(0);
    expect(dec(0x88, 0xe0).or[1]).toBe(16);
    expect(dec(0x40, 0x88, 0xe0).or[1]).toBe(4); // with REX: mov al, spl
  });

  it('handles RSP/RBP/R12/R13 ModRM/SIB special cases', () => {
    let d = dec(0x8b, 0x04, 0x24); // mov eax, [rsp]
    expect([d.base, d.index, d.seg]).toEqual([4, -1, Seg.SS]);
    d = dec(0x8b, 0x45, 0x00); // mov eax, [rbp+0]
    expect([d.base, d.disp, d.seg]).toEqual([5, 0, Seg.SS]);
    d = dec(0x41, 0x8b, 0x04, 0x24); // mov eax, [r12]
    expect([d.base, d.index, d.seg]).toEqual([12, -1, Seg.DS]);
    d = dec(0x41, 0x8b, 0x45, 0x00); // mov eax, [r13+0]
    expect([d.base, d.seg]).toEqual([13, Seg.DS]);
    d = dec(0x42, 0x8b, 0x04, 0x25, 0x10, 0, 0, 0); // mov eax, [r12*1+0x10]? SIB index=100+X → r12, base=101 mod0 → none
    expect([d.base, d.index, d.disp]).toEqual([-1, 12, 0x10]);
    d = dec(0x8b, 0x04, 0x25, 0x10, 0, 0, 0); // no index, no base: absolute disp32
    expect([d.base, d.index, d.disp]).toEqual([-1, -1, 0x10]);
  });

  it('uses 32-bit addressing with 0x67 and FS/GS overrides', () => {
    const d = dec(0x64, 0x67, 0x8b, 0x00);
    expect([d.asize, d.seg, d.segOverride]).toEqual([4, Seg.FS, true]);
    expect(dec(0x2e, 0x8b, 0x00).seg).toBe(Seg.DS); // CS override ignored in 64-bit mode
  });

  it('sign-extends imm8 and imm32 to the operand size; movabs takes imm64', () => {
    let d = dec(0x48, 0x83, 0xc0, 0xff); // add rax, -1
    expect([d.os[1], d.imm, d.immHi]).toEqual([8, 0xffffffff, 0xffffffff]);
    d = dec(0x48, 0x05, 0x00, 0x00, 0x00, 0x80); // add rax, -0x80000000
    expect([d.imm, d.immHi]).toEqual([0x80000000, 0xffffffff]);
    d = dec(0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8);
    expect([d.len, d.imm, d.immHi]).toEqual([10, 0x04030201, 0x08070605]);
    d = dec(0x6a, 0xfb); // push -5: 64-bit
    expect([d.osize, d.os[0], d.imm]).toEqual([8, 8, 0xfffffffb]);
  });

  it('reads moffs as a 64-bit absolute address', () => {
    const d = dec(0x48, 0xa1, 0, 0, 2, 0, 0, 0, 0, 0);
    expect([d.absolute, d.disp, d.dispHi, d.len, d.ot[1]]).toEqual([true, 0x20000, 0, 10, Opnd.Mem]);
  });

  it('reports #UD, too-long and need-more', () => {
    const d = new Insn();
    expect(decode(Uint8Array.from([0x06]), 1, mode, d)).toBe(DECODE_UD);
    expect(decode(Uint8Array.from([0x0f, 0x0b]), 2, mode, d)).toBeGreaterThan(0); // ud2 decodes; executes as #UD
    expect(decode(Uint8Array.from([0x8d, 0xc0]), 2, mode, d)).toBe(DECODE_UD); // lea with a register operand
    expect(decode(Uint8Array.from(Array(15).fill(0x66).concat([0x90])), 16, mode, d)).toBe(DECODE_TOO_LONG);
    expect(decode(Uint8Array.from([0x48, 0x8b]), 2, mode, d)).toBe(NEED_MORE);
  });

  it('ignores F3 on POPCNT without the feature (qemu64: #UD) and decodes it with', () => {
    const d = new Insn();
    expect(decode(Uint8Array.from([0xf3, 0x0f, 0xb8, 0xc0]), 4, mode, d)).toBe(DECODE_UD);
    const withPopcnt = { ...mode, features: new Set(['popcnt' as const]) };
    expect(decode(Uint8Array.from([0xf3, 0x0f, 0xb8, 0xc0]), 4, withPopcnt, d)).toBe(4);
    expect(d.row.mnemonic).toBe('POPCNT');
    expect(decode(Uint8Array.from([0xf3, 0x0f, 0xbc, 0xc0]), 4, mode, d)).toBe(4);
    expect(d.row.mnemonic).toBe('BSF');
  });
});
