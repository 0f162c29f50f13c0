import { bitLength, Cls, isInvalidEncoding, isNaNCls, unpackX80, type Unpacked } from './floatx80.js';
import { anyNaN, invalid, nanResult, pickNaN } from './nan.js';
import { packInf, packZero, roundPack, x80Format } from './round-pack.js';
import { type FloatStatus, Rounding, ZE } from './status.js';

/**
 * Extended-precision add/sub/mul/div/sqrt: exact results in BigInt, then one rounding to the
 * precision in `st` (FCW.PC) over the full extended exponent range.
 */

/** Both operands decoded, or undefined after raising IE for an invalid encoding (result: default NaN). */
function operands(a: bigint, b: bigint, st: FloatStatus): [Unpacked, Unpacked] | undefined {
  if (isInvalidEncoding(a) || isInvalidEncoding(b)) return undefined;
  return [unpackX80(a), unpackX80(b)];
}

/** Extra low bits kept when a much smaller addend only matters as a sticky bit. */
const STICKY_GAP = 66;

export function add(a: bigint, b: bigint, st: FloatStatus): bigint {
  return addSub(a, b, false, st);
}

export function sub(a: bigint, b: bigint, st: FloatStatus): bigint {
  return addSub(a, b, true, st);
}

function addSub(a: bigint, b: bigint, subtract: boolean, st: FloatStatus): bigint {
  const ops = operands(a, b, st);
  if (!ops) return invalid(st);
  const [x, y] = ops;
  if (anyNaN(x, y)) return pickNaN(x, y, st);
  const ySign = y.sign ^ (subtract ? 1 : 0);
  const fmt = x80Format(st.precision);
  if (x.cls === Cls.Inf || y.cls === Cls.Inf) {
    if (x.cls === Cls.Inf && y.cls === Cls.Inf && x.sign !== ySign) return invalid(st);
    return packInf(x.cls === Cls.Inf ? x.sign : ySign, fmt);
  }
  if (x.cls === Cls.Zero && y.cls === Cls.Zero) {
    const sign = x.sign === ySign ? x.sign : st.rounding === Rounding.Down ? 1 : 0;
    return packZero(sign, fmt);
  }
  if (y.cls === Cls.Zero) return roundPack(x.sign, x.sig, x.exp, fmt, st);
  if (x.cls === Cls.Zero) return roundPack(ySign, y.sig, y.exp, fmt, st);
  // Both finite non-zero: align on the smaller exponent (or substitute a sticky bit for a negligible addend).
  let [big, bigSign, small, smallSign] = x.exp + bitLength(x.sig) >= y.exp + bitLength(y.sig) ? [x, x.sign, y, ySign] : [y, ySign, x, x.sign];
  const bigTop = big.exp + bitLength(big.sig);
  const smallTop = small.exp + bitLength(small.sig);
  let bs: bigint;
  let ss: bigint;
  let exp: number;
  if (bigTop - smallTop > STICKY_GAP + 2) {
    exp = bigTop - 64 - STICKY_GAP;
    bs = big.sig << BigInt(big.exp - exp);
    ss = 1n;
  } else {
    exp = Math.min(big.exp, small.exp);
    bs = big.sig << BigInt(big.exp - exp);
    ss = small.sig << BigInt(small.exp - exp);
  }
  let sum = (bigSign ? -bs : bs) + (smallSign ? -ss : ss);
  if (sum === 0n) return packZero(st.rounding === Rounding.Down ? 1 : 0, fmt);
  const sign = sum < 0n ? 1 : 0;
  if (sign) sum = -sum;
  return roundPack(sign, sum, exp, fmt, st);
}

export function mul(a: bigint, b: bigint, st: FloatStatus): bigint {
  const ops = operands(a, b, st);
  if (!ops) return invalid(st);
  const [x, y] = ops;
  if (anyNaN(x, y)) return pickNaN(x, y, st);
  const sign = x.sign ^ y.sign;
  const fmt = x80Format(st.precision);
  if (x.cls === Cls.Inf || y.cls === Cls.Inf) {
    if (x.cls === Cls.Zero || y.cls === Cls.Zero) return invalid(st);
    return packInf(sign, fmt);
  }
  if (x.cls === Cls.Zero || y.cls === Cls.Zero) return packZero(sign, fmt);
  return roundPack(sign, x.sig * y.sig, x.exp + y.exp, fmt, st);
}

/** Quotient bits computed beyond the divisor's width (more than the 64 + guard + round the rounding needs). */
const DIV_EXTRA = 130;

export function div(a: bigint, b: bigint, st: FloatStatus): bigint {
  const ops = operands(a, b, st);
  if (!ops) return invalid(st);
  const [x, y] = ops;
  if (anyNaN(x, y)) return pickNaN(x, y, st);
  const sign = x.sign ^ y.sign;
  const fmt = x80Format(st.precision);
  if (x.cls === Cls.Inf) return y.cls === Cls.Inf ? invalid(st) : packInf(sign, fmt);
  if (y.cls === Cls.Inf) return packZero(sign, fmt);
  if (y.cls === Cls.Zero) {
    if (x.cls === Cls.Zero) return invalid(st);
    st.raise(ZE);
    return packInf(sign, fmt);
  }
  if (x.cls === Cls.Zero) return packZero(sign, fmt);
  const num = x.sig << BigInt(DIV_EXTRA);
  let q = num / y.sig;
  if (q * y.sig !== num) q = (q << 1n) | 1n;
  else q <<= 1n;
  return roundPack(sign, q, x.exp - y.exp - DIV_EXTRA - 1, fmt, st);
}

/** Integer square root (floor). */
export function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt((bitLength(n) + 1) >> 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

export function sqrt(a: bigint, st: FloatStatus): bigint {
  if (isInvalidEncoding(a)) return invalid(st);
  const x = unpackX80(a);
  if (isNaNCls(x.cls)) return nanResult(x, st);
  const fmt = x80Format(st.precision);
  if (x.cls === Cls.Zero) return packZero(x.sign, fmt);
  if (x.sign) return invalid(st);
  if (x.cls === Cls.Inf) return packInf(0, fmt);
  let sig = x.sig;
  let exp = x.exp;
  if (exp & 1) {
    sig <<= 1n;
    exp -= 1;
  }
  const shifted = sig << BigInt(2 * DIV_EXTRA);
  let r = isqrt(shifted);
  r = r * r === shifted ? r << 1n : (r << 1n) | 1n;
  return roundPack(0, r, (exp - 2 * DIV_EXTRA) / 2 - 1, fmt, st);
}

