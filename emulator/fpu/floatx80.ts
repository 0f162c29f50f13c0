/**
 * The 80-bit extended format as raw bits (bigint: sign at bit 79, biased exponent at 78..64,
 * 64-bit significand with an explicit integer bit J at bit 63), its classes, and the unpacked
 * form the arithmetic works on (value = sig × 2^exp, exactly).
 */

export const X80_BIAS = 16383;
export const X80_EXP_MAX = 0x7fff;
/** Smallest normal unbiased exponent. */
export const X80_EMIN = 1 - X80_BIAS;
export const J_BIT = 1n << 63n;
export const QUIET_BIT = 1n << 62n;
const SIG_MASK = (1n << 64n) - 1n;

/** QNaN "real indefinite": the x87 default NaN (sign set). */
export const DEFAULT_NAN = 0xffff_c000000000000000n;
export const X80_ZERO = 0n;
export const X80_ONE = 0x3fff_8000000000000000n;
export const X80_INF = 0x7fff_8000000000000000n;

export function packX80(sign: number, exp: number, sig: bigint): bigint {
  return (BigInt(((sign & 1) << 15) | (exp & 0x7fff)) << 64n) | (sig & SIG_MASK);
}

export function signOf(v: bigint): number {
  return Number(v >> 79n) & 1;
}

export function expOf(v: bigint): number {
  return Number(v >> 64n) & 0x7fff;
}

export function sigOf(v: bigint): bigint {
  return v & SIG_MASK;
}

export function negate(v: bigint): bigint {
  return v ^ (1n << 79n);
}

export function absolute(v: bigint): bigint {
  return v & ~(1n << 79n);
}

/** Unnormals, pseudo-infinities and pseudo-NaNs: a non-zero exponent with J clear. */
export function isInvalidEncoding(v: bigint): boolean {
  return expOf(v) !== 0 && (v & J_BIT) === 0n;
}

export function isNaN80(v: bigint): boolean {
  return expOf(v) === X80_EXP_MAX && (sigOf(v) & ~J_BIT) !== 0n;
}

export function isSignalingNaN80(v: bigint): boolean {
  return isNaN80(v) && (v & QUIET_BIT) === 0n;
}

export function isInf80(v: bigint): boolean {
  return expOf(v) === X80_EXP_MAX && (sigOf(v) & ~J_BIT) === 0n;
}

export function isZero80(v: bigint): boolean {
  return expOf(v) === 0 && sigOf(v) === 0n;
}

export const enum Cls {
  Zero,
  Normal,
  Inf,
  QNaN,
  SNaN,
}

/** A decoded operand. For Normal, value = (-1)^sign × sig × 2^exp; for NaNs, sig is the 63-bit fraction. */
export interface Unpacked {
  readonly cls: Cls;
  readonly sign: number;
  readonly sig: bigint;
  readonly exp: number;
}

/** Decode a valid encoding (callers reject invalid encodings first). Denormals keep their exact value. */
export function unpackX80(v: bigint): Unpacked {
  const sign = signOf(v);
  const e = expOf(v);
  const s = sigOf(v);
  if (e === X80_EXP_MAX) {
    const frac = s & ~J_BIT;
    if (frac === 0n) return { cls: Cls.Inf, sign, sig: 0n, exp: 0 };
    return { cls: frac & QUIET_BIT ? Cls.QNaN : Cls.SNaN, sign, sig: frac, exp: 0 };
  }
  if (s === 0n) return { cls: Cls.Zero, sign, sig: 0n, exp: 0 };
  return { cls: Cls.Normal, sign, sig: s, exp: (e === 0 ? 1 : e) - X80_BIAS - 63 };
}

export function isNaNCls(c: Cls): boolean {
  return c === Cls.QNaN || c === Cls.SNaN;
}

/** Number of significant bits of a non-negative bigint. */
export function bitLength(x: bigint): number {
  let n = 0;
  while (x >= 1n << 64n) {
    x >>= 64n;
    n += 64;
  }
  let lo = Number(x >> 32n);
  if (lo !== 0) return n + 64 - Math.clz32(lo);
  lo = Number(x & 0xffffffffn);
  return n + 32 - Math.clz32(lo);
}

export function hex80(v: bigint): string {
  return `0x${(v >> 64n).toString(16).padStart(4, '0')}_${sigOf(v).toString(16).padStart(16, '0')}`;
}
