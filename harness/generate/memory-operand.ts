/**
 * Memory operands whose effective address is valid: RIP-relative (displacement computed from the
 * instruction's end once the code is laid out), [disp32], base, index*scale, base+index*scale with
 * no/8/32-bit displacement and every base including RSP/RBP/R12/R13, 0x67 (32-bit) addressing with
 * garbage in the registers' upper halves, and FS/GS overrides. The arbitrary draws *preferences*
 * (form, registers, displacement, target offset); `resolveMemoryOperand` then computes the initial
 * values of the address registers so that the address lands at the target inside the scratch
 * window, reusing registers an earlier operand already fixed when a displacement can bridge the gap.
 */
import type fc from 'fast-check';
import { G, type Gen } from './gen.js';
import { registerName, type OperandWidth } from './registers.js';

export type AddressForm = 'rip' | 'absolute' | 'base' | 'index' | 'base-index';
export type Scale = 1 | 2 | 4 | 8;
/** FS/GS overrides; ES only in real-mode code (memory-operand-16.ts), where it stands in for DS. */
export type SegmentOverride = 'fs' | 'gs' | 'es';

export interface MemoryOperandChoice {
  readonly form: AddressForm;
  readonly base: number;
  /** Never 4: index 100b means "no index". */
  readonly index: number;
  readonly scale: Scale;
  readonly dispWidth: 0 | 8 | 32;
  readonly disp: bigint;
  /** 16: real-mode code's own addressing (memory-operand-16.ts). */
  readonly addressSize: 64 | 32 | 16;
  readonly segment: SegmentOverride | 'none';
  /** Fraction (0..1) of the scratch window where the access starts. */
  readonly targetFraction: number;
  /** Initial value preferred for a fresh index register. */
  readonly indexValue: bigint;
  /** Bits 63..32 of fresh registers used for 32-bit addressing (ignored by the CPU). */
  readonly upperBits: bigint;
}

export interface MemoryOperand {
  readonly form: AddressForm;
  readonly segment?: SegmentOverride;
  readonly base?: number;
  readonly index?: number;
  readonly scale: Scale;
  /** Encoded displacement (signed). For 'rip' it is filled in when the code address is known. */
  readonly disp: bigint;
  /** 0 = none (only legal without a base, or with base other than RBP/R13); 8, 16 (16-bit addressing) or 32 bits. */
  readonly dispWidth: 0 | 8 | 16 | 32;
  readonly addressSize: 64 | 32 | 16;
  /** The address the encoding names, before the segment base is added: the RIP-relative
   * target or moffs offset to encode (linear address = segment base + this). */
  readonly address: bigint;
}

/** What earlier instructions of the program fixed or destroyed. */
export interface AddressingState {
  /** Initial values of registers already used for addressing (encoding number → value). */
  readonly pins: Map<number, bigint>;
  /** Registers some earlier instruction wrote: their initial value no longer holds. */
  readonly written: Set<number>;
  /** Registers only string instructions wrote (bounded drift: fine for string pointers, not for addressing). */
  readonly drifted: Set<number>;
  readonly segmentBases: { readonly fs: bigint; readonly gs: bigint; readonly es?: bigint };
}

/** Where accesses may land: [start, start + length). */
export interface ScratchWindow {
  readonly start: bigint;
  readonly length: number;
}

const M64 = (1n << 64n) - 1n;
/** The bounds of 8/16/32-bit signed displacements, made once (fitsSigned runs for every memory operand). */
const SIGNED_MIN: Record<number, bigint> = { 8: -0x80n, 16: -0x8000n, 32: -0x80000000n };
const SIGNED_END: Record<number, bigint> = { 8: 0x80n, 16: 0x8000n, 32: 0x80000000n };
const fitsSigned = (v: bigint, bits: 8 | 16 | 32): boolean => v >= SIGNED_MIN[bits]! && v < SIGNED_END[bits]!;

type Disp = [0 | 8 | 32, bigint];
const dispGen: Gen<Disp> = G.oneof<Disp>(
  G.constant<Disp>([0, 0n]),
  G.constantFrom<Disp>([8, 0n], [8, 1n], [8, -1n], [8, 0x7fn], [8, -0x80n]),
  G.integer({ min: -0x80, max: 0x7f }).map((d): Disp => [8, BigInt(d)]),
  G.constantFrom<Disp>([32, 0n], [32, 0x7fffffffn], [32, -0x80000000n], [32, 0x80n], [32, -0x81n]),
  G.integer().map((d): Disp => [32, BigInt(d)]),
);

/** Preferences for one memory operand (resolved against the program state later). */
export const MEMORY_OPERAND_GEN: Gen<MemoryOperandChoice> = G
  .record({
    form: G.constantFrom<AddressForm>('rip', 'rip', 'absolute', 'base', 'base', 'index', 'base-index', 'base-index', 'base-index'),
    base: G.integer({ min: 0, max: 15 }),
    index: G.integer({ min: 0, max: 14 }).map((i) => (i >= 4 ? i + 1 : i)),
    scale: G.constantFrom<Scale>(1, 2, 4, 8),
    disp: dispGen,
    addressSize: G.constantFrom<64 | 32>(64, 64, 64, 64, 32),
    segment: G.constantFrom<SegmentOverride | 'none'>('none', 'none', 'none', 'none', 'none', 'fs', 'gs'),
    targetFraction: G.oneof(G.constantFrom(0, 1, 0.5), G.double({ min: 0, max: 1, noNaN: true })),
    // small indexes, and any 64-bit value: the base is computed from it, so base + index*scale + disp
    // wraps around 2^64 (or 2^32 with 0x67) to land in the window, which is as safe and is where
    // address arithmetic done without wrapping goes wrong
    indexValue: G.oneof(
      G.constantFrom(0n, 1n, -1n, 0x10n),
      G.bigInt({ min: -0x400n, max: 0x400n }),
      G.constantFrom(0x8000000000000000n, 0x7fffffffffffffffn, 0x4000000000000000n, 0xffffffff80000000n, 0x80000000n),
      G.bigInt({ min: 0n, max: M64 }),
    ),
    upperBits: G.oneof(G.constant(0n), G.bigInt({ min: 0n, max: 0xffffffffn })),
  })
  // spelled out in the same key order (rest/spread cost a tenth of drawing a memory operand)
  .map((c): MemoryOperandChoice => ({
    form: c.form, base: c.base, index: c.index, scale: c.scale, addressSize: c.addressSize, segment: c.segment,
    targetFraction: c.targetFraction, indexValue: c.indexValue, upperBits: c.upperBits, dispWidth: c.disp[0], disp: c.disp[1],
  }));

/** Preferences for one memory operand (resolved against the program state later). */
export function memoryOperandArbitrary(): fc.Arbitrary<MemoryOperandChoice> {
  return MEMORY_OPERAND_GEN.arb;
}

export interface ResolveOptions {
  /** Bytes accessed from the address (operand size, or more for XLAT-style tables). */
  readonly span: number;
  readonly noRex: boolean;
  readonly window: ScratchWindow;
  /** [disp32] without base or index: keystone turns it into RIP-relative, so only raw mode has it. */
  readonly absoluteAllowed: boolean;
  /** Round the target down to a multiple of this from the window's start (16-aligned). */
  readonly align?: number;
  /** 32-bit code: every address is 32 bits, [disp32] is absolute and the fallback (there is no RIP-relative form). */
  readonly legacy?: boolean;
  /** Then move it this many bytes up (when the window has room): a misaligned operand on purpose. */
  readonly misalign?: number;
}

export interface ResolvedMemoryOperand {
  readonly operand: MemoryOperand;
  /** Initial register values this operand needs (already consistent with the state's pins). */
  readonly pins: ReadonlyArray<readonly [number, bigint]>;
}

/** The address an operand's choice aims at, inside the window. */
export function targetAddress(choice: MemoryOperandChoice, o: ResolveOptions): bigint {
  const room = Math.max(0, o.window.length - o.span);
  const offset = Math.min(room, Math.floor(choice.targetFraction * (room + 1)));
  const aligned = offset - (offset % (o.align ?? 1));
  const moved = o.misalign && aligned + o.misalign <= room ? aligned + o.misalign : aligned;
  return o.window.start + BigInt(moved);
}

/**
 * For instructions that compute an address without accessing it (LEA, the hint NOPs, PREFETCHW):
 * the registers and displacement exactly as drawn, nothing pinned, so the address is whatever the
 * registers hold, wrapping at 64 or (0x67) 32 bits, canonical or not: no value is unsafe. Only
 * the encoding rules hold (no index 4, registers 0–7 without REX). RIP-relative and [disp32]
 * forms name the window as usual.
 */
export function unaccessedMemoryOperand(choice: MemoryOperandChoice, state: AddressingState, o: ResolveOptions): ResolvedMemoryOperand {
  if (choice.form === 'rip' || (choice.form === 'absolute' && o.absoluteAllowed)) return resolveMemoryOperand(choice, state, o);
  const form = choice.form === 'absolute' ? 'base-index' : choice.form;
  const segment = choice.segment === 'none' ? undefined : choice.segment;
  const limit = o.noRex ? 8 : 16;
  const base = form === 'index' ? undefined : choice.base % limit;
  let index = form === 'base' ? undefined : choice.index % limit;
  if (index === 4) index = form === 'index' ? 0 : undefined; // 100b means no index
  const disp = BigInt.asIntN(32, choice.disp);
  const dispWidth = base === undefined || (choice.dispWidth === 8 && !fitsSigned(disp, 8)) || (choice.dispWidth === 0 && disp !== 0n) ? 32 : choice.dispWidth;
  const scale = index === undefined ? 1 : choice.scale;
  return { operand: { form: index === undefined && form === 'base-index' ? 'base' : form, segment, base, index, scale, disp, dispWidth, addressSize: choice.addressSize, address: 0n }, pins: [] };
}

/**
 * Compute a memory operand for `choice` that reaches its target given `state`. Registers that were
 * written earlier are not used; pinned registers keep their value (the displacement adapts); when
 * the preferred registers cannot work, other free registers are tried, then RIP-relative.
 */
const INDEX_ORDER = [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

export function resolveMemoryOperand(wanted: MemoryOperandChoice, state: AddressingState, o: ResolveOptions): ResolvedMemoryOperand {
  const choice: MemoryOperandChoice = wanted.form === 'absolute' && !o.absoluteAllowed ? { ...wanted, form: 'index' } : wanted;
  const target = targetAddress(choice, o);
  const segment = choice.segment === 'none' ? undefined : choice.segment;
  const segBase = segment ? state.segmentBases[segment] ?? 0n : 0n;
  // keystone text cannot ask for 32-bit addressing without a register: [disp32] and RIP stay 64-bit
  const bits = o.legacy ? 32 : choice.form === 'absolute' || choice.form === 'rip' ? 64 : choice.addressSize === 64 ? 64 : 32;
  const ea = BigInt.asUintN(bits, target - segBase);
  const limit = o.noRex ? 8 : 16;
  if (choice.form !== 'rip') {
    if (choice.form === 'absolute') {
      const r = build(choice, bits, ea, segment, target, undefined, undefined, state);
      if (r) return r;
    }
    // every base with the chosen index, then the chosen base with every other index (not RSP)
    for (let t = 0; t < 30; t++) {
      const b = t < 16 ? (choice.base + t) % 16 : choice.base;
      const x = t < 16 ? choice.index : INDEX_ORDER[(t - 15 + choice.index) % 15]!;
      const base = choice.form === 'index' ? undefined : b;
      const index = choice.form === 'base' ? undefined : x;
      if ((base !== undefined && !usable(state, limit, base)) || (index !== undefined && (!usable(state, limit, index) || index === 4))) continue;
      const r = build(choice, bits, ea, segment, target, base, index, state);
      if (r) return r;
      if (choice.form === 'absolute') break;
    }
  }
  if (o.legacy) return { operand: { form: 'absolute', segment, scale: 1, disp: BigInt.asIntN(32, ea), dispWidth: 32, addressSize: 32, address: ea }, pins: [] };
  return { operand: { form: 'rip', segment, scale: 1, disp: 0n, dispWidth: 32, addressSize: 64, address: BigInt.asUintN(64, target - segBase) }, pins: [] };
}

/** Whether `r` can address: encodable (`limit`: 8 without REX) and still holding its initial value. */
function usable(state: AddressingState, limit: number, r: number): boolean {
  return r < limit && !state.written.has(r) && !state.drifted.has(r);
}

/** The initial value of a register this operand pins: `v` in the address width, with the drawn upper half under 32-bit addressing. */
function freshValue(c: MemoryOperandChoice, bits: 64 | 32, v: bigint): bigint {
  return bits === 32 ? (c.upperBits << 32n) | (v & 0xffffffffn) : v & M64;
}

function build(
  c: MemoryOperandChoice, bits: 64 | 32, ea: bigint, segment: SegmentOverride | undefined, target: bigint,
  base: number | undefined, index: number | undefined, state: AddressingState,
): ResolvedMemoryOperand | undefined {
  const mask = bits === 64 ? M64 : 0xffffffffn;
  const scale = index === undefined ? 1 : c.scale;
  const pins: Array<[number, bigint]> = [];
  let disp = c.disp;
  const vIndex = (index === undefined ? undefined : state.pins.get(index)) ?? (index !== undefined ? freshValue(c, bits, c.indexValue) : 0n);
  if (index !== undefined && !state.pins.has(index)) pins.push([index, vIndex]);
  if (base !== undefined && base === index) {
    const k = BigInt(scale + 1);
    const v = state.pins.get(base) ?? freshValue(c, bits, ((ea - disp) & mask) / k);
    if (!state.pins.has(base)) pins.splice(0, pins.length, [base, v]);
    disp = BigInt.asIntN(bits, ea - (v & mask) * k);
  } else if (base !== undefined && !state.pins.has(base)) {
    pins.push([base, freshValue(c, bits, ea - vIndex * BigInt(scale) - disp)]);
  } else {
    const vBase = (base === undefined ? undefined : state.pins.get(base)) ?? 0n;
    disp = BigInt.asIntN(bits, ea - vBase - vIndex * BigInt(scale));
  }
  let dispWidth = c.dispWidth;
  if (base === undefined) dispWidth = 32; // no base: always disp32
  else if (dispWidth === 0 && disp !== 0n) dispWidth = fitsSigned(disp, 8) ? 8 : 32;
  else if (dispWidth === 8 && !fitsSigned(disp, 8)) dispWidth = 32;
  if (!fitsSigned(disp, 32)) return undefined;
  if (bits === 64 && base === undefined && index === undefined && !fitsSigned(BigInt.asIntN(64, ea), 32)) return undefined;
  const segBase = segment ? state.segmentBases[segment] ?? 0n : 0n;
  return { operand: { form: c.form, segment, base, index, scale: scale as Scale, disp, dispWidth, addressSize: bits, address: BigInt.asUintN(64, target - segBase) }, pins };
}

/** The effective linear address of `m` given initial register values (for checks and tests). */
export function effectiveAddress(m: MemoryOperand, regs: (num: number) => bigint, segmentBases: AddressingState['segmentBases'], nextIp: bigint): bigint {
  const segBase = m.segment ? segmentBases[m.segment] ?? 0n : 0n;
  if (m.form === 'rip') return BigInt.asUintN(64, segBase + nextIp + m.disp);
  const mask = m.addressSize === 64 ? M64 : m.addressSize === 32 ? 0xffffffffn : 0xffffn;
  let ea = m.disp;
  if (m.base !== undefined) ea += regs(m.base) & mask;
  if (m.index !== undefined) ea += (regs(m.index) & mask) * BigInt(m.scale);
  return BigInt.asUintN(64, segBase + (ea & mask));
}

const SIZE_WORDS: Record<number, string> = { 1: 'byte', 2: 'word', 4: 'dword', 8: 'qword', 10: 'tbyte', 16: 'xmmword' };

/** Intel text: `qword ptr fs:[r13 + r12*4 - 0x8]`. `ripDisp` supplies the RIP displacement. */
export function formatMemoryOperand(m: MemoryOperand, size: number | undefined, ripDisp: bigint = m.disp): string {
  const width: OperandWidth = m.addressSize === 64 ? 8 : m.addressSize === 32 ? 4 : 2;
  let inner = m.form === 'rip' ? 'rip' : '';
  if (m.base !== undefined) inner += (inner === '' ? '' : ' + ') + registerName(m.base, width);
  // 16-bit addressing has no scale (keystone reads `di*1` as DI all the same)
  if (m.index !== undefined) inner += (inner === '' ? '' : ' + ') + registerName(m.index, width) + (m.addressSize === 16 ? '' : `*${m.scale}`);
  const d = m.form === 'rip' ? ripDisp : m.disp;
  if (inner === '') inner = `0x${BigInt.asUintN(m.addressSize, d).toString(16)}`;
  else if (d !== 0n || m.dispWidth !== 0) inner += d < 0n ? ` - 0x${(-d).toString(16)}` : ` + 0x${d.toString(16)}`;
  const seg = m.segment ? `${m.segment}:` : '';
  return size !== undefined ? `${SIZE_WORDS[size]} ptr ${seg}[${inner}]` : `${seg}[${inner}]`;
}
