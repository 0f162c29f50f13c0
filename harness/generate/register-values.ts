/**
 * Initial values for general registers and RFLAGS, biased to the values where emulators go wrong:
 * 0, 1, -1, sign bits of every width, 2^31, 2^32-1, 2^63, canonical and non-canonical addresses
 * and addresses inside the test machine's pages. Registers used for addressing are not drawn
 * from here: the memory-operand resolver computes them (see memory-operand.ts).
 */
import type fc from 'fast-check';
import { G, type Gen } from './gen.js';
import { LAYOUT } from '../../contracts/test-machine.js';

const M64 = (1n << 64n) - 1n;

export const REGISTER_EDGE_VALUES: readonly bigint[] = [
  0n, 1n, 2n, M64, M64 - 1n,
  0x7fn, 0x80n, 0xffn, 0x100n,
  0x7fffn, 0x8000n, 0xffffn, 0x10000n,
  0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n,
  0x7fffffffffffffffn, 0x8000000000000000n, 0x8000000000000001n,
  0xffffffff80000000n, 0xffffffff7fffffffn, 0xffff0000ffff0000n, 0x5555555555555555n, 0xaaaaaaaaaaaaaaaan,
  // canonical addresses: top of the lower half, bottom of the upper half, a kernel text address
  0x00007ffffffff000n, 0x00007fffffffffffn, 0xffff800000000000n, 0xffffffff81000000n,
  // non-canonical addresses
  0x0000800000000000n, 0x7fff800000000000n, 0xfffe000000000000n,
  // the test machine: code, scratch data, its last byte, the first unmapped address
  LAYOUT.code, LAYOUT.data, LAYOUT.data + BigInt(LAYOUT.dataSize) - 1n, LAYOUT.unmapped,
];

/** One initial 64-bit register value: edge values, small numbers, or anything. */
export const REGISTER_VALUE_GEN: Gen<bigint> = G.oneof(
  { weight: 4, gen: G.constantFrom(...REGISTER_EDGE_VALUES) },
  { weight: 2, gen: G.bigInt({ min: 0n, max: 0x1ffn }) },
  { weight: 1, gen: G.bigInt({ min: -0x200n, max: -1n }).map((v) => BigInt.asUintN(64, v)) },
  { weight: 3, gen: G.bigInt({ min: 0n, max: M64 }) },
);

export function registerValueArbitrary(): fc.Arbitrary<bigint> {
  return REGISTER_VALUE_GEN.arb;
}

/** Status flags (CF PF AF ZF SF OF) and DF, with reserved bit 1 set; IF/TF stay clear. */
export const RFLAGS_GENERATED_MASK = 0x8d5n | 0x400n;

export const RFLAGS_GEN: Gen<bigint> = G.bigInt({ min: 0n, max: 0xfffn }).map((v) => (v & RFLAGS_GENERATED_MASK) | 0x2n);

export function rflagsArbitrary(): fc.Arbitrary<bigint> {
  return RFLAGS_GEN.arb;
}
