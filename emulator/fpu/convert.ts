import { Cls, isInvalidEncoding, isNaNCls, QUIET_BIT, unpackX80 } from './floatx80.js';
import { invalid, nanResult } from './nan.js';
import { F32, F64, type Format, packInf, packZero, roundPack, x80Format } from './round-pack.js';
import { type FloatStatus, IE, PE, Rounding } from './status.js';

/**
 * Conversions to and from extended precision. QEMU 7.2 converts float32/float64 and integers
 * into extended through its generic rounding step, so FCW.PC applies to them too (FILD is
 * exempted by the instruction, which forces 64-bit precision).
 */

function fromBinary(bits: bigint, fmt: Format, st: FloatStatus): bigint {
  const fracBits = BigInt(fmt.p - 1);
  const width = fmt.kind === 'f32' ? 32n : 64n;
  const sign = Number(bits >> (width - 1n)) & 1;
  const expMax = fmt.emax + fmt.bias + 1;
  const e = Number((bits >> fracBits) & BigInt(expMax));
  const frac = bits & ((1n << fracBits) - 1n);
  if (e === expMax) {
    if (frac === 0n) return packInf(sign, x80Format(64));
    const fraction = frac << (63n - fracBits);
    const cls = fraction & QUIET_BIT ? Cls.QNaN : Cls.SNaN;
    return nanResult({ cls, sign, sig: fraction, exp: 0 }, st);
  }
  if (e === 0 && frac === 0n) return packZero(sign, x80Format(64));
  const sig = e === 0 ? frac : frac | (1n << fracBits);
  const exp = (e === 0 ? 1 : e) - fmt.bias - (fmt.p - 1);
  return roundPack(sign, sig, exp, x80Format(st.precision), st);
}

export function f32ToX80(bits: number, st: FloatStatus): bigint {
  return fromBinary(BigInt(bits >>> 0), F32, st);
}

export function f64ToX80(bits: bigint, st: FloatStatus): bigint {
  return fromBinary(bits, F64, st);
}

const F32_DEFAULT_NAN = 0xffc00000n;
const F64_DEFAULT_NAN = 0xfff8000000000000n;

function toBinary(a: bigint, fmt: Format, st: FloatStatus): bigint {
  const defaultNaN = fmt.kind === 'f32' ? F32_DEFAULT_NAN : F64_DEFAULT_NAN;
  if (isInvalidEncoding(a)) {
    st.raise(IE);
    return defaultNaN;
  }
  const x = unpackX80(a);
  const width = fmt.kind === 'f32' ? 32n : 64n;
  const fracBits = BigInt(fmt.p - 1);
  switch (x.cls) {
    case Cls.Zero:
      return packZero(x.sign, fmt);
    case Cls.Inf:
      return packInf(x.sign, fmt);
    case Cls.QNaN:
    case Cls.SNaN: {
      if (x.cls === Cls.SNaN) st.raise(IE);
      const frac = ((x.sig | QUIET_BIT) >> (63n - fracBits)) & ((1n << fracBits) - 1n);
      return (BigInt(x.sign) << (width - 1n)) | (((1n << (width - 1n - fracBits)) - 1n) << fracBits) | frac;
    }
    default:
      return roundPack(x.sign, x.sig, x.exp, fmt, st);
  }
}

export function x80ToF32(a: bigint, st: FloatStatus): number {
  return Number(toBinary(a, F32, st));
}

export function x80ToF64(a: bigint, st: FloatStatus): bigint {
  return toBinary(a, F64, st);
}

/** An integer to extended, rounded to the status precision. */
export function intToX80(v: bigint, st: FloatStatus): bigint {
  if (v === 0n) return 0n;
  const sign = v < 0n ? 1 : 0;
  return roundPack(sign, sign ? -v : v, 0, x80Format(st.precision), st);
}

/** |value| rounded to an integer per `mode`; inexact when bits were dropped. */
function roundMagnitude(sign: number, sig: bigint, exp: number, mode: Rounding): [bigint, boolean] {
  if (exp >= 0) return [sig << BigInt(exp), false];
  const s = BigInt(-exp);
  let n = sig >> s;
  const rem = sig & ((1n << s) - 1n);
  if (rem !== 0n) {
    const half = 1n << (s - 1n);
    const up =
      mode === Rounding.Nearest ? rem > half || (rem === half && (n & 1n) === 1n)
        : mode === Rounding.Down ? sign === 1
          : mode === Rounding.Up ? sign === 0
            : false;
    if (up) n += 1n;
  }
  return [n, rem !== 0n];
}

/**
 * Extended to a signed integer of `bits` bits (FIST/FISTTP): NaN, infinity, invalid encodings and
 * out-of-range values raise IE and give undefined (the caller stores the integer indefinite).
 */
export function x80ToInt(a: bigint, bits: 16 | 32 | 64, mode: Rounding, st: FloatStatus): bigint | undefined {
  if (isInvalidEncoding(a)) {
    st.raise(IE);
    return undefined;
  }
  const x = unpackX80(a);
  if (x.cls === Cls.Zero) return 0n;
  if (x.cls !== Cls.Normal) {
    st.raise(IE);
    return undefined;
  }
  const [n, inexact] = roundMagnitude(x.sign, x.sig, x.exp, mode);
  const v = x.sign ? -n : n;
  const limit = 1n << BigInt(bits - 1);
  if (v >= limit || v < -limit) {
    st.raise(IE);
    return undefined;
  }
  if (inexact) st.raise(PE);
  return v;
}

/** FRNDINT: round to an integer per FCW.RC, then to the precision in `st`. */
export function roundToInt(a: bigint, st: FloatStatus): bigint {
  if (isInvalidEncoding(a)) return invalid(st);
  const x = unpackX80(a);
  if (isNaNCls(x.cls)) return nanResult(x, st);
  const fmt = x80Format(st.precision);
  if (x.cls === Cls.Inf) return packInf(x.sign, fmt);
  if (x.cls === Cls.Zero) return packZero(x.sign, fmt);
  const [n, inexact] = roundMagnitude(x.sign, x.sig, x.exp, st.rounding);
  if (inexact) st.raise(PE);
  if (n === 0n) return packZero(x.sign, fmt);
  return roundPack(x.sign, n, 0, fmt, st);
}

