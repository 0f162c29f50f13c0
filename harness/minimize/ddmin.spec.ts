import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ddmin } from './ddmin.js';

/** A list of distinct numbers and a non-empty subset of it that "causes the failure". */
const listWithCulprits = fc
  .uniqueArray(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 60 })
  .chain((items) => fc.tuple(fc.constant(items), fc.subarray(items, { minLength: 1, maxLength: Math.min(items.length, 5) })));

describe('ddmin', () => {
  it('finds exactly the culprits when the failure needs all of them (property)', async () => {
    await fc.assert(
      fc.asyncProperty(listWithCulprits, async ([items, culprits]) => {
        const needed = new Set(culprits);
        const test = async (subset: readonly number[]) => [...needed].every((x) => subset.includes(x));
        const r = await ddmin(items, test);
        expect(new Set(r.items)).toEqual(needed);
        // order is preserved
        expect(r.items).toEqual(items.filter((x) => needed.has(x)));
        expect(r.exhausted).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('returns a 1-minimal failing subset for a predicate with alternatives (property)', async () => {
    // fails iff the subset holds {a, b} or {c}: several minimal answers, any is acceptable
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 0, max: 1000 }), { minLength: 3, maxLength: 40 }), async (items) => {
        const [a, b, c] = items as [number, number, number];
        const test = async (s: readonly number[]) => (s.includes(a) && s.includes(b)) || s.includes(c);
        const r = await ddmin(items, test);
        expect(await test(r.items)).toBe(true);
        for (let i = 0; i < r.items.length; i++) expect(await test(r.items.filter((_, j) => j !== i))).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('never exceeds its budget of test calls, and returns a failing subset anyway (property)', async () => {
    await fc.assert(
      fc.asyncProperty(listWithCulprits, fc.integer({ min: 0, max: 20 }), async ([items, culprits], budget) => {
        let calls = 0;
        const test = async (subset: readonly number[]) => {
          calls++;
          return culprits.every((x) => subset.includes(x));
        };
        const r = await ddmin(items, test, { budget });
        expect(calls).toBeLessThanOrEqual(budget);
        expect(r.calls).toBe(calls);
        expect(culprits.every((x) => r.items.includes(x))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('uses O(log n) calls for a single culprit and never repeats a subset', async () => {
    const items = Array.from({ length: 1024 }, (_, i) => i);
    const seen = new Set<string>();
    const r = await ddmin(items, async (s) => {
      const key = s.join(',');
      expect(seen.has(key)).toBe(false);
      seen.add(key);
      return s.includes(700);
    });
    expect(r.items).toEqual([700]);
    expect(r.calls).toBeLessThanOrEqual(2 * Math.log2(items.length) + 2);
  });

  it('tries the empty list only when asked', async () => {
    expect((await ddmin([1, 2, 3], async () => true)).items).toHaveLength(1);
    expect((await ddmin([1, 2, 3], async () => true, { tryEmpty: true })).items).toEqual([]);
  });
});
