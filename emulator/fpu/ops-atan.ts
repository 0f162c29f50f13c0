import { add, div, mul } from './arith.js';
import { binaryNanCases } from './binary-nan.js';
import { x80ToInt } from './convert.js';
import { expOf, isInf80, isZero80, packX80, signOf, sigOf } from './floatx80.js';
import { PE, Rounding } from './status.js';
import { estimateDiv128To64, M128, M64, mul128By64Top, normalizeRoundPack, normalizeSubnormal, shiftRightJam128 } from './wide.js';
import type { X87 } from './x87-state.js';

/**
 * FPATAN as QEMU 7.2 computes it (fpu_helper.c, helper_fpatan): x = num/den reduced to
 * t + y with t a multiple of 1/8, arctan(t) from a table, arctan(y/(1+tx)) from an odd
 * polynomial, all assembled in 128-bit fixed point with softfloat's division estimate.
 */

const x = (e: number, s: bigint) => packX80(e >> 15, e, s);
const PI_SIG = 0xc90fdaa22168c234c4c6628b80dc1cd1n;
const PI_34_SIG = 0x96cbe3f9990e91a79394c9e8a0a5159dn;
const COEFF_0 = x(0x3fff, 0x8000000000000000n);
const COEFFS = [
  x(0xbffd, 0xaaaaaaaaaaaaaa43n), x(0x3ffc, 0xccccccccccbfe4f8n), x(0xbffc, 0x92492491fbab2e66n),
  x(0x3ffb, 0xe38e372881ea1e0bn), x(0xbffb, 0xba2c0104bbdd0615n), x(0x3ffb, 0x9baf7ebf898b42efn),
]; // coefficients 1..6
/** [arctan(n/8) high, low] for n = 0..8. */
const TABLE: ReadonlyArray<readonly [bigint, bigint]> = [
  [0n, 0n],
  [x(0x3ffb, 0xfeadd4d5617b6e33n), x(0xbfb9, 0xdda19d8305ddc420n)],
  [x(0x3ffc, 0xfadbafc96406eb15n), x(0x3fbb, 0xdb8f3debef442fccn)],
  [x(0x3ffd, 0xb7b0ca0f26f78474n), x(0xbfbc, 0xeab9bdba460376fan)],
  [x(0x3ffd, 0xed63382b0dda7b45n), x(0x3fbc, 0xdfc88bd978751a06n)],
  [x(0x3ffe, 0x8f005d5ef7f59f9bn), x(0x3fbd, 0xb906bc2ccb886e90n)],
  [x(0x3ffe, 0xa4bc7d1934f70924n), x(0x3fbb, 0xcd43f9522bed64f8n)],
  [x(0x3ffe, 0xb8053e2bc2319e74n), x(0xbfbc, 0xd3496ab7bd6eef0cn)],
  [x(0x3ffe, 0xc90fdaa22168c235n), x(0xbfbc, 0xece675d1fc8f8cbcn)],
];

/** Leading zeros of a 128-bit value (it is non-zero). */
const clz128 = (v: bigint) => 128 - v.toString(2).length;

export function fpatan(f: X87): void {
  const st = f.status();
  const a = f.st(0);
  const b = f.st(1);
  let exp0 = expOf(a);
  let sig0 = sigOf(a);
  const sign0 = signOf(a);
  let exp1 = expOf(b);
  let sig1 = sigOf(b);
  const sign1 = signOf(b);
  if (binaryNanCases(f, st)) {
    // decided
  } else if (isZero80(b) && !sign0) {
    // ST(1) passes through.
  } else if (((isInf80(a) && !isInf80(b)) || exp0 - exp1 >= 80) && !sign0) {
    const saved = st.precision;
    st.precision = 64;
    let r = div(b, a, st);
    st.precision = saved;
    if (!isZero80(r) && !(st.flags & PE)) {
      // The true result is slightly closer to zero than this exact quotient.
      let [e, s] = [expOf(r), sigOf(r)];
      if (e === 0) [e, s] = normalizeSubnormal(s);
      r = normalizeRoundPack(signOf(r), e, ((s - 1n) << 64n) | M64, st);
    }
    f.setSt(1, r);
  } else {
    let rexp: number;
    let r: bigint;
    if (isZero80(b)) [rexp, r] = [0x4000, PI_SIG];
    else if (isInf80(b)) [rexp, r] = isInf80(a) ? (sign0 ? [0x4000, PI_34_SIG] : [0x3ffe, PI_SIG]) : [0x3fff, PI_SIG];
    else if (isZero80(a) || exp1 - exp0 >= 80) [rexp, r] = [0x3fff, PI_SIG];
    else if (isInf80(a) || exp0 - exp1 >= 80) [rexp, r] = [0x4000, PI_SIG];
    else {
      const mode = st.rounding;
      const savedPrecision = st.precision;
      st.rounding = Rounding.Nearest;
      st.precision = 64;
      if (exp0 === 0) [exp0, sig0] = normalizeSubnormal(sig0);
      if (exp1 === 0) [exp1, sig1] = normalizeSubnormal(sig1);
      let numExp: number;
      let numSig: bigint;
      let denExp: number;
      let denSig: bigint;
      let adjExp: number;
      let adj: bigint;
      let adjSub: boolean;
      if (exp0 > exp1 || (exp0 === exp1 && sig0 >= sig1)) {
        [numExp, numSig, denExp, denSig] = [exp1, sig1, exp0, sig0];
        [adjExp, adj, adjSub] = sign0 ? [0x4000, PI_SIG, true] : [0, 0n, false];
      } else {
        [numExp, numSig, denExp, denSig] = [exp0, sig0, exp1, sig1];
        [adjExp, adj, adjSub] = [0x3fff, PI_SIG, !sign0];
      }
      // x = num/den in (0, 1].
      let xexp = numExp - denExp + 0x3ffe;
      let rem = numSig << 64n;
      if (denSig <= rem >> 64n) {
        rem >>= 1n;
        xexp++;
      }
      let xs0 = estimateDiv128To64(rem >> 64n, rem & M64, denSig);
      rem = (rem - denSig * xs0) & M128;
      while (rem >> 127n) {
        xs0 = (xs0 - 1n) & M64;
        rem = (rem + denSig) & M128;
      }
      const xs1 = estimateDiv128To64(rem & M64, 0n, denSig);
      const xsig = (xs0 << 64n) | xs1;
      // x = t + y, t = n/8 the nearest multiple of 1/8.
      const x8 = normalizeRoundPack(0, xexp + 3, xsig, st);
      const n = Number(x80ToInt(x8, 32, Rounding.Nearest, st) ?? 0n);
      let ysign = 0;
      let yexp: number;
      let y: bigint;
      let texp = 0;
      let tsig = 0n;
      if (n === 0) {
        [yexp, y] = [xexp, xsig];
      } else {
        const shift = Math.clz32(n) + 32;
        texp = 0x403b - shift;
        tsig = BigInt(n) << BigInt(shift);
        if (texp === xexp) {
          y = (xsig - (tsig << 64n)) & M128;
          if (y >> 127n) {
            ysign = 1;
            y = (0n - y) & M128;
          }
          if (y === 0n) yexp = 0;
          else {
            const s = clz128(y);
            yexp = xexp - s;
            y = (y << BigInt(s)) & M128;
          }
        } else {
          const u = shiftRightJam128(xsig, texp - xexp);
          ysign = 1;
          y = ((tsig << 64n) - u) & M128;
          const s = clz128(y);
          yexp = texp - s;
          y = (y << BigInt(s)) & M128;
        }
      }
      // z = y / (1 + t·x).
      let zexp: number;
      let z: bigint;
      if (texp === 0 || yexp === 0) [zexp, z] = [yexp, y];
      else {
        const dexp = texp + xexp - 0x3ffe;
        let d = mul128By64Top(xsig, tsig);
        d = shiftRightJam128(d, 0x3fff - dexp) | (1n << 127n);
        const d0 = d >> 64n;
        zexp = yexp - 1;
        let r192 = y << 64n;
        if (d0 <= y >> 64n) {
          r192 = ((y >> 1n) << 64n);
          zexp++;
        }
        let z0 = estimateDiv128To64(r192 >> 128n, (r192 >> 64n) & M64, d0);
        const M192 = (1n << 192n) - 1n;
        r192 = (r192 - d * z0) & M192;
        while (r192 >> 191n) {
          z0 = (z0 - 1n) & M64;
          r192 = (r192 + d) & M192;
        }
        const z1 = estimateDiv128To64((r192 >> 64n) & M64, r192 & M64, d0);
        z = (z0 << 64n) | z1;
      }
      // arctan(z) = z·(1 + z²·P(z²)).
      let azexp = 0;
      let az = 0n;
      if (zexp !== 0) {
        const z2 = normalizeRoundPack(0, zexp + zexp - 0x3ffe, (z * z) >> 128n, st);
        let accum = mul(COEFFS[5]!, z2, st);
        for (let k = 4; k >= 0; k--) accum = mul(add(COEFFS[k]!, accum, st), z2, st);
        const aexp = expOf(COEFF_0);
        const p = shiftRightJam128(sigOf(accum) << 64n, aexp - expOf(accum));
        const q = ((sigOf(COEFF_0) << 64n) - p) & M128;
        azexp = aexp + zexp - 0x3ffe;
        az = (q * z) >> 128n;
      }
      // arctan(x) = arctan(t) + arctan(z).
      let axexp: number;
      let ax: bigint;
      if (texp === 0) [axexp, ax] = [azexp, az];
      else {
        const [high, low] = TABLE[n]!;
        axexp = expOf(high);
        ax = sigOf(high) << 64n;
        const lowSig = shiftRightJam128(sigOf(low) << 64n, axexp - expOf(low));
        ax = (signOf(low) ? ax - lowSig : ax + lowSig) & M128;
        if (azexp >= axexp) {
          ax = shiftRightJam128(ax, azexp - axexp + 1);
          axexp = azexp + 1;
          az = shiftRightJam128(az, 1);
        } else {
          ax = shiftRightJam128(ax, 1);
          az = shiftRightJam128(az, axexp - azexp + 1);
          axexp++;
        }
        ax = (ysign ? ax - az : ax + az) & M128;
      }
      if (adjExp === 0) [rexp, r] = [axexp, ax];
      else {
        if (adjExp >= axexp) {
          ax = shiftRightJam128(ax, adjExp - axexp + 1);
          rexp = adjExp + 1;
          adj = shiftRightJam128(adj, 1);
        } else {
          ax = shiftRightJam128(ax, 1);
          adj = shiftRightJam128(adj, axexp - adjExp + 1);
          rexp = axexp + 1;
        }
        r = (adjSub ? adj - ax : adj + ax) & M128;
      }
      st.rounding = mode;
      st.precision = savedPrecision;
    }
    f.setSt(1, normalizeRoundPack(sign1, rexp, r | 1n, st));
  }
  f.pop();
  f.raise(st.flags);
}
