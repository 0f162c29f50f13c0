import { describe, expect, it } from 'vitest';
import { initialState } from '../contracts/test-machine.js';
import { bitRangeTable, compareMemory, compareStates, differingBits, flagNames } from './compare.js';

describe('state comparison', () => {
  it('finds the seed notes\' corruption pattern: R13 wrong in bits 63..12, right in 11..0', () => {
    const expected = initialState({ r13: 0xffffffffff7fc209n });
    const actual = initialState({ r13: 0x0000664bced2e209n });
    const diffs = compareStates(expected, actual);
    expect(diffs.map((d) => d.path)).toEqual(['gpr.r13']);
    const rows = bitRangeTable(diffs[0]!);
    expect(rows).toEqual([
      { bits: '63..48', expected: '0xffff', actual: '0x0000', status: 'WRONG' },
      { bits: '47..12', expected: '0xffffff7fc', actual: '0x664bced2e', status: 'WRONG' },
      { bits: '11..0', expected: '0x209', actual: '0x209', status: 'ok' },
    ]);
    const bits = differingBits(diffs[0]!);
    expect(bits).toMatch(/^63\.\.47, 44\.\.43, /);
    expect(Math.min(...bits.split(', ').map((r) => Number(r.split('..').pop())))).toBeGreaterThanOrEqual(12);
  });

  it('ignores masked RFLAGS bits only', () => {
    const a = { ...initialState(), rflags: 0x2n | 0x10n | 0x800n }; // AF OF
    const b = { ...initialState(), rflags: 0x2n };
    expect(compareStates(a, b, { flagMask: 0x10n | 0x800n })).toEqual([]);
    expect(compareStates(a, b, { flagMask: 0x10n }).map((d) => d.path)).toEqual(['rflags']);
    expect(flagNames(0x810n)).toBe('AF OF');
  });

  it('compares optional parts only when both sides have them', () => {
    const a = initialState();
    const b = { ...initialState(), gdtr: undefined, seg: { ...initialState().seg, cs: { selector: a.seg.cs.selector } } };
    expect(compareStates(a, b)).toEqual([]);
  });

  it('groups differing memory bytes into runs', () => {
    const e = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    const a = Uint8Array.from(e);
    a[2] = 0;
    a[5] = 0;
    a[19] = 0;
    const d = compareMemory(0x1000n, e, a);
    expect(d.map((x) => [x.addr, x.expected.length])).toEqual([[0x1002n, 4], [0x1013n, 1]]);
  });
});

describe('memory region coalescing', () => {
  it('merges touching and overlapping regions, later writes winning', async () => {
    const { coalesce } = await import('./lockstep.js');
    const out = coalesce([
      { addr: 0x1000n, bytes: Uint8Array.of(1, 1, 1, 1) },
      { addr: 0x2000n, bytes: Uint8Array.of(9) },
      { addr: 0x1004n, bytes: Uint8Array.of(2, 2) },
      { addr: 0x1002n, bytes: Uint8Array.of(3) },
    ]);
    expect(out).toEqual([
      { addr: 0x1000n, bytes: Uint8Array.of(1, 1, 3, 1, 2, 2) },
      { addr: 0x2000n, bytes: Uint8Array.of(9) },
    ]);
  });
});
