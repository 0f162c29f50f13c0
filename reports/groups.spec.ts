import { describe, expect, it } from 'vitest';
import { campaignFixture, manyDivergences, ungroupedFixture } from './fixture.js';
import { groupSections, verdictText } from './groups.js';

describe('groupSections', () => {
  it('orders failing groups by cases, keeps suppressed ones apart, and sorts each group\'s signatures by cases', () => {
    const g = groupSections(manyDivergences({ divergences: 200, groups: 12 }));
    expect(g.active.map((s) => s.cases)).toEqual([...g.active.map((s) => s.cases)].sort((a, b) => b - a));
    expect(g.suppressed.map((s) => s.group.id)).toHaveLength(2);
    for (const s of [...g.active, ...g.suppressed]) {
      expect(s.divergences.map((d) => d.count)).toEqual([...s.divergences.map((d) => d.count)].sort((a, b) => b - a));
      expect(s.divergences.every((d) => d.group === s.group.id)).toBe(true);
    }
    expect(g.active.reduce((n, s) => n + s.divergences.length, 0) + g.suppressed.reduce((n, s) => n + s.divergences.length, 0)).toBe(200);
  });

  it('puts a group\'s suppressed and failing signatures each in its own section', () => {
    const r = campaignFixture();
    r.divergences[1] = { ...r.divergences[1]!, group: 'G1', suppressed: { reason: 'accepted' } };
    const g = groupSections(r);
    expect(g.active.map((s) => [s.group.id, s.divergences.length])).toEqual([['G1', 1]]);
    expect(g.suppressed.map((s) => [s.group.id, s.divergences.length, s.suppressedReason])).toEqual([
      ['G2', 1, 'BSF with a zero source leaves the destination undefined (Intel); QEMU keeps it, our emulator zeroes it'],
      ['G1', 1, 'accepted'],
    ]);
  });

  it('collects divergences naming no (or an unknown) group in a stand-in section, last', () => {
    const r = campaignFixture();
    r.divergences[1] = { ...r.divergences[1]!, group: 'G99' };
    r.divergences[1]!.count = 1000;
    const g = groupSections(r);
    expect(g.active.map((s) => [s.kind, s.group.id])).toEqual([['group', 'G1'], ['ungrouped', 'ungrouped']]);
    expect(verdictText(g).text).toBe('FAIL: 1 root-cause group (1 signature, 1,037 cases); 1 signature in no group');
    expect(verdictText(groupSections(ungroupedFixture())).text).toBe('FAIL: 2 distinct divergences (41 cases)');
    expect(verdictText(groupSections({ ...r, divergences: [] }))).toEqual({ pass: true, text: 'PASS: no divergences' });
    expect(verdictText(groupSections({ ...r, divergences: [] }), 0, 0)).toEqual({ pass: false, text: 'NO TESTS RAN: nothing was compared' });
    // a case the batch saw diverge but nobody located is no pass
    expect(verdictText(groupSections({ ...r, divergences: [] }), 3)).toEqual({ pass: false, text: 'FAIL: no divergence located, but 3 cases diverged unlocated (replay them)' });
  });
});
