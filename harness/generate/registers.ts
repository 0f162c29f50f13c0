/**
 * General-purpose register operands: all 16 registers in every width, named as keystone spells
 * them. Byte registers 4–7 are SPL/BPL/SIL/DIL with a REX prefix and AH/CH/DH/BH without one, so
 * an instruction chooses its REX mode first and its registers inside it.
 */
import type fc from 'fast-check';
import { G, type Gen } from './gen.js';

export type OperandWidth = 1 | 2 | 4 | 8;

export interface RegisterOperand {
  /** Encoding number 0–15 (for AH–BH: 4–7 with `high` set). */
  readonly num: number;
  readonly width: OperandWidth;
  /** AH/CH/DH/BH: only encodable without REX. */
  readonly high: boolean;
  readonly name: string;
}

const NAMES: Record<OperandWidth, readonly string[]> = {
  8: ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'],
  4: ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'r8d', 'r9d', 'r10d', 'r11d', 'r12d', 'r13d', 'r14d', 'r15d'],
  2: ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di', 'r8w', 'r9w', 'r10w', 'r11w', 'r12w', 'r13w', 'r14w', 'r15w'],
  1: ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil', 'r8b', 'r9b', 'r10b', 'r11b', 'r12b', 'r13b', 'r14b', 'r15b'],
};
const HIGH_BYTE_NAMES = ['ah', 'ch', 'dh', 'bh'] as const;

/** The 64-bit name of encoding number `num` (rax … r15). */
export function gpr64Name(num: number): string {
  return NAMES[8][num]!;
}

export function registerName(num: number, width: OperandWidth, high = false): string {
  if (high) {
    if (width !== 1 || num < 4 || num > 7) throw new RangeError(`no high-byte register for ${num}/${width}`);
    return HIGH_BYTE_NAMES[num - 4]!;
  }
  return NAMES[width][num]!;
}

export function makeRegister(num: number, width: OperandWidth, high = false): RegisterOperand {
  return { num, width, high, name: registerName(num, width, high) };
}

/** Does naming this register force a REX prefix? (R8–R15 in any width; SPL/BPL/SIL/DIL.) */
export function registerNeedsRex(r: RegisterOperand): boolean {
  return r.num >= 8 || (r.width === 1 && r.num >= 4 && !r.high);
}

export interface RegisterConstraints {
  readonly width: OperandWidth;
  /** The instruction has no REX prefix: only registers 0–7, and byte registers 4–7 are AH–BH. */
  readonly noRex: boolean;
  /** Encoding numbers this operand must not name (e.g. RSP as a destination). */
  readonly exclude?: readonly number[];
}

/** Every register a constrained operand may name. */
export function legalRegisters(c: RegisterConstraints): RegisterOperand[] {
  const out: RegisterOperand[] = [];
  for (let num = 0; num < (c.noRex ? 8 : 16); num++) {
    if (c.exclude?.includes(num)) continue;
    out.push(makeRegister(num, c.width, c.noRex && c.width === 1 && num >= 4));
  }
  return out;
}

/** One general register of the given width, legal for the instruction's REX mode. */
export function registerArbitrary(c: RegisterConstraints): fc.Arbitrary<RegisterOperand> {
  return registerGen(c).arb;
}

export function registerGen(c: RegisterConstraints): Gen<RegisterOperand> {
  const legal = legalRegisters(c);
  if (legal.length === 0) throw new RangeError('registerArbitrary: every register is excluded');
  return G.constantFrom(...legal);
}

/** An XMM (xmm0–xmm15) or MMX (mm0–mm7) register operand. */
export interface SimdRegister {
  readonly file: 'xmm' | 'mm';
  readonly num: number;
  readonly name: string;
}

export function simdRegister(file: 'xmm' | 'mm', num: number): SimdRegister {
  return { file, num, name: `${file}${num}` };
}

const XMM_GEN: Gen<SimdRegister> = G.constantFrom(...Array.from({ length: 16 }, (_, n) => simdRegister('xmm', n)));
const MM_GEN: Gen<SimdRegister> = G.constantFrom(...Array.from({ length: 8 }, (_, n) => simdRegister('mm', n)));

/** Any register of a SIMD register file. */
export function simdRegisterGen(file: 'xmm' | 'mm'): Gen<SimdRegister> {
  return file === 'xmm' ? XMM_GEN : MM_GEN;
}
