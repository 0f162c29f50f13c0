import { describe, expect, it } from 'vitest';
import { consoleSummary } from './console.js';
import { campaignFixture, manyDivergences, ungroupedFixture } from './fixture.js';

describe('consoleSummary', () => {
  it('prints the rates, the verdict and each group with one replay command', () => {
    expect(consoleSummary(campaignFixture())).toEqual([
      '128,400 tests in 55.8 s of testing (2,301/s); 60.4 s wall: 0.7 s start-up, 3.6 s minimizing; seed 0x5eed',
      'FAIL: 2 root-cause groups (2 signatures, 41 cases); 1 suppressed group (1 signature, listed in the report)',
      '  G1  37 cases, 1 signature: diverges when a 64-bit ADD reads its source from memory: the upper half of the sum is lost; never with a register source',
      '      replay: npx difftest replay corpus/divergences/fuzz-7f3a-000113.json --mode step',
      '  G3  4 cases, 1 signature: diverges when the PUSH imm32 immediate has its sign bit set: the pushed value is zero-extended',
      '      replay: npx difftest replay corpus/divergences/fuzz-7f3a-000871.json',
    ]);
  });

  it('stays a dozen lines for 1,000 divergences', () => {
    const lines = consoleSummary(manyDivergences({ divergences: 1000 }));
    expect(lines).toHaveLength(2 + 5 * 2 + 1);
    expect(lines.at(-1)).toBe('  …and 33 more groups in the report');
    expect(lines[2]).toBe('  G1  1,555 cases, 234 signatures: diverges when REX.B is set and ModRM.rm names a register or base; never without REX.B');
  });

  it('lists signatures when the result has no groups', () => {
    const lines = consoleSummary(ungroupedFixture(), { top: 1 });
    expect(lines.slice(1)).toEqual([
      'FAIL: 2 distinct divergences (41 cases); 1 suppressed group (1 signature, listed in the report)',
      '  37× add r64, m64 [rip-relative] | gpr.r13 rflags',
      '      replay: npx difftest replay corpus/divergences/fuzz-7f3a-000113.json --mode step',
      '  …and 1 more signature in the report',
    ]);
  });
});
