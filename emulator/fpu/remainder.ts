import { Cls, isInvalidEncoding, isNaNCls, unpackX80 } from './floatx80.js';
import { invalid, nanResult, pickNaN } from './nan.js';
import { packZero, roundPack, x80Format } from './round-pack.js';
import type { FloatStatus } from './status.js';

/**
 * Partial remainders (FPREM/FPREM1) and scaling (FSCALE), following the special cases of
 * QEMU 7.2's floatx80_modrem and floatx80_scalbn; finite results are exact here.
 */

export interface Remainder {
  readonly value: bigint;
  /** |integer quotient| of the truncating form (its low three bits go to C0/C3/C1); 0 otherwise. */
  readonly quotient: bigint;
}

/**
 * a rem b, exact before the final rounding per `st` (QEMU 7.2 rounds the remainder, and an `a`
 * returned unchanged, to FCW.PC). `mod`: quotient truncated (FPREM); else rounded to nearest
 * even (FPREM1), for which QEMU 7.2 reports no quotient bits.
 */
export function modrem(a: bigint, b: bigint, mod: boolean, st: FloatStatus): Remainder {
  if (isInvalidEncoding(a) || isInvalidEncoding(b)) return { value: invalid(st), quotient: 0n };
  const x = unpackX80(a);
  const y = unpackX80(b);
  if (isNaNCls(x.cls) || isNaNCls(y.cls)) return { value: pickNaN(x, y, st), quotient: 0n };
  if (x.cls === Cls.Inf || y.cls === Cls.Zero) return { value: invalid(st), quotient: 0n };
  const fmt = x80Format(st.precision);
  if (x.cls === Cls.Zero) return { value: packZero(x.sign, fmt), quotient: 0n };
  if (y.cls === Cls.Inf) return { value: roundPack(x.sign, x.sig, x.exp, fmt, st), quotient: 0n };
  const exp = Math.min(x.exp, y.exp);
  const ax = x.sig << BigInt(x.exp - exp);
  const by = y.sig << BigInt(y.exp - exp);
  let q = ax / by;
  let r = ax - q * by;
  let sign = x.sign;
  if (!mod) {
    const twice = r * 2n;
    if (twice > by || (twice === by && (q & 1n) === 1n)) {
      r = by - r;
      q += 1n;
      sign ^= 1;
    }
  }
  const quotient = mod ? q : 0n;
  if (r === 0n) return { value: packZero(sign, fmt), quotient };
  return { value: roundPack(sign, r, exp, fmt, st), quotient };
}

/** a × 2^n rounded per `st` (n clamped to ±65536 as softfloat does). */
export function scalbn(a: bigint, n: number, st: FloatStatus): bigint {
  if (isInvalidEncoding(a)) return invalid(st);
  const x = unpackX80(a);
  if (isNaNCls(x.cls)) return nanResult(x, st);
  if (x.cls !== Cls.Normal) return a;
  const k = Math.min(Math.max(n, -0x10000), 0x10000);
  return roundPack(x.sign, x.sig, x.exp + k, x80Format(st.precision), st);
}
