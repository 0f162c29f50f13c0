/**
 * Memory operands of 16-bit real-mode code (the real16 family, contracts/test-machine-16.ts): the
 * eight 16-bit ModRM forms (SDM Vol. 2 Table 2-1: [BX|BP + SI|DI], [SI], [DI], [BX], [BP], [disp16],
 * with no/8/16-bit displacement), and now and then 32-bit addressing (0x67) with its SIB forms. An
 * offset is 16 bits and the linear address is segment base + offset, so the target in the scratch
 * window is reached through a segment whose base lies at most 64 KiB below it: DS (default),
 * FS/GS when the case's bases allow it. BP/EBP/ESP-based forms default to SS, whose base is the
 * stack page's: those get an ES override (ES = DS on this machine; keystone drops a DS override
 * as redundant even where the default is SS). The upper halves of 16-bit address registers are
 * random: a target that adds them is wrong.
 */
import { resolveMemoryOperand, targetAddress, type AddressingState, type MemoryOperand, type MemoryOperandChoice, type ResolvedMemoryOperand, type ResolveOptions, type SegmentOverride } from './memory-operand.js';

const BX = 3;
const SP = 4;
const BP = 5;
const SI = 6;
const DI = 7;

type Pair = readonly [base: number | undefined, index: number | undefined];
/** Register pairs of the 16-bit forms, by the 64-bit generator's form names. */
const PAIRS: Record<'base' | 'index' | 'base-index', readonly Pair[]> = {
  'base-index': [[BX, SI], [BX, DI], [BP, SI], [BP, DI]],
  base: [[BX, undefined], [BP, undefined]],
  index: [[undefined, SI], [undefined, DI]],
};
const ALL_PAIRS: readonly Pair[] = [...PAIRS['base-index'], ...PAIRS.base, ...PAIRS.index];

/** The segments of the real-mode machine as the generator sees them. */
export interface RealSegments {
  /** Linear base of DS (the default segment), ES, FS and GS. */
  readonly ds: bigint;
  readonly es: bigint;
  readonly fs: bigint;
  readonly gs: bigint;
  /** Segments an earlier instruction loaded (MOV Sreg, POP Sreg, LES…): their base is unknown from then on. */
  readonly loaded: Set<SegmentOverride>;
}

/** The bounds of 8/16/32-bit signed displacements, made once (fitsSigned runs for every memory operand). */
const SIGNED_MIN: Record<number, bigint> = { 8: -0x80n, 16: -0x8000n, 32: -0x80000000n };
const SIGNED_END: Record<number, bigint> = { 8: 0x80n, 16: 0x8000n, 32: 0x80000000n };
const fitsSigned = (v: bigint, bits: 8 | 16 | 32): boolean => v >= SIGNED_MIN[bits]! && v < SIGNED_END[bits]!;

/** Linear base of an override, or of DS without one. */
export const realBase = (r: RealSegments, segment: SegmentOverride | undefined): bigint => (segment ? r[segment] : r.ds);

/** The override a choice keeps: none when its segment was loaded by the program (its base is then unknown). */
function usableOverride(choice: MemoryOperandChoice, r: RealSegments): SegmentOverride | undefined {
  const s = choice.segment === 'none' ? undefined : choice.segment;
  return s && !r.loaded.has(s) ? s : undefined;
}

/** Resolve a memory operand of real-mode code so its access lands at the choice's target; see resolveMemoryOperand. */
export function resolveRealMemoryOperand(choice: MemoryOperandChoice, state: AddressingState, o: ResolveOptions, r: RealSegments): ResolvedMemoryOperand {
  const target = targetAddress(choice, o);
  const wanted = usableOverride(choice, r);
  const segments = wanted ? [wanted, undefined] : [undefined];
  for (const seg of segments) {
    const offset = target - realBase(r, seg);
    // the whole access inside the segment's 64 KiB (a word at offset 0xffff is #GP/#SS, SDM Vol. 3 §20.1.1)
    if (offset < 0n || offset + BigInt(o.span) > 0x10000n) continue;
    const resolved = choice.addressSize === 32 ? resolve32(choice, state, o, seg, offset, r) : resolve16(choice, state, seg, offset, r);
    if (resolved) return resolved;
  }
  // DS always reaches the data page: [disp16]
  const offset = target - r.ds;
  return { operand: { form: 'absolute', scale: 1, disp: offset, dispWidth: 16, addressSize: 16, address: offset }, pins: [] };
}

/**
 * SS-default forms (BP/EBP/ESP base) point at the stack segment: send them through ES, whose base
 * is DS's; null when the program loaded ES (the form is then not usable without an override).
 */
function withSegment(base: number | undefined, seg: SegmentOverride | undefined, r: RealSegments): SegmentOverride | undefined | null {
  if (seg || (base !== BP && base !== SP)) return seg;
  return r.loaded.has('es') ? null : 'es';
}

function resolve16(choice: MemoryOperandChoice, state: AddressingState, seg: SegmentOverride | undefined, offset: bigint, r: RealSegments): ResolvedMemoryOperand | undefined {
  const usable = (n: number | undefined): boolean => n === undefined || (!state.written.has(n) && !state.drifted.has(n));
  const preferred = choice.form === 'rip' || choice.form === 'absolute' ? [] : PAIRS[choice.form];
  const start = choice.base % Math.max(1, preferred.length);
  const order = [...preferred.slice(start), ...preferred.slice(0, start), ...ALL_PAIRS];
  if (choice.form === 'absolute') return { operand: { form: 'absolute', segment: seg, scale: 1, disp: offset, dispWidth: 16, addressSize: 16, address: offset }, pins: [] };
  const fresh = (v: bigint): bigint => ((choice.upperBits & 0xffffn) << 16n) | (v & 0xffffn);
  let disp = BigInt.asIntN(16, choice.disp);
  for (const [base, index] of order) {
    const segment = withSegment(base, seg, r);
    if (!usable(base) || !usable(index) || segment === null) continue;
    const pins: Array<[number, bigint]> = [];
    const vIndex = index === undefined ? 0n : state.pins.get(index) ?? fresh(choice.indexValue);
    if (index !== undefined && !state.pins.has(index)) pins.push([index, vIndex]);
    let vBase = 0n;
    if (base !== undefined && !state.pins.has(base)) {
      vBase = fresh(offset - vIndex - disp);
      pins.push([base, vBase]);
    } else {
      vBase = base === undefined ? 0n : state.pins.get(base)!;
      disp = BigInt.asIntN(16, offset - (vBase & 0xffffn) - (vIndex & 0xffffn));
    }
    // [BP] has no mod-00 form (that encoding is [disp16]): keystone adds a zero disp8
    let dispWidth: 0 | 8 | 16 = choice.dispWidth === 0 ? 0 : choice.dispWidth === 8 ? 8 : 16;
    if (dispWidth === 0 && disp !== 0n) dispWidth = fitsSigned(disp, 8) ? 8 : 16;
    if (dispWidth === 8 && !fitsSigned(disp, 8)) dispWidth = 16;
    const form = base !== undefined && index !== undefined ? 'base-index' : 'base';
    const reg = base ?? index;
    const operand: MemoryOperand = {
      form, segment, base: reg, index: base !== undefined ? index : undefined, scale: 1,
      disp, dispWidth, addressSize: 16, address: offset,
    };
    return { operand, pins };
  }
  return undefined;
}

/** 0x67: the 32-bit resolver aimed at the offset (a flat segment of base 0), the segment put back afterwards. */
function resolve32(choice: MemoryOperandChoice, state: AddressingState, o: ResolveOptions, seg: SegmentOverride | undefined, offset: bigint, r: RealSegments): ResolvedMemoryOperand | undefined {
  // keystone's 16-bit mode drops the register of an index-only [reg*1 + disp32]: a base instead
  const flat = { ...choice, form: choice.form === 'index' ? ('base' as const) : choice.form, segment: 'none' as const, targetFraction: 0 };
  const window = { start: offset, length: o.span };
  const resolved = resolveMemoryOperand(flat, { ...state, segmentBases: { fs: 0n, gs: 0n, es: 0n } }, { ...o, window, legacy: true, align: 1, misalign: undefined });
  const m = resolved.operand;
  const segment = withSegment(m.base, seg, r);
  if (m.form === 'absolute' || segment === null) return undefined; // the 16-bit [disp16] is the fallback
  return { operand: { ...m, segment, address: offset }, pins: resolved.pins };
}
