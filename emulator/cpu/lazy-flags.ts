import { AF, CF, OF, PARITY, PF, SF, ZF } from '../isa/flags.js';

/**
 * Lazy flags (QEMU's CC_OP idea): the last flag-setting operation keeps its kind, size,
 * result and operands; the six status flags are computed only when something reads them.
 * Values are unsigned 32-bit halves; for sizes below 8 only `lo` is used (already masked).
 */
export const enum CC {
  Eager = 0, // status flags are in `eager`
  Add, // res = a + b
  Adc, // res = a + b + cin
  Sub, // res = a - b
  Sbb, // res = a - b - cin
  Logic, // CF = OF = AF = 0
  Inc, // b = 1; CF preserved in cin
  Dec,
  Shl, // a = value shifted by count-1: CF = its top bit; OF = top bit of (a ^ res); AF = 0 (QEMU)
  Sar, // a = value shifted by count-1: CF = its bit 0; OF = top bit of (a ^ res); AF = 0 (QEMU, also SHR)
  Mul, // a = non-zero when the high half is significant: CF = OF = (a != 0); AF = 0 (QEMU)
}

export class LazyFlags {
  op: CC = CC.Eager;
  size = 4;
  res = 0;
  resHi = 0;
  a = 0;
  aHi = 0;
  b = 0;
  bHi = 0;
  /** Carry-in for ADC/SBB, saved CF for INC/DEC. */
  cin = 0;
  /** Status flags when op is Eager. */
  eager = 0;
}

function msb(size: number, lo: number, hi: number): number {
  return size === 8 ? hi >>> 31 : (lo >>> (size * 8 - 1)) & 1;
}

/** Unsigned less-than on (lo, hi) pairs. */
function ltu(alo: number, ahi: number, blo: number, bhi: number): boolean {
  return ahi !== bhi ? ahi >>> 0 < bhi >>> 0 : alo >>> 0 < blo >>> 0;
}

export function computeArith(f: LazyFlags): number {
  const op = f.op;
  if (op === CC.Eager) return f.eager;
  const s = f.size;
  const r = f.res;
  const rh = f.resHi;
  let out = PARITY[r & 0xff]!;
  if (s === 8 ? (r | rh) === 0 : r === 0) out |= ZF;
  if (msb(s, r, rh)) out |= SF;
  const a = f.a;
  const ah = f.aHi;
  const b = f.b;
  const bh = f.bHi;
  switch (op) {
    case CC.Add:
    case CC.Adc: {
      const carry = f.cin && op === CC.Adc ? !ltu(a, ah, r, rh) : ltu(r, rh, a, ah);
      if (carry) out |= CF;
      if (msb(s, (a ^ r) & (b ^ r), (ah ^ rh) & (bh ^ rh))) out |= OF;
      out |= (a ^ b ^ r) & AF;
      break;
    }
    case CC.Sub:
    case CC.Sbb: {
      const borrow = f.cin && op === CC.Sbb ? !ltu(b, bh, a, ah) : ltu(a, ah, b, bh);
      if (borrow) out |= CF;
      if (msb(s, (a ^ b) & (a ^ r), (ah ^ bh) & (ah ^ rh))) out |= OF;
      out |= (a ^ b ^ r) & AF;
      break;
    }
    case CC.Logic:
      break;
    case CC.Inc:
      out |= f.cin & CF;
      out |= (a ^ 1 ^ r) & AF;
      // Overflow exactly when the result is the smallest negative number.
      if (msb(s, r, rh) && (s === 8 ? r === 0 && rh === 0x80000000 : r === 1 << (s * 8 - 1) >>> 0)) out |= OF;
      break;
    case CC.Dec:
      out |= f.cin & CF;
      out |= (a ^ 1 ^ r) & AF;
      if (!msb(s, r, rh) && (s === 8 ? r === 0xffffffff && rh === 0x7fffffff : r === ((1 << (s * 8 - 1)) - 1) >>> 0)) out |= OF;
      break;
    case CC.Shl:
      if (msb(s, a, ah)) out |= CF;
      if (msb(s, a ^ r, ah ^ rh)) out |= OF;
      break;
    case CC.Sar:
      out |= a & 1;
      if (msb(s, a ^ r, ah ^ rh)) out |= OF;
      break;
    case CC.Mul:
      if ((a | ah) !== 0) out |= CF | OF;
      break;
  }
  return out;
}

/** CF alone, without computing the rest (ADC/SBB/RCL/RCR/Jcc read it often). */
export function computeCarry(f: LazyFlags): number {
  switch (f.op) {
    case CC.Eager:
      return f.eager & CF;
    case CC.Add:
      return ltu(f.res, f.resHi, f.a, f.aHi) ? 1 : 0;
    case CC.Sub:
      return ltu(f.a, f.aHi, f.b, f.bHi) ? 1 : 0;
    case CC.Logic:
      return 0;
    case CC.Inc:
    case CC.Dec:
      return f.cin & CF;
    default:
      return computeArith(f) & CF;
  }
}
