import { add, mul, sub } from './arith.js';
import { binaryNanCases } from './binary-nan.js';
import { compare, Relation } from './compare.js';
import { intToX80 } from './convert.js';
import {
  DEFAULT_NAN, expOf, isInf80, isZero80, negate, packX80, signOf, sigOf, X80_ONE,
} from './floatx80.js';
import { scalbn } from './remainder.js';
import { type FloatStatus, IE, Rounding, ZE } from './status.js';
import { estimateDiv128To64, M128, M64, mul128By64Top, normalizeRoundPack, normalizeSubnormal, shiftRightJam128 } from './wide.js';
import type { X87 } from './x87-state.js';

/**
 * FYL2X and FYL2XP1 as QEMU 7.2 computes them (fpu_helper.c: helper_fyl2x, helper_fyl2xp1 and
 * helper_fyl2x_common): log2 via a polynomial in x/(2+x) assembled in 128-bit fixed point, with
 * softfloat's own division estimate, so the last bit matches.
 */

const x = (e: number, s: bigint) => packX80(e >> 15, e, s);
const LOG2E = 0xb8aa3b295c17f0bbbe87fed0691d3e89n;
const COEFF_0 = x(0x4000, 0xb8aa3b295c17f0bcn);
const COEFF_0_LOW = x(0xbfbf, 0x834972fe2d7bab1bn);
const COEFFS = [
  x(0x3ffe, 0xf6384ee1d01febb8n), x(0x3ffe, 0x93bb62877cdfa2e3n), x(0x3ffd, 0xd30bb153d808f269n), x(0x3ffd, 0xa42589eaf451499en),
  x(0x3ffd, 0x864d42c0f8f17517n), x(0x3ffc, 0xe3476578adf26272n), x(0x3ffc, 0xc506c5f874e6d80fn), x(0x3ffc, 0xac5cf50cc57d6372n),
  x(0x3ffc, 0xb1ed0066d971a103n),
]; // coefficients 1..9

/** log2(1 + arg) for 1 + arg in [√2/2, √2], under round-to-nearest at extended precision: [exponent, 128-bit significand]. */
function log2Common(arg: bigint, st: FloatStatus): [number, bigint] {
  const sig = sigOf(arg);
  const exp = expOf(arg);
  let dexp: number;
  let d: bigint;
  if (signOf(arg)) {
    dexp = 0x3fff;
    d = (0n - shiftRightJam128(sig << 64n, dexp - exp)) & M128;
  } else {
    dexp = 0x4000;
    d = shiftRightJam128(sig << 64n, dexp - exp) | (1n << 127n);
  }
  const d0 = d >> 64n;
  let texp = exp - dexp + 0x3ffe;
  let r = sig << 128n; // rsig0:rsig1:rsig2
  if (d0 <= sig) {
    r >>= 1n;
    texp++;
  }
  let t0 = estimateDiv128To64(r >> 128n, (r >> 64n) & M64, d0);
  r = (r - d * t0) & ((1n << 192n) - 1n);
  while (r >> 191n) {
    t0 = (t0 - 1n) & M64;
    r = (r + d) & ((1n << 192n) - 1n);
  }
  const t1 = estimateDiv128To64((r >> 64n) & M64, r & M64, d0);
  const t = (t0 << 64n) | t1;
  const t2 = normalizeRoundPack(0, texp + texp - 0x3ffe, (t * t) >> 128n, st);
  let accum = mul(COEFFS[8]!, t2, st);
  for (let k = 7; k >= 0; k--) accum = mul(add(COEFFS[k]!, accum, st), t2, st);
  accum = add(COEFF_0_LOW, accum, st);
  let aexp = expOf(COEFF_0);
  const a = shiftRightJam128(sigOf(accum) << 64n, aexp - expOf(accum));
  const b = sigOf(COEFF_0) << 64n;
  const s = (signOf(COEFF_0) === signOf(accum) ? b + a : b - a) & M128;
  aexp += texp - 0x3ffe;
  return [aexp, (s * t) >> 128n];
}

function finish(f: X87, st: FloatStatus): void {
  f.pop();
  f.raise(st.flags);
}

export function fyl2x(f: X87): void {
  const st = f.status();
  if (binaryNanCases(f, st)) return finish(f, st);
  const a = f.st(0);
  const b = f.st(1);
  const sign1 = signOf(b);
  if (signOf(a) && !isZero80(a)) {
    st.raise(IE);
    f.setSt(1, DEFAULT_NAN);
  } else if (isInf80(b)) {
    const r = compare(a, X80_ONE, false, st);
    if (r === Relation.Less) f.setSt(1, negate(b));
    else if (r !== Relation.Greater) {
      st.raise(IE);
      f.setSt(1, DEFAULT_NAN);
    }
  } else if (isInf80(a)) {
    if (isZero80(b)) {
      st.raise(IE);
      f.setSt(1, DEFAULT_NAN);
    } else f.setSt(1, sign1 ? negate(a) : a);
  } else if (isZero80(a)) {
    if (isZero80(b)) {
      st.raise(IE);
      f.setSt(1, DEFAULT_NAN);
    } else {
      st.raise(ZE);
      f.setSt(1, packX80(sign1 ^ 1, 0x7fff, 1n << 63n));
    }
  } else if (isZero80(b)) {
    if (compare(a, X80_ONE, false, st) === Relation.Less) f.setSt(1, negate(b));
  } else if (compare(a, X80_ONE, true, st) === Relation.Equal) {
    f.setSt(1, sign1 ? negate(0n) : 0n);
  } else {
    const mode = st.rounding;
    const savedPrecision = st.precision;
    st.rounding = Rounding.Nearest;
    st.precision = 64;
    let [exp0, sig0] = [expOf(a), sigOf(a)];
    let [exp1, sig1] = [expOf(b), sigOf(b)];
    if (exp0 === 0) [exp0, sig0] = normalizeSubnormal(sig0);
    if (exp1 === 0) [exp1, sig1] = normalizeSubnormal(sig1);
    let intExp = exp0 - 0x3fff;
    if (sig0 > 0xb504f333f9de6484n) intExp++;
    const m1 = sub(scalbn(a, -intExp, st), X80_ONE, st);
    if (isZero80(m1)) {
      st.rounding = mode;
      f.setSt(1, mul(intToX80(BigInt(intExp), st), b, st));
    } else {
      let asign = signOf(m1);
      let [aexp, asig] = log2Common(m1, st);
      if (intExp !== 0) {
        const isign = intExp < 0 ? 1 : 0;
        const mag = Math.abs(intExp);
        const shift = Math.clz32(mag) + 32;
        const isig = (BigInt(mag) << BigInt(shift)) << 64n;
        const iexp = 0x403e - shift;
        asig = shiftRightJam128(asig, iexp - aexp);
        asig = (asign === isign ? isig + asig : isig - asig) & M128;
        aexp = iexp;
        asign = isign;
      }
      asig = mul128By64Top(asig, sig1) | 1n;
      aexp += exp1 - 0x3ffe;
      st.rounding = mode;
      f.setSt(1, normalizeRoundPack(asign ^ sign1, aexp, asig, st));
    }
    st.precision = savedPrecision;
  }
  finish(f, st);
}

export function fyl2xp1(f: X87): void {
  const st = f.status();
  if (binaryNanCases(f, st)) return finish(f, st);
  const a = f.st(0);
  const b = f.st(1);
  const sign0 = signOf(a);
  const sign1 = signOf(b);
  let [exp0, sig0] = [expOf(a), sigOf(a)];
  let [exp1, sig1] = [expOf(b), sigOf(b)];
  if (exp0 > 0x3ffd || (exp0 === 0x3ffd && sig0 > (sign0 ? 0x95f619980c4336f7n : 0xd413cccfe7799211n))) {
    st.raise(IE);
    f.setSt(1, DEFAULT_NAN);
  } else if (isZero80(a) || isZero80(b) || exp1 === 0x7fff) {
    f.setSt(1, mul(a, b, st));
  } else if (exp0 < 0x3fb0) {
    if (exp0 === 0) [exp0, sig0] = normalizeSubnormal(sig0);
    if (exp1 === 0) [exp1, sig1] = normalizeSubnormal(sig1);
    let sig = mul128By64Top(LOG2E, sig0);
    let exp = exp0 + 1;
    sig = mul128By64Top(sig, sig1) | 1n;
    exp += exp1 - 0x3ffe;
    f.setSt(1, normalizeRoundPack(sign0 ^ sign1, exp, sig, st));
  } else {
    const mode = st.rounding;
    const savedPrecision = st.precision;
    st.rounding = Rounding.Nearest;
    st.precision = 64;
    let [aexp, asig] = log2Common(a, st);
    if (exp1 === 0) [exp1, sig1] = normalizeSubnormal(sig1);
    asig = mul128By64Top(asig, sig1) | 1n;
    aexp += exp1 - 0x3ffe;
    st.rounding = mode;
    f.setSt(1, normalizeRoundPack(sign0 ^ sign1, aexp, asig, st));
    st.precision = savedPrecision;
  }
  finish(f, st);
}
