import { describe, expect, it } from 'vitest';
import type { Feature } from '../isa/row.js';
import { DECODE_UD, decode } from './decoder.js';
import { Insn, Opnd } from './insn.js';
import { nasm } from '../test-support/nasm.js';

/**
 * VEX prefixes (decode/vex.ts, SDM Vol. 2 §2.3) as the decoder reads them: encodings from nasm,
 * register fields checked against what nasm was told, and the SDM's rules for C4/C5 outside
 * 64-bit mode (LES/LDS unless ModRM-like bits 7:6 are 11; always LES/LDS in 16-bit code).
 */
const BMI1 = new Set<Feature>(['bmi1']);
const LONG = { long64: true, default32: true, features: BMI1 };
const PROT32 = { long64: false, default32: true, features: BMI1 };
const REAL16 = { long64: false, default32: false, features: BMI1 };

function dec(bytes: Uint8Array, mode: { long64: boolean; default32: boolean; features: ReadonlySet<Feature> } = LONG): Insn | number {
  const d = new Insn();
  const n = decode(bytes, bytes.length, mode, d);
  return n > 0 ? d : n;
}

const insn = (x: Insn | number): Insn => {
  if (typeof x === 'number') throw new Error(`decode returned ${x}`);
  return x;
};

describe('VEX decoding', () => {
  it('reads R, X, B, W and vvvv in 64-bit mode (ANDN/BEXTR/BLSI with R8–R15)', () => {
    const andn = insn(dec(nasm('andn r9, r14, [r10+r11*2+8]', 0)));
    expect([andn.row.mnemonic, andn.osize, andn.or[0], andn.or[1], andn.base, andn.index, andn.scale, andn.disp]).toEqual(['ANDN', 8, 9, 14, 10, 11, 1, 8]);
    const bextr = insn(dec(nasm('bextr eax, r13d, r12d', 0)));
    expect([bextr.row.mnemonic, bextr.osize, bextr.or[0], bextr.or[1], bextr.or[2], bextr.ot[1]]).toEqual(['BEXTR', 4, 0, 13, 12, Opnd.Reg]);
    const blsi = insn(dec(nasm('blsi r15, rcx', 0)));
    expect([blsi.row.mnemonic, blsi.osize, blsi.or[0], blsi.or[1]]).toEqual(['BLSI', 8, 15, 1]);
  });

  it('is #UD without BMI1, with VEX.L = 1, or with 66/F2/F3/REX/LOCK before it', () => {
    const andn = nasm('andn rax, rbx, rcx', 0);
    expect(dec(andn, { ...LONG, features: new Set() })).toBe(DECODE_UD);
    expect(dec(Uint8Array.from([0xc4, 0xe2, andn[2]! | 4, 0xf2, 0xc1]))).toBe(DECODE_UD);
    for (const p of [0x66, 0xf2, 0xf3, 0x48, 0xf0]) expect(dec(Uint8Array.from([p, ...andn]))).toBe(DECODE_UD);
    expect(insn(dec(Uint8Array.from([0x2e, ...andn]))).row.mnemonic).toBe('ANDN'); // a segment prefix is allowed
  });

  it('outside 64-bit mode: C4/C5 with ModRM.mod != 11 are LES/LDS, else VEX with W, R, X, B ignored', () => {
    expect(insn(dec(nasm('les eax, [ebx]', 0, 32), PROT32)).row.mnemonic).toBe('LES');
    expect(insn(dec(nasm('lds ecx, [ebx+4]', 0, 32), PROT32)).row.mnemonic).toBe('LDS');
    const andn = insn(dec(nasm('andn eax, ebx, ecx', 0, 32), PROT32));
    expect([andn.row.mnemonic, andn.osize, andn.or[0], andn.or[1], andn.or[2]]).toEqual(['ANDN', 4, 0, 3, 1]);
    // the 64-bit encoding of andn rax, rbx, rcx (W=1) is the 32-bit ANDN there
    expect(insn(dec(nasm('andn rax, rbx, rcx', 0), PROT32)).osize).toBe(4);
    // in 16-bit code C4 with mod 11 is still LES (whose register form is #UD)
    expect(dec(nasm('andn eax, ebx, ecx', 0, 32), REAL16)).toBe(DECODE_UD);
    expect(insn(dec(nasm('les ax, [bx]', 0, 16), REAL16)).row.mnemonic).toBe('LES');
  });

  it('BMI2: operands in SDM order, RORX from map 0F3A with its imm8, and the feature QEMU 7.2 checks for each row', () => {
    const BOTH = { ...LONG, features: new Set<Feature>(['bmi1', 'bmi2']) };
    const mulx = insn(dec(nasm('mulx r8, r9, [rsi]', 0), BOTH));
    expect([mulx.row.mnemonic, mulx.osize, mulx.or[0], mulx.or[1], mulx.ot[2]]).toEqual(['MULX', 8, 8, 9, Opnd.Mem]);
    const sarx = insn(dec(nasm('sarx r10d, r11d, r12d', 0), BOTH));
    expect([sarx.row.mnemonic, sarx.osize, sarx.or[0], sarx.or[1], sarx.or[2]]).toEqual(['SARX', 4, 10, 11, 12]);
    const rorx = insn(dec(nasm('rorx rax, r13, 0x45', 0), BOTH));
    expect([rorx.row.mnemonic, rorx.osize, rorx.or[1], rorx.imm]).toEqual(['RORX', 8, 13, 0x45]);
    const gatedByBmi1 = ['bzhi rax, rbx, rcx', 'shlx rax, rbx, rcx', 'sarx eax, ebx, ecx', 'shrx rax, [rbx], rcx'];
    const gatedByBmi2 = ['mulx rax, rbx, rcx', 'pdep eax, ebx, ecx', 'pext rax, rbx, [rcx]', 'rorx eax, ebx, 3'];
    for (const [features, runs, ud] of [[['bmi1'], gatedByBmi1, gatedByBmi2], [['bmi2'], gatedByBmi2, gatedByBmi1]] as const) {
      const mode = { ...LONG, features: new Set<Feature>(features) };
      for (const asm of runs) expect(insn(dec(nasm(asm, 0), mode)).row.mnemonic, `${asm} with ${features}`).toBe(asm.split(' ')[0]!.toUpperCase());
      for (const asm of ud) expect(dec(nasm(asm, 0), mode), `${asm} with ${features}`).toBe(DECODE_UD);
    }
  });
});
