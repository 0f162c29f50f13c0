/**
 * One generated instruction: a row's random choices resolved against what the program so far has
 * fixed (address registers pinned to initial values, registers already overwritten), then spelled
 * as keystone Intel text. Resolution keeps every memory access safe — inside memory the case
 * initialises and compares — and otherwise as unconstrained as that allows, so the semantics
 * behind each pin are exercised too: explicit memory operands (memory-operand.ts; LEA and the
 * hint NOPs access nothing and pin nothing), string pointers RSI/RDI and REP counts (pages
 * around the window), XLAT's RBX, BT's bit offset (any unit of the window, below or beyond the
 * operand), RBP for ENTER/LEAVE, CMPXCHG16B's alignment. An instruction that cannot be made
 * safe is dropped.
 */
import { Kind } from '../../emulator/isa/operand-forms.js';
import type { IsaRow } from '../../emulator/isa/row.js';
import { formatImmediate, type ImmediateBits } from './immediates.js';
import { formatMemoryOperand, resolveMemoryOperand, unaccessedMemoryOperand, type AddressingState, type MemoryOperand, type ScratchWindow } from './memory-operand.js';
import { LAYOUT } from '../../contracts/test-machine.js';
import type { InstructionChoice, X87RegisterOperand } from './operands.js';
import { operandIsWritten } from './operands.js';
import type { PrefixChoice } from './prefixes.js';
import { registerName, type RegisterOperand, type SimdRegister } from './registers.js';
import { canonicalRegister, type SrcInstruction, type SrcOperand } from '../asm/operands.js';
import { textMnemonic } from './row-catalog.js';
import { realBase, resolveRealMemoryOperand, type RealSegments } from './memory-operand-16.js';

export type GeneratedOperand =
  | { readonly kind: 'reg'; readonly reg: RegisterOperand }
  | { readonly kind: 'simd'; readonly reg: SimdRegister }
  | { readonly kind: 'mem'; readonly mem: MemoryOperand; readonly size?: number }
  | { readonly kind: 'imm'; readonly value: bigint; readonly bits: ImmediateBits }
  | { readonly kind: 'sreg'; readonly num: number }
  | X87RegisterOperand
  | { readonly kind: 'one' }
  | { readonly kind: 'implicit' }
  /** The direct far pointer of JMPF/CALLF in real16 code: CS's own selector, the offset the next instruction's IP (filled in from the layout, like a RIP displacement). */
  | { readonly kind: 'far'; readonly selector: bigint };

export interface GeneratedInstruction {
  readonly rowId: number;
  readonly row: IsaRow;
  readonly opSize: 2 | 4 | 8;
  readonly noRex: boolean;
  readonly operands: readonly GeneratedOperand[];
  readonly prefixes: PrefixChoice;
  /** 32-bit code (the protected32 family): string pointers are ESI/EDI. */
  readonly legacy?: boolean;
  /** 16-bit real-mode code (the real16 family): string pointers are SI/DI. */
  readonly real?: boolean;
}

export interface Interval {
  readonly lo: bigint;
  readonly hi: bigint;
}

/** Program-wide state the resolution reads and updates. */
export interface ProgramState extends AddressingState {
  readonly window: ScratchWindow;
  /** Raw mode: [disp32] operands allowed (keystone makes them RIP-relative). */
  readonly absoluteAllowed: boolean;
  /** The values RSI / RDI may hold by now, once a string instruction has used them (it moves them). */
  readonly stringPointers: Map<number, Interval>;
  /** Every byte string instructions may touch, [lo, hi): the case initialises and compares it too. */
  stringRegion: Interval | undefined;
  /** REP iterations the program may run: each is a step, so the case's step budget grows by them. */
  repIterations: number;
  /** RBP holds the frame pointer an ENTER made (a LEAVE then needs no pin). */
  framePointer: boolean;
  /** 32-bit code: 32-bit addresses and stack slots (the protected32 family); also set for real16. */
  readonly legacy?: boolean;
  /**
   * 16-bit real-mode code (the real16 family): memory operands are offsets in their segment
   * (memory-operand-16.ts), string pointers and XLAT's BX offsets in DS/ES, SP and BP in SS.
   */
  readonly real?: RealSegments;
}

/** CS of real16 programs (contracts/test-machine-16.ts): JMPF/CALLF reload it. */
const REAL_CODE_SELECTOR = 0x1000;

/** Linear base of SS in real16 programs: SP and BP values are offsets from it. */
export const REAL_STACK_BASE = 0x8000n;

/**
 * The stack bytes a case zeroes and compares: 1 KiB around the initial RSP, 0x300 below it for
 * pushes and ENTER frames, 0x100 above it for pops. Every reset writes this window and every
 * comparison reads it over gdb, so it is kept to what generated programs can touch (no CALL/RET
 * or RSP arithmetic is generated): the whole page cost 2–3 extra packets per case.
 */
export const STACK_WINDOW = { below: 0x300n, length: 0x400 } as const;

/**
 * How far string instructions may carry their pointers beyond the window: a page on either side,
 * so a REP whose pointer starts within its length of a page boundary crosses it. Never into the
 * case's code page (its code and the batch runner's stop at +0xff0) nor past the last mapped page.
 */
const STRING_REACH = 0x1000n;
/**
 * Most iterations of one REP. Each is a step of the step-mode lockstep (~7k steps/s over gdb;
 * divergent cases and their minimization run there): 0x400 keeps a case under ~0.2 s while a
 * byte run still crosses a page from anywhere in its last KiB, a qword run from its last 8 KiB.
 */
export const MAX_REP_COUNT = 0x400;

export const RCX = 1;
export const RBX = 3;
export const RSP = 4;
export const RBP = 5;
export const RSI = 6;
export const RDI = 7;
const SREG = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];
/** The segments real16 programs load, by Sreg number (DS, SS and CS are never loaded: every access needs them). */
const LOADABLE_SEGMENTS: Partial<Record<number, 'es' | 'fs' | 'gs'>> = { 0: 'es', 4: 'fs', 5: 'gs' };

/** The full register an operand writes (AH → RAX). */
export function registerNumber(r: RegisterOperand): number {
  return r.high ? r.num - 4 : r.num;
}

/** The FXSAVE/FXRSTOR area. */
const FXSAVE_AREA = 512;

/**
 * Bytes of the x87 memory forms without a size letter (forms 'M'): m80 reals and BCD, and the
 * 64-bit-mode images with a 32-bit operand size (SDM Vol. 1 §8.1.10, Figures 8-9 and 8-11).
 */
const X87_UNSIZED: Record<string, number> = { FLD: 10, FSTP: 10, FBLD: 10, FBSTP: 10, FLDENV: 28, FNSTENV: 28, FRSTOR: 108, FNSAVE: 108 };

function memorySpan(inst: InstructionChoice, size: number | undefined): number {
  if (inst.row.handler === 'cmpxchg8b') return inst.opSize === 8 ? 16 : 8;
  if (inst.row.handler === 'fxsave') return FXSAVE_AREA;
  // LES/LFS/LGS…: the offset (operand size) and the selector after it
  if (inst.row.handler === 'load_far_pointer') return inst.opSize + 2;
  if (inst.row.handler === 'x87' && inst.row.forms === 'M') return X87_UNSIZED[inst.row.mnemonic] ?? 1;
  if (inst.row.handler === 'lar' || inst.row.handler === 'lsl') return 2; // a selector, spelled without a size (operands.ts)
  return size ?? 1;
}

/** The size keystone spells for an x87 memory operand: its letter, `tbyte` for m80/BCD, none for an environment image. */
function x87OperandSize(row: IsaRow, span: number): number | undefined {
  if (row.forms !== 'M') return span;
  return span === 10 ? 10 : undefined;
}

/** Rows whose memory operand must be 16-byte aligned (#GP(0) otherwise): drawn aligned but now and then. */
function wantsAlignment(row: IsaRow, span: number): boolean {
  return row.align16 || (row.handler === 'cmpxchg8b' && span === 16) || row.handler === 'fxsave';
}

/** Pins set while resolving one instruction, with what they replaced, to undo them if it fails. */
type PinUndo = Array<[number, bigint | undefined]>;

function setPin(s: ProgramState, undo: PinUndo, reg: number, value: bigint): void {
  undo.push([reg, s.pins.get(reg)]);
  s.pins.set(reg, value);
}

/** Undo the pins of an instruction that cannot be resolved (always undefined, for `return undoPins(…)`). */
function undoPins(s: ProgramState, undo: PinUndo): undefined {
  for (let k = undo.length - 1; k >= 0; k--) {
    const [reg, before] = undo[k]!;
    if (before === undefined) s.pins.delete(reg);
    else s.pins.set(reg, before);
  }
  return undefined;
}

/** Pin `reg` to `value` unless it is already pinned or written; false when it cannot hold `ok` values. */
function pinPointer(s: ProgramState, undo: PinUndo, reg: number, value: bigint, ok: (v: bigint) => boolean, allowDrifted: boolean): boolean {
  if (s.drifted.has(reg)) return allowDrifted;
  if (s.written.has(reg)) return false;
  const pinned = s.pins.get(reg);
  if (pinned !== undefined) return ok(pinned);
  setPin(s, undo, reg, value);
  return true;
}

const inWindow = (s: ProgramState, room: number) => (v: bigint): boolean =>
  v >= s.window.start && v + BigInt(room) <= s.window.start + BigInt(s.window.length);

/** A point of [lo, hi] at `fraction` of the way. */
function between(lo: bigint, hi: bigint, fraction: number): bigint {
  if (hi <= lo) return lo;
  const span = hi - lo;
  // doubles cover spans up to 2^53 exactly; ours are below 2^20
  return lo + BigInt(Math.min(Number(span), Math.floor(fraction * (Number(span) + 1))));
}

function stringSpan(s: ProgramState): Interval {
  const lo = s.window.start - STRING_REACH;
  const hi = s.window.start + BigInt(s.window.length) + STRING_REACH;
  // real mode: SI/DI are offsets in DS/ES (one base, the data page's): never past the segment's 64 KiB
  if (s.real) return { lo: lo < s.real.ds ? s.real.ds : lo, hi: hi > s.real.ds + 0x10000n ? s.real.ds + 0x10000n : hi };
  const codePageEnd = LAYOUT.code + 0x1000n;
  return { lo: lo < codePageEnd ? codePageEnd : lo, hi: hi > LAYOUT.unmapped ? LAYOUT.unmapped : hi };
}

// real mode: SI/DI/BX hold 16-bit offsets in DS/ES (one base), SP/BP in SS; the bookkeeping stays linear
function toLinear(s: ProgramState, v: bigint): bigint {
  return s.real ? (v & 0xffffn) + s.real.ds : v;
}
function fromLinear(s: ProgramState, a: bigint): bigint {
  return s.real ? a - s.real.ds : a;
}

const floorDiv = (a: bigint, b: bigint): bigint => (a >= 0n ? a / b : -((-a + b - 1n) / b));

const X_OPERAND = 1;
const Y_OPERAND = 2;
const SREG_OPERAND = 4;
const BYTE_OPERAND = 8;
/** Which operand kinds a row has (the flags above), by row id: asked several times per generated instruction. */
function rowShape(row: IsaRow): number {
  let v = ROW_SHAPE[row.id];
  if (v === undefined) {
    v = 0;
    for (const f of row.operands) v |= (f.kind === Kind.X ? X_OPERAND : 0) | (f.kind === Kind.Y ? Y_OPERAND : 0) | (f.kind === Kind.S ? SREG_OPERAND : 0) | (f.size === 1 ? BYTE_OPERAND : 0);
    ROW_SHAPE[row.id] = v;
  }
  return v;
}
const ROW_SHAPE: number[] = [];

/** Rows whose memory operand names an address without accessing it (SDM: no fault either). */
function accessesNothing(row: IsaRow): boolean {
  return row.handler === 'lea' || (row.handler === 'nop' && row.mnemonic !== 'CLFLUSH');
}

/**
 * Resolve one instruction against the program state (which it updates). Returns undefined when the
 * instruction would need a register that an earlier instruction has already overwritten.
 */
export function resolveInstruction(c: InstructionChoice, s: ProgramState, implicitWrites: readonly number[]): GeneratedInstruction | undefined {
  const row = c.row;
  let prefixes = c.prefixes;
  // JMPF/CALLF in real mode: to the next instruction through CS's own selector (the fragment goes on)
  if (s.real && (row.handler === 'jmpf_direct' || row.handler === 'callf_direct')) {
    for (const r of implicitWrites) s.written.add(r);
    return { rowId: row.id, row, opSize: c.opSize, noRex: true, operands: [{ kind: 'far', selector: BigInt(REAL_CODE_SELECTOR) }], prefixes: { ...prefixes, lock: false, rep: undefined }, legacy: true, real: true };
  }
  const operands: GeneratedOperand[] = [];
  // an undo log rather than a copy of the pins per instruction (most instructions do not fail)
  const undo: PinUndo = [];
  let hasMemory = false;
  for (let i = 0; i < c.operands.length; i++) {
    const o = c.operands[i]!;
    if (o.kind !== 'mem') {
      operands.push(o);
      continue;
    }
    hasMemory = true;
    const span = memorySpan(c, o.size);
    if (span > s.window.length) return undoPins(s, undo);
    // CMPXCHG16B, legacy SSE m128, FXSAVE: any 16-byte aligned operand of the window, and now and then a misaligned one (#GP(0))
    const align = wantsAlignment(row, span) && c.pointers.aligned ? 16 : 1;
    // SSE rows: misaligned in one draw in 32 (a quarter of the unaligned draws: QEMU 7.2 leaves 35
    // of them unchecked, a known divergence whose locating would otherwise take much of a timed
    // campaign), and then misaligned for sure: 16-aligned, then 1-15 bytes up (the target
    // fraction's 0/0.5/1 edges would mostly land aligned)
    const simdAligned = row.align16 || row.handler === 'fxsave';
    const misalign = simdAligned && !c.pointers.aligned && c.pointers.bitInUnit % 4 === 0 ? 1 + (c.pointers.bitInUnit % 15) : undefined;
    const options = {
      span, noRex: c.noRex, window: s.window, absoluteAllowed: s.absoluteAllowed || row.operands[i]?.kind === Kind.O,
      align: simdAligned ? 16 : align, misalign, legacy: s.legacy,
    };
    const r = s.real ? resolveRealMemoryOperand(o.choice, s, options, s.real)
      : accessesNothing(row) ? unaccessedMemoryOperand(o.choice, s, options) : resolveMemoryOperand(o.choice, s, options);
    for (const [reg, v] of r.pins) setPin(s, undo, reg, v);
    // keystone refuses a size on MMX PUNPCKLxx's m32 (and FXSAVE's m512)
    const unsized = row.handler === 'lea' || row.handler === 'fxsave' || (row.operands[i]?.kind === Kind.Q && o.size === 4);
    const size = rowShape(row) & SREG_OPERAND ? 2 : row.handler === 'cmpxchg8b' ? span
      : row.handler === 'x87' ? x87OperandSize(row, span)
      : unsized ? undefined : o.size ?? (row.forms === 'M' ? 1 : undefined);
    operands[i] = { kind: 'mem', mem: r.operand, size };
  }
  // BT/BTS/BTR/BTC with a memory operand and a register bit offset: the offset is signed and
  // reaches beyond the operand (the unit accessed is operand + opSize * floor(offset / bits)), so
  // any unit of the window is as safe as the operand itself: negative offsets, offsets past the
  // operand, and the operand's own bits. Bits above a 16/32-bit offset register are ignored.
  if (row.handler === 'bt' && hasMemory && operands[1]?.kind === 'reg' && operands[0]?.kind === 'mem') {
    const m = operands[0].mem;
    const segBase = s.real ? realBase(s.real, m.segment) : m.segment ? s.segmentBases[m.segment] ?? 0n : 0n;
    const target = m.address + segBase;
    const unit = BigInt(c.opSize);
    const bits = unit * 8n;
    const width = c.opSize * 8;
    // real mode: the unit's offset wraps at 64 KiB, so only the part of the window inside the segment
    const windowEnd = s.window.start + BigInt(s.window.length);
    const end = (s.real && segBase + 0x10000n < windowEnd ? segBase + 0x10000n : windowEnd) - unit;
    const start = s.real && segBase > s.window.start ? segBase : s.window.start;
    // units of the window relative to the operand, within what a signed width-bit offset can name
    const kLo = -floorDiv(target - start, unit);
    const kHi = floorDiv(end - target, unit);
    const reach = (1n << BigInt(width - 1)) / bits;
    const lo = kLo < -reach ? -reach : kLo;
    const hi = kHi > reach - 1n ? reach - 1n : kHi;
    const k = between(lo, hi, c.pointers.bitUnitFraction);
    const offset = BigInt.asUintN(width, k * bits + BigInt(c.pointers.bitInUnit % width));
    const value = c.opSize === 8 ? offset : offset | (BigInt.asUintN(64 - width, c.pointers.upperBits) << BigInt(width));
    const accessOk = (v: bigint): boolean => {
      const a = target + floorDiv(BigInt.asIntN(width, v), bits) * unit;
      return a >= start && a <= end;
    };
    if (!pinPointer(s, undo, registerNumber(operands[1].reg), value, accessOk, false)) return undoPins(s, undo);
  }
  // string instructions: RSI (X) / RDI (Y) start anywhere in the window, aligned or not; each
  // moves them by at most count * size either way (DF is not known here), and what they may reach
  // must stay inside stringSpan, which the case then initialises and compares
  const usesX = (rowShape(row) & X_OPERAND) !== 0;
  const usesY = (rowShape(row) & Y_OPERAND) !== 0;
  let stringUpdate: { readonly regs: number[]; readonly moved: bigint; readonly iterations: number } | undefined;
  // a destination in ES once the program loaded ES is anywhere
  if (usesY && s.real?.loaded.has('es')) return undoPins(s, undo);
  if (usesX || usesY) {
    const z = BigInt(rowShape(row) & BYTE_OPERAND ? 1 : c.opSize);
    const span = stringSpan(s);
    const ptr = (reg: number, fraction: number): Interval | undefined => {
      // a pointer an explicit operand overwrote since is anywhere: in 64-bit code that faults at the
      // unmapped page, in 32-bit code (no paging) it reads memory neither side initialised
      if (s.legacy && s.written.has(reg)) return undefined;
      const known = s.stringPointers.get(reg);
      if (known) return known;
      const fresh = between(s.window.start, s.window.start + BigInt(s.window.length) - z, fraction);
      if (!pinPointer(s, undo, reg, fromLinear(s, fresh), (v) => toLinear(s, v) >= span.lo && toLinear(s, v) + z <= span.hi, false)) return undefined;
      const v = toLinear(s, s.pins.get(reg)!);
      return { lo: v, hi: v };
    };
    const regs: number[] = [];
    const intervals: Interval[] = [];
    for (const [use, reg, fraction] of [[usesX, RSI, c.pointers.sourceFraction], [usesY, RDI, c.pointers.destinationFraction]] as const) {
      if (!use) continue;
      const iv = ptr(reg, fraction);
      if (!iv) return undoPins(s, undo);
      regs.push(reg);
      intervals.push(iv);
    }
    // the largest count n with [lo - n*z, hi + n*z) inside the span for every pointer
    let nMax = BigInt(MAX_REP_COUNT);
    for (const iv of intervals) {
      const down = (iv.lo - span.lo) / z;
      const up = (span.hi - iv.hi) / z;
      if (down < nMax) nMax = down;
      if (up < nMax) nMax = up;
    }
    let n = 1n;
    if (prefixes.rep) {
      // RCX: fresh, the drawn count; pinned (an earlier REP's count bounds what is left of it,
      // an address register's value is its value): used if it fits; written or unbounded: no REP
      const pinned = s.pins.get(RCX);
      const want = c.pointers.count < 0 || BigInt(c.pointers.count) > nMax ? nMax : BigInt(c.pointers.count);
      const count = s.written.has(RCX) ? undefined : pinned ?? (s.drifted.has(RCX) ? undefined : want);
      if (count !== undefined && count >= 0n && count <= nMax) {
        if (pinned === undefined) setPin(s, undo, RCX, count);
        n = count;
      } else prefixes = { ...prefixes, rep: undefined };
    }
    if (n > nMax) return undoPins(s, undo);
    stringUpdate = { regs, moved: n * z, iterations: prefixes.rep ? Number(n) : 0 };
  }
  // MASKMOVQ/MASKMOVDQU store to [RDI]: anywhere in the window with room for the operand
  if (row.handler === 'maskmov') {
    const room = row.operands[0]!.kind === Kind.P ? 8 : 16;
    const at = s.window.start + BigInt(Math.floor(c.pointers.destinationFraction * Math.max(0, s.window.length - room)));
    if (!pinPointer(s, undo, RDI, at, inWindow(s, room), false)) return undoPins(s, undo);
  }
  // XLAT reads [RBX + AL] for any AL (0–255, zero-extended): the whole table must be in the
  // window, so RBX ranges over [start, end - 256]: already the widest range AL allows
  if (row.handler === 'xlat' && !pinPointer(s, undo, RBX, fromLinear(s, s.window.start + BigInt(Math.floor(c.pointers.sourceFraction * Math.max(0, s.window.length - 256)))), (v) => inWindow(s, 256)(toLinear(s, v)), false)) return undoPins(s, undo);
  // ENTER with nesting level L >= 2 reads L-1 frame pointers below RBP; with L = 0 or 1 it only
  // pushes RBP, whatever it holds. LEAVE reads [RBP] and moves RSP there, unless RBP is an
  // ENTER's frame pointer. RBP ranges over the stack window up to the initial RSP, so later
  // pops stay inside it as without them.
  if (row.handler === 'enter' || (row.handler === 'leave' && !s.framePointer)) {
    const z = BigInt(c.opSize === 2 ? 2 : s.legacy ? 4 : 8);
    const level = row.handler === 'enter' && operands[1]?.kind === 'imm' ? operands[1].value & 31n : 1n;
    // real mode: SP and BP are offsets in SS (base REAL_STACK_BASE); linear here
    const sb = s.real ? REAL_STACK_BASE : 0n;
    const rsp0 = (s.pins.get(RSP) ?? LAYOUT.stackTop - sb) + sb;
    const lowest = rsp0 - STACK_WINDOW.below + (level > 1n ? z * (level - 1n) : 0n);
    const ok = (v: bigint): boolean => (s.real ? (v & 0xffffn) + sb : v) >= lowest && (s.real ? (v & 0xffffn) + sb : v) <= rsp0;
    if ((row.handler === 'leave' || level >= 2n) && !pinPointer(s, undo, RBP, between(lowest, rsp0, c.pointers.sourceFraction) - sb, ok, false)) return undoPins(s, undo);
  }
  // record what this instruction destroys
  let rbpWritten = false;
  for (let i = 0; i < operands.length; i++) {
    const o = operands[i]!;
    if (o.kind === 'reg' && (operandIsWritten(row, i) || row.operands[i]?.kind === Kind.Reg)) {
      s.written.add(registerNumber(o.reg));
      rbpWritten ||= registerNumber(o.reg) === RBP;
    }
  }
  for (const r of implicitWrites) {
    if ((usesX || usesY) && r === RCX && !prefixes.rep) continue; // the row's REP form writes RCX, this one does not
    if ((usesX || usesY) && (r === RSI || r === RDI || r === RCX)) s.drifted.add(r);
    else s.written.add(r);
    rbpWritten ||= r === RBP;
  }
  // a 16-bit ENTER sets only BP: the rest of RBP is whatever it was, no frame pointer
  if (row.handler === 'enter') s.framePointer = c.opSize === (s.legacy ? 4 : 8);
  else if (rbpWritten) s.framePointer = false;
  if (stringUpdate) {
    s.repIterations += stringUpdate.iterations;
    for (const reg of stringUpdate.regs) {
      const iv = s.stringPointers.get(reg) ?? { lo: toLinear(s, s.pins.get(reg)!), hi: toLinear(s, s.pins.get(reg)!) };
      const next = { lo: iv.lo - stringUpdate.moved, hi: iv.hi + stringUpdate.moved };
      s.stringPointers.set(reg, next);
      // [lo - n*z, hi + n*z) holds every byte either direction can touch (DF=0: [p, p + n*z);
      // DF=1: [p - (n-1)*z, p + z)), so it is also where the pointers can be left
      const r = s.stringRegion;
      s.stringRegion = r ? { lo: r.lo < next.lo ? r.lo : next.lo, hi: r.hi > next.hi ? r.hi : next.hi } : next;
    }
  }
  // a segment load (MOV Sreg, POP Sreg, LES/LFS/LGS) leaves that segment's base unknown to later operands
  if (s.real) {
    const loaded = row.handler === 'mov_to_sreg' ? (operands[0]?.kind === 'sreg' ? operands[0].num : undefined) : row.handler === 'pop_sreg' || row.handler === 'load_far_pointer' ? row.arg : undefined;
    const name = loaded === undefined ? undefined : LOADABLE_SEGMENTS[loaded];
    if (name) s.real.loaded.add(name);
  }
  if (hasMemory && prefixes.lock && !(row.operands[0]?.kind === Kind.E && operands[0]?.kind === 'mem')) prefixes = { ...prefixes, lock: false };
  if (!hasMemory && prefixes.lock) prefixes = { ...prefixes, lock: false };
  // one literal per mode rather than spreads (legacy and real are absent, not false, elsewhere)
  if (s.real) return { rowId: row.id, row, opSize: c.opSize, noRex: c.noRex, operands, prefixes, legacy: true, real: true };
  if (s.legacy) return { rowId: row.id, row, opSize: c.opSize, noRex: c.noRex, operands, prefixes, legacy: true };
  return { rowId: row.id, row, opSize: c.opSize, noRex: c.noRex, operands, prefixes };
}

/** `g`'s RIP-relative memory operand, if it has one. */
export function ripOperand(g: GeneratedInstruction): MemoryOperand | undefined {
  const o = g.operands.find((x) => x.kind === 'mem' && x.mem.form === 'rip');
  return o?.kind === 'mem' ? o.mem : undefined;
}

/** The displacement `g`'s RIP-relative operand needs to reach its target when `g` ends at `nextIp`; undefined when it has none. */
export function ripDisplacement(g: GeneratedInstruction, nextIp: bigint): bigint | undefined {
  // a far pointer's offset is the next instruction's IP (real16 code is laid out from IP 0)
  if (g.operands[0]?.kind === 'far') return nextIp;
  const m = ripOperand(g);
  return m === undefined ? undefined : m.address - nextIp;
}

/**
 * What the checked assembler's parser reads from `formatInstruction(g, ripDisp)`, built from `g`
 * directly: generated programs skip parsing their own text (program.spec.ts checks that the two
 * are equal on every generated line).
 */
export function sourceInstruction(g: GeneratedInstruction, ripDisp?: bigint): SrcInstruction {
  const prefixes: string[] = [];
  if (g.prefixes.lock) prefixes.push('lock');
  if (g.prefixes.rep) prefixes.push(g.prefixes.rep);
  const far = g.operands[0]?.kind === 'far' ? g.operands[0] : undefined;
  if (far) return { prefixes, mnemonic: FAR_MNEMONIC[g.row.handler]!, operands: [{ kind: 'far', selector: far.selector, offset: ripDisp ?? 0n }] };
  const mnemonic = g.row.forms === 'Zv,Iv' && g.opSize === 8 ? 'movabs' : textMnemonic(g.row, g.opSize);
  const isString = isStringRow(g.row);
  if (mnemonic === 'movsd' && isString) return { prefixes, mnemonic, operands: g.real ? [stringOperand('di'), stringOperand('si')] : g.legacy ? [stringOperand('edi'), stringOperand('esi')] : [stringOperand('rdi'), stringOperand('rsi')] };
  if (isString) return { prefixes, mnemonic, operands: [] };
  const operands: SrcOperand[] = [];
  for (const o of g.operands) {
    switch (o.kind) {
      case 'reg': case 'simd': operands.push({ kind: 'reg', reg: canonicalRegister(o.reg.name)! }); break;
      case 'x87': operands.push({ kind: 'reg', reg: o.reg }); break;
      case 'mem': operands.push(sourceMemoryOperand(o.mem, o.size, ripDisp ?? o.mem.disp)); break;
      case 'imm': operands.push({ kind: 'imm', value: o.value }); break;
      case 'sreg': operands.push({ kind: 'reg', reg: SREG[o.num]! }); break;
      case 'one': operands.push({ kind: 'imm', value: 1n }); break;
      case 'implicit': case 'far': break;
    }
  }
  return { prefixes, mnemonic, operands };
}

/** String instructions (an X or Y operand): spelled without operands. */
function isStringRow(row: IsaRow): boolean {
  return (rowShape(row) & (X_OPERAND | Y_OPERAND)) !== 0;
}

/** keystone's spelling of the direct far transfers. */
const FAR_MNEMONIC: Record<string, string> = { jmpf_direct: 'ljmp', callf_direct: 'lcall' };

const stringOperand = (base: string): SrcOperand => ({ kind: 'mem', size: 4, seg: undefined, base, index: undefined, scale: 1, disp: 0n });

/** formatMemoryOperand's text as parsed: no base or index is an unsigned absolute displacement. */
function sourceMemoryOperand(m: MemoryOperand, size: number | undefined, ripDisp: bigint): SrcOperand {
  const width = m.addressSize === 64 ? 8 : m.addressSize === 32 ? 4 : 2;
  const base = m.form === 'rip' ? 'rip' : m.base !== undefined ? canonicalRegister(registerName(m.base, width)) : undefined;
  const index = m.index !== undefined ? canonicalRegister(registerName(m.index, width)) : undefined;
  const d = m.form === 'rip' ? ripDisp : m.disp;
  const disp = base === undefined && index === undefined ? BigInt.asUintN(m.addressSize, d) : d;
  return { kind: 'mem', size, seg: m.segment, base, index, scale: index !== undefined ? m.scale : 1, disp };
}

/** Keystone Intel text for `g`. `ripDisp` gives the RIP displacement (computed from the layout). */
export function formatInstruction(g: GeneratedInstruction, ripDisp?: bigint): string {
  const far = g.operands[0]?.kind === 'far' ? g.operands[0] : undefined;
  if (far) return `${FAR_MNEMONIC[g.row.handler]} 0x${far.selector.toString(16)}:0x${(ripDisp ?? 0n).toString(16)}`;
  let text = g.prefixes.lock ? 'lock ' : '';
  if (g.prefixes.rep) text += g.prefixes.rep + ' ';
  const mnemonic = g.row.forms === 'Zv,Iv' && g.opSize === 8 ? 'movabs' : textMnemonic(g.row, g.opSize);
  text += mnemonic;
  // a string instruction is spelled bare; keystone reads a bare `movsd` as the SSE instruction, so
  // that one takes the explicit-operand spelling
  if (isStringRow(g.row)) {
    return mnemonic === 'movsd' ? text + (g.real ? ' dword ptr es:[di], dword ptr [si]' : g.legacy ? ' dword ptr [edi], dword ptr [esi]' : ' dword ptr [rdi], dword ptr [rsi]') : text;
  }
  let count = 0;
  for (const o of g.operands) {
    let op: string;
    switch (o.kind) {
      case 'reg': case 'simd': op = o.reg.name; break;
      case 'x87': op = o.text; break;
      case 'mem': op = formatMemoryOperand(o.mem, o.size, ripDisp); break;
      case 'imm': op = formatImmediate(o.value); break;
      case 'sreg': op = SREG[o.num]!; break;
      case 'one': op = '1'; break;
      case 'implicit': case 'far': continue;
    }
    text += (count++ === 0 ? ' ' : ', ') + op;
  }
  return text;
}
