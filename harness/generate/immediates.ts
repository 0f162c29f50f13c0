/**
 * Immediates of 8/16/32/64 bits, biased to edge values: 0, ±1, ±2, the signed minimum and
 * maximum, sign-bit patterns, all-ones, and shift counts around every operand width.
 * Values are signed (the text form keystone and the checker agree on for sign-extended immediates).
 */
import type fc from 'fast-check';
import { G, type Gen } from './gen.js';

export type ImmediateBits = 8 | 16 | 32 | 64;

export function signedRange(bits: ImmediateBits): { min: bigint; max: bigint } {
  const half = 1n << BigInt(bits - 1);
  return { min: -half, max: half - 1n };
}

/** Interpret the low `bits` of `v` as a signed number. */
export function toSigned(v: bigint, bits: number): bigint {
  return BigInt.asIntN(bits, v);
}

const SHIFT_COUNTS = [0n, 1n, 2n, 7n, 8n, 9n, 15n, 16n, 17n, 31n, 32n, 33n, 63n, 64n, 65n, 127n];

export function immediateEdges(bits: ImmediateBits): bigint[] {
  const { min, max } = signedRange(bits);
  const edges = new Set<bigint>([0n, 1n, -1n, 2n, -2n, min, max, min + 1n, max - 1n, 0x55n, -0x56n]);
  if (bits === 8) for (const s of SHIFT_COUNTS) edges.add(toSigned(s, 8));
  for (let b = 8; b < bits; b *= 2) {
    edges.add(1n << BigInt(b - 1)); // sign bit of a narrower width
    edges.add((1n << BigInt(b)) - 1n); // all-ones of a narrower width
    edges.add(-(1n << BigInt(b - 1)) - 1n); // just below the narrower signed range
  }
  return [...edges].filter((v) => v >= min && v <= max);
}

/** A signed immediate of `bits` bits: edge values about half the time, otherwise uniform. */
export function immediateArbitrary(bits: ImmediateBits): fc.Arbitrary<bigint> {
  return immediateGen(bits).arb;
}

const immediateGens = new Map<number, Gen<bigint>>();
export function immediateGen(bits: ImmediateBits): Gen<bigint> {
  let g = immediateGens.get(bits);
  if (!g) {
    const { min, max } = signedRange(bits);
    g = G.oneof({ weight: 1, gen: G.constantFrom(...immediateEdges(bits)) }, { weight: 1, gen: G.bigInt({ min, max }) });
    immediateGens.set(bits, g);
  }
  return g;
}

/** Unsigned immediates (ENTER's frame size, RET's pop count): 0…2^bits-1, edge-biased. */
export function unsignedImmediateArbitrary(bits: 8 | 16): fc.Arbitrary<bigint> {
  return unsignedImmediateGen(bits).arb;
}

const unsignedGens = new Map<number, Gen<bigint>>();
export function unsignedImmediateGen(bits: 8 | 16): Gen<bigint> {
  let g = unsignedGens.get(bits);
  if (!g) {
    const max = (1n << BigInt(bits)) - 1n;
    g = G.oneof(G.constantFrom(0n, 1n, 8n, max, max >> 1n, 1n << BigInt(bits - 1)), G.bigInt({ min: 0n, max }));
    unsignedGens.set(bits, g);
  }
  return g;
}

/** Render an immediate as keystone text (bare numbers are decimal; we always write hex). */
export function formatImmediate(v: bigint): string {
  return v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
}
