import { F64, roundPack } from './round-pack.js';
import { FloatStatus, Rounding } from './status.js';

/**
 * Correctly rounded sin, cos and tan of a double, standing in for the host libm that QEMU 7.2
 * calls for FSIN/FCOS/FSINCOS/FPTAN. glibc's results are the correctly rounded ones for nearly
 * all arguments (all 400 in testdata/host-libm.json; rare exceptions exist, see
 * ops-transcendental.ts), V8's Math.sin/cos/tan much less often (sin(2.5) differs in the last
 * bit), so the values are computed here in fixed point with 1300 fraction bits (enough for any
 * |x| ≤ 2^63 and for subnormal x) and rounded once to nearest.
 */

const F = 1300n;
const ONE = 1n << F;

function atanInv(n: bigint, bits: bigint): bigint {
  // atan(1/n) = Σ (-1)^k / ((2k+1) n^(2k+1)), in fixed point with `bits` fraction bits.
  const n2 = n * n;
  let term = (1n << bits) / n;
  let sum = 0n;
  for (let k = 0n; term !== 0n; k++) {
    sum += (k & 1n ? -term : term) / (2n * k + 1n);
    term /= n2;
  }
  return sum;
}

/** π/2 with F + 80 fraction bits (Machin: π = 16 atan(1/5) − 4 atan(1/239)); the extra bits cover |x| ≤ 2^64. */
const GUARD = 80n;
const HALF_PI = (16n * atanInv(5n, F + GUARD + 8n) - 4n * atanInv(239n, F + GUARD + 8n)) >> 9n;

function fixedOf(d: number): bigint {
  // A finite double as an exact multiple of 2^-F (subnormals need 1074 bits; F is larger).
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(d));
  const bits = view.getBigUint64(0);
  const e = Number(bits >> 52n);
  const m = e === 0 ? bits & ((1n << 52n) - 1n) : (bits & ((1n << 52n) - 1n)) | (1n << 52n);
  const shift = BigInt((e === 0 ? 1 : e) - 1075) + F;
  const v = shift >= 0n ? m << shift : m >> -shift;
  return d < 0 ? -v : v;
}

/** sin and cos of a reduced argument |r| ≤ π/4 (fixed point), by Taylor series. */
function sinCosReduced(r: bigint): [bigint, bigint] {
  let s = 0n;
  let c = 0n;
  let term = ONE; // r^k / k!
  for (let k = 0n; term !== 0n; k++) {
    const sign = (k >> 1n) & 1n ? -1n : 1n;
    if (k & 1n) s += sign * term;
    else c += sign * term;
    term = (term * r) >> F;
    term /= k + 1n;
  }
  return [s, c];
}

/** x = k·π/2 + r with |r| ≤ π/4: (k mod 4, r). */
function reduce(x: bigint): [number, bigint] {
  const hp = HALF_PI >> GUARD; // F fraction bits, for the quotient only
  let k = (x + (x >= 0n ? hp / 2n : -hp / 2n)) / hp;
  let r = ((x << GUARD) - k * HALF_PI) >> GUARD;
  if (r > hp / 2n) {
    k += 1n;
    r -= hp;
  } else if (r < -hp / 2n) {
    k -= 1n;
    r += hp;
  }
  return [Number(((k % 4n) + 4n) % 4n), r];
}

function toDoubleBits(v: bigint): bigint {
  const st = new FloatStatus(Rounding.Nearest, 53);
  if (v === 0n) return 0n;
  return roundPack(v < 0n ? 1 : 0, v < 0n ? -v : v, -Number(F), F64, st);
}

export type LibmFunction = 'sin' | 'cos' | 'tan';

/** The correctly rounded function of a finite double, as double bits (x = ±0 keeps its sign for sin/tan). */
export function libm(fn: LibmFunction, d: number): bigint {
  if (d === 0) {
    if (fn === 'cos') return 0x3ff0000000000000n;
    return Object.is(d, -0) ? 0x8000000000000000n : 0n;
  }
  const [q, r] = reduce(fixedOf(d));
  const [s, c] = sinCosReduced(r);
  const sin = [s, c, -s, -c][q]!;
  const cos = [c, -s, -c, s][q]!;
  if (fn === 'sin') return toDoubleBits(sin);
  if (fn === 'cos') return toDoubleBits(cos);
  return toDoubleBits((sin << F) / cos);
}
