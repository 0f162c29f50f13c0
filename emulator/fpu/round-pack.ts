import { bitLength, packX80, X80_BIAS, X80_EMIN } from './floatx80.js';
import { type FloatStatus, OE, PE, Rounding, TININESS_BEFORE_ROUNDING, UE } from './status.js';

/**
 * Rounding an exact value to a destination format: the one place where precision, the
 * exponent range, denormals, overflow and the PE/UE/OE flags are decided (IEEE 754 as
 * softfloat implements it: underflow only when tiny *and* inexact).
 */

export interface Format {
  readonly kind: 'x80' | 'f32' | 'f64';
  /** Significand bits including the integer bit. */
  readonly p: number;
  readonly emin: number;
  readonly emax: number;
  readonly bias: number;
}

const X80_FORMATS = {
  24: { kind: 'x80', p: 24, emin: X80_EMIN, emax: X80_BIAS, bias: X80_BIAS },
  53: { kind: 'x80', p: 53, emin: X80_EMIN, emax: X80_BIAS, bias: X80_BIAS },
  64: { kind: 'x80', p: 64, emin: X80_EMIN, emax: X80_BIAS, bias: X80_BIAS },
} as const satisfies Record<number, Format>;

/** Extended format with the significand rounded to `p` bits (x87 precision control keeps the exponent range). */
export function x80Format(p: 24 | 53 | 64): Format {
  return X80_FORMATS[p];
}

export const F32: Format = { kind: 'f32', p: 24, emin: -126, emax: 127, bias: 127 };
export const F64: Format = { kind: 'f64', p: 53, emin: -1022, emax: 1023, bias: 1023 };

/** Signed zero of a format. */
export function packZero(sign: number, fmt: Format): bigint {
  return packParts(sign, 0, 0n, fmt);
}

export function packInf(sign: number, fmt: Format): bigint {
  if (fmt.kind === 'x80') return packX80(sign, 0x7fff, 1n << 63n);
  return packParts(sign, fmt.emax + fmt.bias + 1, 0n, fmt);
}

function packParts(sign: number, biased: number, frac: bigint, fmt: Format): bigint {
  switch (fmt.kind) {
    case 'x80':
      return packX80(sign, biased, frac);
    case 'f32':
      return (BigInt(sign) << 31n) | (BigInt(biased) << 23n) | frac;
    default:
      return (BigInt(sign) << 63n) | (BigInt(biased) << 52n) | frac;
  }
}

function largestFinite(sign: number, fmt: Format): bigint {
  const ones = (1n << BigInt(fmt.p)) - 1n;
  if (fmt.kind === 'x80') return packX80(sign, 0x7ffe, ones << BigInt(64 - fmt.p));
  return packParts(sign, fmt.emax + fmt.bias, ones - (1n << BigInt(fmt.p - 1)), fmt);
}

/** Whether to add one unit in the last place, given the discarded bits. */
function roundsUp(mode: Rounding, sign: number, rem: bigint, half: bigint, odd: boolean): boolean {
  if (rem === 0n) return false;
  switch (mode) {
    case Rounding.Nearest:
      return rem > half || (rem === half && odd);
    case Rounding.Down:
      return sign === 1;
    case Rounding.Up:
      return sign === 0;
    default:
      return false;
  }
}

/** sig × 2^exp rounded to a multiple of 2^q: the kept integer (may reach 2^p) and whether bits were lost. */
function roundAt(sign: number, sig: bigint, exp: number, q: number, mode: Rounding): [bigint, boolean] {
  const shift = q - exp;
  if (shift <= 0) return [sig << BigInt(-shift), false];
  const s = BigInt(shift);
  let kept = sig >> s;
  const rem = sig & ((1n << s) - 1n);
  if (roundsUp(mode, sign, rem, 1n << (s - 1n), (kept & 1n) === 1n)) kept += 1n;
  return [kept, rem !== 0n];
}

/**
 * Is (-1)^sign × sig × 2^exp (sig > 0) tiny, i.e. below 2^emin: before rounding with
 * TININESS_BEFORE_ROUNDING, else once rounded to the format's precision with an unbounded
 * exponent (x87 and SSE both, measured on the host CPU).
 */
export function isTiny(sign: number, sig: bigint, exp: number, fmt: Format, mode: Rounding): boolean {
  const e = exp + bitLength(sig) - 1;
  if (e >= fmt.emin) return false;
  if (TININESS_BEFORE_ROUNDING || e < fmt.emin - 1) return true;
  const [unbounded] = roundAt(sign, sig, exp, e - (fmt.p - 1), mode);
  return unbounded >> BigInt(fmt.p) === 0n;
}

/**
 * Round (-1)^sign × sig × 2^exp (sig > 0; its lowest bit may be a sticky bit standing for
 * discarded non-zero bits below) to `fmt` under `st`, raising PE/UE/OE, and encode it.
 */
export function roundPack(sign: number, sig: bigint, exp: number, fmt: Format, st: FloatStatus): bigint {
  if (sig === 0n) return packZero(sign, fmt);
  const p = fmt.p;
  const e = exp + bitLength(sig) - 1; // exponent of the leading bit
  let q = Math.max(e, fmt.emin) - (p - 1);
  let [kept, inexact] = roundAt(sign, sig, exp, q, st.rounding);
  if (kept >> BigInt(p)) {
    kept >>= 1n;
    q += 1;
  }
  const tiny = isTiny(sign, sig, exp, fmt, st.rounding);
  if (kept === 0n) {
    st.raise(PE | UE);
    return packZero(sign, fmt);
  }
  const eRes = q + bitLength(kept) - 1;
  if (eRes > fmt.emax) {
    st.raise(OE | PE);
    const toInf = st.rounding === Rounding.Nearest || (st.rounding === Rounding.Up && sign === 0) || (st.rounding === Rounding.Down && sign === 1);
    return toInf ? packInf(sign, fmt) : largestFinite(sign, fmt);
  }
  if (inexact) st.raise(tiny ? PE | UE : PE);
  const denormal = eRes < fmt.emin;
  if (fmt.kind === 'x80') return packX80(sign, denormal ? 0 : eRes + fmt.bias, kept << BigInt(64 - p));
  if (denormal) return packParts(sign, 0, kept, fmt);
  return packParts(sign, eRes + fmt.bias, kept - (1n << BigInt(p - 1)), fmt);
}
