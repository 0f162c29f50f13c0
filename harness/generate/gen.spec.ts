import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { G } from './gen.js';
import { fastProgramArbitrary, programArbitrary, type ProgramOptions } from './program.js';

const serialize = (v: unknown): string =>
  JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x));

describe('Gen: the fast draw and the fast-check arbitrary agree', () => {
  it('on combinators (same values for the same seed)', () => {
    const g = G.record({
      a: G.oneof({ weight: 3, gen: G.constantFrom(1, 2, 3) }, { weight: 1, gen: G.integer({ min: -5, max: 500 }) }),
      b: G.tuple(G.boolean(), G.bigInt({ min: 0n, max: 1n << 64n }), G.double({ min: 0, max: 1, noNaN: true })),
      c: G.array(G.constantFrom('x', 'y'), { minLength: 0, maxLength: 5 }),
      // lengths: capped by the default size (2·min + 10), by maxLength, unbounded, fixed
      e: G.tuple(
        G.array(G.integer({ min: 0, max: 3 }), { minLength: 2 }),
        G.array(G.boolean(), { minLength: 1, maxLength: 40 }),
        G.array(G.integer(), { maxLength: 100, size: 'medium' }),
        G.array(G.constant(0), { minLength: 10, maxLength: 10 }),
        G.array(G.array(G.boolean(), { maxLength: 3 }), {}),
      ),
      d: G.integer({ min: 0, max: 2 }).chain((n) => [G.constant('zero'), G.constantFrom('one'), G.integer().map(String)][n]!),
    });
    for (let seed = 0; seed < 50; seed++) {
      expect(serialize(fc.sample(g.fastArbitrary(), { seed, numRuns: 5 }))).toBe(serialize(fc.sample(g.arb, { seed, numRuns: 5 })));
    }
  });

  it('on leaves across their ranges (bias ranges, bigints past 2^32, doubles between bounds)', () => {
    const g = G.tuple(
      G.integer(),
      G.integer({ min: -7, max: 3 }),
      G.integer({ min: 5, max: 5 }),
      G.integer({ min: 1000, max: 0x7fffffff }),
      G.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n }),
      G.bigInt({ min: -0x400n, max: -1n }),
      G.bigInt({ min: 9n, max: 9n }),
      G.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      G.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
      G.bigInt({ min: -5n, max: 0xbffffffan }), // 3 * 2^30 values: rejection sampling half the time
      G.bigInt({ min: 1n << 60n, max: (1n << 60n) + 0xffffn }),
      // between 2^32 and 2^64 values: two words per draw, remainders and rejections done on words
      G.bigInt({ min: 0n, max: 0xffffffffffffn }),
      G.bigInt({ min: 0n, max: 0x100000000n }), // 2^32 + 1 values: quotients near 2^32
      G.bigInt({ min: 0n, max: 1n << 63n }), // 2^63 + 1 values: a third of the draws rejected
      G.bigInt({ min: -5n, max: 3n << 40n }),
      G.bigInt({ min: -(1n << 62n), max: 0x2fffffffffffffffn }),
      G.bigInt({ min: (1n << 62n) + 7n, max: (1n << 64n) - 2n }),
      G.bigInt({ min: -(1n << 70n), max: -(1n << 70n) + (1n << 40n) }),
      G.double({ min: 0, max: 1e-300, noNaN: true }),
      G.double({ min: 1, max: 2, noNaN: true }),
      G.double({ min: 0, max: 1, noNaN: true }),
      G.double({ min: 0.25, max: 1e300, noNaN: true }),
      G.boolean(),
    );
    for (let seed = 0; seed < 400; seed++) {
      expect(serialize(fc.sample(g.fastArbitrary(), { seed, numRuns: 3 }))).toBe(serialize(fc.sample(g.arb, { seed, numRuns: 3 })));
    }
    expect(() => G.double({ min: -1, max: 1, noNaN: true })).toThrow(/min/);
  });

  it('on records with awkward keys (quotes, a number), and refuses __proto__', () => {
    expect(() => G.record<Record<string, unknown>>({ ['__proto__']: G.boolean() })).toThrow(/__proto__/);
    const g = G.record<Record<string, unknown>>({ 'it\'s "x"': G.integer({ min: 0, max: 9 }), 7: G.boolean(), z: G.constantFrom('p', 'q') });
    for (let seed = 0; seed < 30; seed++) {
      const fast = fc.sample(g.fastArbitrary(), { seed, numRuns: 3 });
      expect(serialize(fast)).toBe(serialize(fc.sample(g.arb, { seed, numRuns: 3 })));
      for (const v of fast) {
        expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
        expect(Object.keys(v)).toEqual(['7', 'it\'s "x"', 'z']);
      }
    }
  });

  it('on whole programs (the campaign samples fastProgramArbitrary)', () => {
    const options: ProgramOptions[] = [
      { length: [10, 10], encoder: 'keystone' },
      { length: [10, 10], encoder: 'raw' },
      { length: [1, 10], encoder: 'keystone', families: ['string', 'atomic'] },
    ];
    for (const o of options) {
      for (let seed = 0; seed < 20; seed++) {
        const fast = fc.sample(fastProgramArbitrary(o), { seed, numRuns: 1 });
        const slow = fc.sample(programArbitrary(o), { seed, numRuns: 1 });
        expect(serialize(fast)).toBe(serialize(slow));
      }
    }
  });
});
