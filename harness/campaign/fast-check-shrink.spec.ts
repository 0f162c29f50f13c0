import { describe, expect, it } from 'vitest';
import type { Case } from '../../corpus/case-schema.js';
import { createCaseSource } from './case-source.js';
import { shrinkWithFastCheck } from './fast-check-shrink.js';

const config = { seed: 31, length: [4, 4] as const, raw: false };
const hasAdd = (c: Case) => (c.asm ?? []).some((l) => /^add\b/.test(l));
const regWeight = (c: Case) => Object.values(c.regs).reduce((a, v) => a + (v === undefined || v === 0n ? 0 : 1), 0);

describe('shrinkWithFastCheck', () => {
  it("replays the campaign's case as fast-check's first value, then shrinks it while the predicate holds", async () => {
    const source = createCaseSource(config);
    let index = 0;
    let original: Case | undefined;
    for (; index < 200; index++) {
      const g = await source(index);
      if (g.case && hasAdd(g.case)) {
        original = g.case;
        break;
      }
    }
    expect(original).toBeDefined();
    const seen: Case[] = [];
    const r = await shrinkWithFastCheck(config, index, async (c) => {
      seen.push(c);
      return hasAdd(c);
    });
    // the first candidate is exactly the case the campaign ran
    expect(Buffer.from(seen[0]!.code).toString('hex')).toBe(Buffer.from(original!.code).toString('hex'));
    expect(seen[0]!.regs).toEqual(original!.regs);
    expect(r).toBeDefined();
    expect(hasAdd(r!.case)).toBe(true);
    expect(r!.runs).toBeLessThanOrEqual(80);
    expect(r!.runs).toBeGreaterThan(1);
    // shrinking moved toward simpler values: no more live registers than before
    expect(regWeight(r!.case)).toBeLessThanOrEqual(regWeight(original!));
    expect(r!.case).not.toEqual(original);
  });

  it('gives up (undefined) when the replayed case does not fail', async () => {
    expect(await shrinkWithFastCheck(config, 0, async () => false)).toBeUndefined();
  });
});
