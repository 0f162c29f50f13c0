import { describe, expect, it } from 'vitest';
import { caseSeed } from './protocol.js';

describe('caseSeed', () => {
  it('gives nearby campaign seeds different cases (seed ^ index used to make case 5 of seed 2 case 0 of seed 7)', () => {
    for (const [a, b] of [[2, 7], [1, 2], [0, 1], [4, 5]] as const) {
      const first = new Set(Array.from({ length: 2000 }, (_, i) => caseSeed(a, i)));
      const shared = Array.from({ length: 2000 }, (_, i) => caseSeed(b, i)).filter((s) => first.has(s)).length;
      expect(shared, `seeds ${a} and ${b}`).toBe(0);
    }
  });

  it('is deterministic and distinct per index within a campaign', () => {
    const seeds = Array.from({ length: 5000 }, (_, i) => caseSeed(99, i));
    expect(new Set(seeds).size).toBe(5000);
    expect(caseSeed(99, 17)).toBe(seeds[17]);
  });
});
