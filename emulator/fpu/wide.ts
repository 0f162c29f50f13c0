import { bitLength } from './floatx80.js';
import { roundPack, x80Format } from './round-pack.js';
import type { FloatStatus } from './status.js';

/**
 * softfloat's fixed-width significand helpers (128/192-bit values as bigints), for the
 * transcendental algorithms ported from QEMU 7.2, whose results depend on exactly where they
 * truncate and jam.
 */

export const M64 = (1n << 64n) - 1n;
export const M128 = (1n << 128n) - 1n;

/** (hi:lo) shifted right by `count`, the lowest bit set if any 1 was shifted out (shift128RightJamming). */
export function shiftRightJam128(v: bigint, count: number): bigint {
  if (count <= 0) return v;
  if (count >= 128) return v !== 0n ? 1n : 0n;
  const c = BigInt(count);
  return (v >> c) | ((v & ((1n << c) - 1n)) !== 0n ? 1n : 0n);
}

/** Top 128 bits of a 128×64-bit product (mul128By64To192, keeping z0:z1). */
export function mul128By64Top(a: bigint, b: bigint): bigint {
  return (a * b) >> 64n;
}

/** normalizeRoundAndPackFloatx80 at extended precision: (sig0:sig1) with the binary point after sig0's top bit, biased `exp`. */
export function normalizeRoundPack(sign: number, exp: number, sig: bigint, st: FloatStatus): bigint {
  const saved = st.precision;
  st.precision = 64;
  const v = roundPack(sign, sig & M128, exp - 16383 - 127, x80Format(64), st);
  st.precision = saved;
  return v;
}

/** normalizeFloatx80Subnormal: a denormal significand normalised, with its (biased, ≤ 1) exponent. */
export function normalizeSubnormal(sig: bigint): [number, bigint] {
  const shift = 64 - bitLength(sig);
  return [1 - shift, (sig << BigInt(shift)) & M64];
}

/** estimateDiv128To64: softfloat's approximation (q..q+2) of (a0:a1)/b for b ≥ 2^63; all-ones when it overflows. */
export function estimateDiv128To64(a0: bigint, a1: bigint, b: bigint): bigint {
  if (b <= a0) return M64;
  const b0 = b >> 32n;
  let z = (b0 << 32n) <= a0 ? 0xffffffff00000000n : ((a0 / b0) << 32n) & M64;
  let rem = (((a0 << 64n) | a1) - b * z) & M128;
  while (rem >> 127n) {
    z = (z - 0x100000000n) & M64;
    rem = (rem + (b << 32n)) & M128;
  }
  const rem0 = (((rem >> 64n) << 32n) | ((rem & M64) >> 32n)) & M64;
  z |= (b0 << 32n) <= rem0 ? 0xffffffffn : rem0 / b0;
  return z & M64;
}
