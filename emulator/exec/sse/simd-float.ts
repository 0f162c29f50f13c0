import { bitLength } from '../../fpu/floatx80.js';
import { F32, F64, type Format, isTiny, packInf, packZero, roundPack } from '../../fpu/round-pack.js';
import { DE, FloatStatus, IE, OE, PE, type Rounding, UE, ZE } from '../../fpu/status.js';

/**
 * IEEE binary32/binary64 arithmetic as SSE does it (SDM Vol. 1 §4.8, §4.9, §11.5), measured
 * against the host CPU (testdata/host-sse.*): exact results rounded once by round-pack.ts under
 * MXCSR.RC, tininess after rounding (with an unbounded exponent), DAZ (denormal inputs read as
 * zero), FZ (tiny results flushed to zero with UE and PE while UE is masked), the default NaN
 * (the negative QNaN "indefinite"). DE (a denormal operand) is reported only when nothing of
 * higher priority is: no NaN operand, no invalid operation, no division by zero. An unmasked
 * overflow or underflow reports OE or UE alone (the instruction then faults, fp-env.ts).
 *
 * Where QEMU 7.2 differs (SimdEnv.asQemu): NaN propagation by softfloat's x87 rule (a QNaN over
 * an SNaN, else the larger significand, then the positive sign) instead of the hardware's first
 * NaN operand; no DE ever; FZ flushes what is tiny before rounding. Values are raw encodings as
 * bigints; flags use the MXCSR/FSW bit order (IE = 1 … PE = 0x20).
 */

export { F32, F64, type Format };

/** One operation's environment, from MXCSR and the CPU model. */
export class SimdEnv extends FloatStatus {
  constructor(
    rounding: Rounding,
    readonly daz: boolean,
    readonly ftz: boolean,
    /** UE unmasked: a tiny result signals UE alone, even when exact (and FZ does not apply). */
    readonly underflowUnmasked: boolean,
    /** OE unmasked: an overflow signals OE alone. */
    readonly overflowUnmasked: boolean,
    /** true: QEMU's NaN rule and no DE flag; false: the hardware's. */
    readonly asQemu: boolean,
  ) {
    super(rounding, 64);
  }
}

export const enum Cls {
  Zero,
  Normal,
  Inf,
  QNaN,
  SNaN,
}

/** A decoded operand: for Normal, (-1)^sign × sig × 2^exp exactly; for NaNs, `bits` is what propagates. */
export interface Val {
  readonly cls: Cls;
  readonly sign: number;
  readonly sig: bigint;
  readonly exp: number;
  readonly bits: bigint;
  /** A denormal encoding (before DAZ). */
  readonly denormal: boolean;
}

const widthOf = (fmt: Format) => (fmt.kind === 'f32' ? 32 : 64);
const fracBitsOf = (fmt: Format) => fmt.p - 1;

export function quietBit(fmt: Format): bigint {
  return 1n << BigInt(fmt.p - 2);
}

/** The default NaN (QNaN indefinite): sign set, quiet bit set, zero payload. */
export function defaultNaN(fmt: Format): bigint {
  return (1n << BigInt(widthOf(fmt) - 1)) | (((1n << BigInt(widthOf(fmt) - fmt.p)) - 1n) << BigInt(fmt.p - 1)) | quietBit(fmt);
}

/** Decode an encoding (denormals keep their exact value). */
export function unpack(bits: bigint, fmt: Format): Val {
  const f = BigInt(fracBitsOf(fmt));
  const expMax = (1 << (widthOf(fmt) - fmt.p)) - 1;
  const sign = Number(bits >> BigInt(widthOf(fmt) - 1)) & 1;
  const e = Number((bits >> f) & BigInt(expMax));
  const frac = bits & ((1n << f) - 1n);
  if (e === expMax) {
    if (frac === 0n) return { cls: Cls.Inf, sign, sig: 0n, exp: 0, bits, denormal: false };
    return { cls: frac & quietBit(fmt) ? Cls.QNaN : Cls.SNaN, sign, sig: frac, exp: 0, bits, denormal: false };
  }
  if (e === 0) {
    if (frac === 0n) return { cls: Cls.Zero, sign, sig: 0n, exp: 0, bits, denormal: false };
    return { cls: Cls.Normal, sign, sig: frac, exp: fmt.emin - fracBitsOf(fmt), bits, denormal: true };
  }
  return { cls: Cls.Normal, sign, sig: frac | (1n << f), exp: e - fmt.bias - fracBitsOf(fmt), bits, denormal: false };
}

/** An arithmetic operand: with DAZ a denormal reads as zero of its sign (and raises nothing). */
export function operand(bits: bigint, fmt: Format, env: SimdEnv): Val {
  const v = unpack(bits, fmt);
  if (!v.denormal || !env.daz) return v;
  return { cls: Cls.Zero, sign: v.sign, sig: 0n, exp: 0, bits: packZero(v.sign, fmt), denormal: false };
}

/** DE for a denormal operand, once nothing of higher priority (NaN, invalid, divide by zero) applies. QEMU never raises it. */
export function denormalOperand(env: SimdEnv, a: Val, b?: Val): void {
  if (!env.asQemu && (a.denormal || b?.denormal === true)) env.raise(DE);
}

export const isNaN = (v: Val) => v.cls === Cls.QNaN || v.cls === Cls.SNaN;

function quiet(v: Val, fmt: Format): bigint {
  return v.bits | quietBit(fmt);
}

/** The NaN a two-operand operation returns when a or b is one (IE for an SNaN). */
export function propagate(a: Val, b: Val, fmt: Format, env: SimdEnv): bigint {
  if (a.cls === Cls.SNaN || b.cls === Cls.SNaN) env.raise(IE);
  if (!env.asQemu) return isNaN(a) ? quiet(a, fmt) : quiet(b, fmt);
  // softfloat's x87 rule (QEMU 7.2 pickNaN): a QNaN wins over an SNaN, else the larger significand, then the positive sign
  if (!isNaN(a)) return quiet(b, fmt);
  if (!isNaN(b)) return quiet(a, fmt);
  if (a.cls !== b.cls) return quiet(a.cls === Cls.QNaN ? a : b, fmt);
  const aLarger = a.sig !== b.sig ? a.sig > b.sig : a.sign < b.sign;
  return quiet(aLarger ? a : b, fmt);
}

/** The NaN a one-operand operation returns (IE for an SNaN). */
export function propagate1(a: Val, fmt: Format, env: SimdEnv): bigint {
  if (a.cls === Cls.SNaN) env.raise(IE);
  return quiet(a, fmt);
}

/**
 * Round and encode (-1)^sign × sig × 2^exp under the environment. A tiny result with UE unmasked
 * signals UE alone; with FZ it is flushed to a signed zero with UE and PE; an overflow with OE
 * unmasked signals OE alone (the result is then never written).
 */
export function round(sign: number, sig: bigint, exp: number, fmt: Format, env: SimdEnv): bigint {
  if (sig === 0n) return packZero(sign, fmt);
  const tiny = env.asQemu && env.ftz ? exp + bitLength(sig) - 1 < fmt.emin : isTiny(sign, sig, exp, fmt, env.rounding);
  if (tiny && env.underflowUnmasked) {
    env.raise(UE | inexactUnbounded(sig, fmt));
    return packZero(sign, fmt);
  }
  if (tiny && env.ftz) {
    env.raise(UE | PE);
    return packZero(sign, fmt);
  }
  const st = new FloatStatus(env.rounding, 64);
  const r = roundPack(sign, sig, exp, fmt, st);
  env.raise((st.flags & OE) !== 0 && env.overflowUnmasked ? OE | inexactUnbounded(sig, fmt) : st.flags);
  return r;
}

/** PE when the value needs more than the format's precision (with an unbounded exponent): an unmasked OE/UE reports it with them. */
function inexactUnbounded(sig: bigint, fmt: Format): number {
  const extra = bitLength(sig) - fmt.p;
  return extra > 0 && (sig & ((1n << BigInt(extra)) - 1n)) !== 0n ? PE : 0;
}

/** Sign of an exact zero sum: negative only when both are, or rounding down. */
function zeroSumSign(a: number, b: number, env: SimdEnv): number {
  return a === b ? a : env.rounding === 1 ? 1 : 0;
}

export function add(x: bigint, y: bigint, fmt: Format, env: SimdEnv, subtract = false): bigint {
  const a = operand(x, fmt, env);
  let b = operand(y, fmt, env);
  if (isNaN(a) || isNaN(b)) return propagate(a, b, fmt, env);
  if (subtract) b = { ...b, sign: b.sign ^ 1 };
  if (a.cls === Cls.Inf || b.cls === Cls.Inf) {
    if (a.cls === Cls.Inf && b.cls === Cls.Inf && a.sign !== b.sign) {
      env.raise(IE);
      return defaultNaN(fmt);
    }
    denormalOperand(env, a, b);
    return packInf(a.cls === Cls.Inf ? a.sign : b.sign, fmt);
  }
  denormalOperand(env, a, b);
  if (a.cls === Cls.Zero && b.cls === Cls.Zero) return packZero(zeroSumSign(a.sign, b.sign, env), fmt);
  if (a.cls === Cls.Zero) return round(b.sign, b.sig, b.exp, fmt, env);
  if (b.cls === Cls.Zero) return round(a.sign, a.sig, a.exp, fmt, env);
  const e = Math.min(a.exp, b.exp);
  const sa = (a.sign ? -a.sig : a.sig) << BigInt(a.exp - e);
  const sb = (b.sign ? -b.sig : b.sig) << BigInt(b.exp - e);
  const sum = sa + sb;
  if (sum === 0n) return packZero(env.rounding === 1 ? 1 : 0, fmt);
  return round(sum < 0n ? 1 : 0, sum < 0n ? -sum : sum, e, fmt, env);
}

export function mul(x: bigint, y: bigint, fmt: Format, env: SimdEnv): bigint {
  const a = operand(x, fmt, env);
  const b = operand(y, fmt, env);
  if (isNaN(a) || isNaN(b)) return propagate(a, b, fmt, env);
  const sign = a.sign ^ b.sign;
  if (a.cls === Cls.Inf || b.cls === Cls.Inf) {
    if (a.cls === Cls.Zero || b.cls === Cls.Zero) {
      env.raise(IE);
      return defaultNaN(fmt);
    }
    denormalOperand(env, a, b);
    return packInf(sign, fmt);
  }
  denormalOperand(env, a, b);
  if (a.cls === Cls.Zero || b.cls === Cls.Zero) return packZero(sign, fmt);
  return round(sign, a.sig * b.sig, a.exp + b.exp, fmt, env);
}

export function div(x: bigint, y: bigint, fmt: Format, env: SimdEnv): bigint {
  const a = operand(x, fmt, env);
  const b = operand(y, fmt, env);
  if (isNaN(a) || isNaN(b)) return propagate(a, b, fmt, env);
  const sign = a.sign ^ b.sign;
  if (a.cls === Cls.Inf) {
    if (b.cls === Cls.Inf) {
      env.raise(IE);
      return defaultNaN(fmt);
    }
    denormalOperand(env, a, b);
    return packInf(sign, fmt);
  }
  if (b.cls === Cls.Inf) {
    denormalOperand(env, a, b);
    return packZero(sign, fmt);
  }
  if (b.cls === Cls.Zero) {
    if (a.cls === Cls.Zero) {
      env.raise(IE);
      return defaultNaN(fmt);
    }
    env.raise(ZE);
    return packInf(sign, fmt);
  }
  denormalOperand(env, a, b);
  if (a.cls === Cls.Zero) return packZero(sign, fmt);
  // enough quotient bits for rounding, plus a sticky bit for a non-zero remainder
  const shift = fmt.p + 3 + bitLength(b.sig) - bitLength(a.sig);
  const n = shift > 0 ? a.sig << BigInt(shift) : a.sig;
  const q = n / b.sig;
  const sticky = n % b.sig !== 0n ? 1n : 0n;
  return round(sign, (q << 1n) | sticky, a.exp - b.exp - Math.max(shift, 0) - 1, fmt, env);
}

/** Integer square root (floor). */
function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt(Math.ceil(bitLength(n) / 2));
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

export function sqrt(x: bigint, fmt: Format, env: SimdEnv): bigint {
  const a = operand(x, fmt, env);
  if (isNaN(a)) return propagate1(a, fmt, env);
  if (a.cls === Cls.Zero) return packZero(a.sign, fmt);
  if (a.sign === 1) {
    env.raise(IE);
    return defaultNaN(fmt);
  }
  if (a.cls === Cls.Inf) return packInf(0, fmt);
  denormalOperand(env, a);
  // sig × 2^exp with an even exponent and 2p + 4 significant bits, so the root has p + 2
  let shift = 2 * fmt.p + 4 - bitLength(a.sig);
  if ((a.exp - shift) % 2 !== 0) shift++;
  const n = a.sig << BigInt(shift);
  const r = isqrt(n);
  const sticky = r * r !== n ? 1n : 0n;
  return round(0, (r << 1n) | sticky, (a.exp - shift) / 2 - 1, fmt, env);
}

/** Ordering of two non-NaN operands: -1, 0, 1 (zeros equal whatever their signs). */
export function compareValues(a: Val, b: Val): number {
  const key = (v: Val): [number, number, bigint] => {
    if (v.cls === Cls.Zero) return [0, 0, 0n];
    const mag = v.cls === Cls.Inf ? Infinity : v.exp + bitLength(v.sig);
    return [v.sign ? -1 : 1, mag, v.sig];
  };
  const [sa, ma, ga] = key(a);
  const [sb, mb, gb] = key(b);
  if (sa !== sb) return sa < sb ? -1 : 1;
  if (sa === 0) return 0;
  let c = ma !== mb ? (ma < mb ? -1 : 1) : a.cls === Cls.Inf ? 0 : compareSig(a, b, ga, gb);
  if (sa < 0) c = -c;
  return c;
}

function compareSig(a: Val, b: Val, ga: bigint, gb: bigint): number {
  // same leading-bit position: compare the values aligned to the smaller exponent
  const e = Math.min(a.exp, b.exp);
  const x = ga << BigInt(a.exp - e);
  const y = gb << BigInt(b.exp - e);
  return x === y ? 0 : x < y ? -1 : 1;
}

/**
 * MINxx/MAXxx: the second operand when either is a NaN (IE whether quiet or signaling, and the
 * NaN is returned as it is) or both are zeros; else the smaller/larger.
 */
export function minMax(x: bigint, y: bigint, fmt: Format, env: SimdEnv, max: boolean): bigint {
  const a = operand(x, fmt, env);
  const b = operand(y, fmt, env);
  if (isNaN(a) || isNaN(b)) {
    env.raise(IE);
    return env.asQemu ? y : b.bits;
  }
  denormalOperand(env, a, b);
  const c = compareValues(a, b);
  const pick = c !== 0 && (max ? c > 0 : c < 0) ? a : b;
  // with DAZ the hardware returns the operand as read (a denormal as zero); QEMU 7.2 its encoding
  return env.asQemu ? pick.bits === a.bits && pick === a ? x : y : pick.bits;
}

/** Conversion of an exact integer to a format (CVTSI2SS, CVTDQ2PS…): rounded, PE when inexact. */
export function fromInteger(v: bigint, fmt: Format, env: SimdEnv): bigint {
  if (v === 0n) return packZero(0, fmt);
  return round(v < 0n ? 1 : 0, v < 0n ? -v : v, 0, fmt, env);
}

/**
 * Conversion to a signed integer of `bits` (32/64): rounded by MXCSR.RC or truncated; NaN or out
 * of range → IE and the integer indefinite (only the sign bit set).
 */
export function toInteger(x: bigint, fmt: Format, env: SimdEnv, bits: 32 | 64, truncate: boolean): bigint {
  const a = operand(x, fmt, env);
  const indefinite = 1n << BigInt(bits - 1);
  if (isNaN(a) || a.cls === Cls.Inf) {
    env.raise(IE);
    return indefinite;
  }
  if (a.cls === Cls.Zero) return 0n;
  // no DE here: the CVT…2SI/…2DQ/…2PI family lists only IE and PE (SDM; the host agrees)
  let mag: bigint;
  let inexact: boolean;
  if (a.exp >= 0) {
    mag = a.sig << BigInt(a.exp);
    inexact = false;
  } else {
    const s = BigInt(-a.exp);
    mag = a.sig >> s;
    const rem = a.sig & ((1n << s) - 1n);
    inexact = rem !== 0n;
    const half = 1n << (s - 1n);
    const mode = truncate ? 3 : env.rounding;
    const up = rem === 0n ? false : mode === 0 ? rem > half || (rem === half && (mag & 1n) === 1n) : mode === 1 ? a.sign === 1 : mode === 2 ? a.sign === 0 : false;
    if (up) mag += 1n;
  }
  const v = a.sign ? -mag : mag;
  if (v < -indefinite || v >= indefinite) {
    env.raise(IE);
    return indefinite;
  }
  if (inexact) env.raise(PE);
  return BigInt.asUintN(bits, v);
}

/** Between formats (CVTSS2SD, CVTSD2SS, CVTPS2PD, CVTPD2PS): NaNs keep sign and top payload bits, quieted. */
export function convert(x: bigint, from: Format, to: Format, env: SimdEnv): bigint {
  const a = operand(x, from, env);
  if (isNaN(a)) {
    if (a.cls === Cls.SNaN) env.raise(IE);
    const d = to.p - from.p;
    const payload = d >= 0 ? a.sig << BigInt(d) : a.sig >> BigInt(-d);
    return (BigInt(a.sign) << BigInt(widthOf(to) - 1)) | (((1n << BigInt(widthOf(to) - to.p)) - 1n) << BigInt(to.p - 1)) | payload | quietBit(to);
  }
  if (a.cls === Cls.Inf) return packInf(a.sign, to);
  if (a.cls === Cls.Zero) return packZero(a.sign, to);
  denormalOperand(env, a);
  return round(a.sign, a.sig, a.exp, to, env);
}
