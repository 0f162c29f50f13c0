import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashRanges } from './batch-hash.js';
import { HASH_SEED } from './batch-layout.js';
import type { HashRange } from './batch-image.js';

/** The runner's loop (batch-layout.ts hash_next…) spelled with BigInts: add rax, [rsi]; add rdx, rax. */
function reference(ram: Uint8Array, ranges: readonly HashRange[]): { a: bigint; b: bigint } {
  const view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  let a = HASH_SEED;
  let b = 0n;
  for (const r of ranges) {
    for (let k = 0; k < r.qwords; k++) {
      a = BigInt.asUintN(64, a + view.getBigUint64(r.addr + 8 * k, true));
      b = BigInt.asUintN(64, b + a);
    }
  }
  return { a, b };
}

function hashed(ram: Uint8Array, ranges: readonly HashRange[]): { a: bigint; b: bigint } {
  const out = new Uint32Array(4);
  hashRanges(new Uint32Array(ram.buffer, ram.byteOffset, ram.byteLength / 4), ranges, out);
  return { a: (BigInt(out[1]!) << 32n) | BigInt(out[0]!), b: (BigInt(out[3]!) << 32n) | BigInt(out[2]!) };
}

const RAM_QWORDS = 512;

describe('hashRanges (32-bit halves) against the runner\'s checksum in BigInts', () => {
  it('agrees on random memory and ranges, carries included', () => {
    // qwords biased to all-ones and sign bits, so that both halves carry often
    const qword = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(2n ** 64n - 1n, 2n ** 63n, 2n ** 32n - 1n, 2n ** 32n, 0n));
    const range = fc.record({ start: fc.nat({ max: RAM_QWORDS - 1 }), qwords: fc.nat({ max: 64 }) });
    fc.assert(
      fc.property(fc.array(qword, { minLength: RAM_QWORDS, maxLength: RAM_QWORDS }), fc.array(range, { maxLength: 4 }), (qwords, rs) => {
        const ram = new Uint8Array(RAM_QWORDS * 8);
        const view = new DataView(ram.buffer);
        qwords.forEach((q, i) => view.setBigUint64(8 * i, q, true));
        const ranges = rs.map((r) => ({ addr: 8 * r.start, qwords: Math.min(r.qwords, RAM_QWORDS - r.start) }));
        expect(hashed(ram, ranges)).toEqual(reference(ram, ranges));
      }),
      { numRuns: 300, seed: 12 },
    );
  });

  it('carries out of the low half of both sums (all-ones qwords)', () => {
    const ram = new Uint8Array(64).fill(0xff);
    const ranges = [{ addr: 0, qwords: 8 }];
    // a = seed - 8, b = Σ (seed - k) for k = 1..8, mod 2^64
    const a = BigInt.asUintN(64, HASH_SEED - 8n);
    let b = 0n;
    for (let k = 1n; k <= 8n; k++) b = BigInt.asUintN(64, b + HASH_SEED - k);
    expect(hashed(ram, ranges)).toEqual({ a, b });
  });

  it('is the seed and zero over no memory', () => {
    expect(hashed(new Uint8Array(8), [])).toEqual({ a: HASH_SEED, b: 0n });
  });
});
