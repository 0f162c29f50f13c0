import { describe, expect, it } from 'vitest';
import { SEED_ACTUAL_R13, SEED_EXPECTED_R13, XSS_SIGNATURE, campaignFixture, manyDivergences, ungroupedFixture } from './fixture.js';
import { renderMarkdown } from './markdown.js';
import { relativizeResult } from './paths.js';

/** Positions of headings, to assert their order. */
const at = (md: string, heading: string) => {
  const i = md.indexOf(`\n${heading}`);
  if (i < 0) throw new Error(`no heading ${heading}`);
  return i;
};

describe('summary.md', () => {
  const md = renderMarkdown(campaignFixture());

  it('puts the groups first, then the suppressed ones, then the signatures of the top groups, then analyzed cases in full', () => {
    const order = ['## Root-cause groups (2)', '## Suppressed groups (1)', '## Signatures of the top 2 groups', '## Analyzed divergences in full', '## Coverage:'].map((h) => at(md, h));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(md).toContain('| **G1** | 37 | 1 | diverges when a 64-bit ADD reads its source from memory: the upper half of the sum is lost; never with a register source | `memory operand`, `REX.W` |');
    expect(md).toContain('| **G2** | 12 | 1 | BSF with a zero source leaves the destination undefined (Intel); QEMU keeps it, our emulator zeroes it |');
    const groups = md.slice(at(md, '## Root-cause groups'), at(md, '## Suppressed groups'));
    expect(groups).not.toContain('bsf'); // accepted divergences are not failures
  });

  it('answers the seed case in one line: instruction (numbered from 1), register, bit extent, both values', () => {
    expect(md).toContain(
      '**instruction 2 of 2 (`add r13, [rip+0xffef]` @ 0x000000000001000a):** R13 differs in bits 63..44 ' +
        `(expected 0x${SEED_EXPECTED_R13.toString(16)}, actual 0x${SEED_ACTUAL_R13.toString(16).padStart(16, '0')})`,
    );
    expect(md).toContain('| `add r64, m64 [rip-relative] \\| gpr.r13 rflags` | 37 | instruction 2 of 2 (`add r13, [rip+0xffef]`) | R13 bits 63..44; RFLAGS SF 1→0 | analyzed |');
  });

  it('has the seed notes\' bit-range table with WRONG/ok where they belong', () => {
    expect(md).toContain('| Bits | Expected | Actual | Status |');
    expect(md).toContain('| 63..48 | `0xefbe` | `0x0000` | **WRONG** |');
    expect(md).toContain('| 47..12 | `0xd000dc0fc` | `0x0000dc0fc` | **WRONG** |');
    expect(md).toContain('| 11..0 | `0xbcf` | `0xbcf` | ok |');
  });

  it('has the header, the program with the divergent instruction marked, flags, memory and replay', () => {
    expect(md).toMatch(/^# difftest report `2025-01-14T10-22-05-seed-5eed`\n/);
    expect(md).toContain('**FAIL: 2 root-cause groups (2 signatures, 41 cases)**; 1 suppressed group (1 signature), 1 oracle crash');
    expect(md).toContain('| **Oracle** | QEMU 7.2.15 (Debian 1:7.2+dfsg-7+deb12u7), TCG (CPU model qemu64) |');
    expect(md).toMatch(/>> 2 +0x000000000001000a +4c 03 2d ef ff 00 00 +add r13, \[rip\+0xffef\] +<-- diverges/);
    expect(md).toContain('| SF | 1 | 0 | **WRONG** |');
    expect(md).toContain('0x000000000000fffc  expected ff ff ff ff\n                    actual   00 00 00 00');
    expect(md).toContain('```sh\nnpx difftest replay corpus/divergences/fuzz-7f3a-000113.json --mode step\n```');
    expect(md).toContain('- Minimized: 9 → 1 instruction in 1.3 s');
  });

  it('gives testing rates with the wall time beside them', () => {
    expect(md).toContain('| **Tests** | 128,400 tests in 55.8 s of testing (2,301/s); 60.4 s wall: 0.7 s start-up, 3.6 s minimizing |');
    const old = renderMarkdown({ ...campaignFixture(), testingSeconds: undefined, startupSeconds: undefined, minimizeSeconds: undefined });
    expect(old).toContain('| **Tests** | 128,400 tests in 60.4 s wall (2,126/s, start-up and minimizing included) |');
  });

  it('names the planted bugs and the CPU model of the system under test', () => {
    expect(md).toContain('| **System under test** | emulator (difftest-x86 emulator 0.1.0 (in-process)), CPU model qemu64; planted bugs switched on: add64-mem-trunc32 (64-bit ADD with a memory source uses only the low 32 bits of the source) |');
    const clean = renderMarkdown({ ...campaignFixture(), dut: { name: 'gdb', implementation: 'gdb stub at unix:/tmp/s', mutants: [] } });
    expect(clean).toContain('| **System under test** | gdb (gdb stub at unix:/tmp/s); no planted bugs |');
  });

  it('names the rows not exercised beside the exercised count', () => {
    expect(md).toContain('## Coverage: 5 of 7 opcode-table rows exercised (71.4%)\n\nNot exercised (2): `adc r/m16, imm16`, `sbb r/m8, imm8`');
  });

  it('lists crashes, rejects, masked flags and sync rules', () => {
    expect(md).toContain('| `fuzz-7f3a-000977` | QEMU exited (signal SIGSEGV) while stepping; restarted, case skipped |');
    expect(md).toContain('| `bsf` | CF PF AF SF OF | 288 |');
    expect(md).toContain('| `rdtsc` | RDTSC/RDTSCP results are taken from the oracle |');
    expect(md).toContain('| `mov sil, ah` | keystone encoded \\`mov dh, ah\\` (REX dropped); decoder disagrees | 17 |');
  });

  it('escapes data (no raw HTML, no table-breaking pipes) and marks partial runs', () => {
    // Raw HTML is only allowed inside code spans and fenced blocks, where GitHub shows it literally.
    const prose = md.replace(/```[\s\S]*?```/g, '').replace(/(?<!\\)(`+)[\s\S]*?(?<!\\)\1/g, '');
    expect(prose).not.toMatch(/[<>]/);
    const bad = renderMarkdown({ ...campaignFixture(), oracleCrashes: [{ caseId: 'c1', message: '<img src=x> *boom* | a_b' }] });
    expect(bad).toContain('| &lt;img src=x&gt; \\*boom\\* \\| a\\_b |');
    expect(md).toContain('`push imm32 <script>alert("x")</script> & \\| mem[rsp-8]`'); // inside a code span
    const partial = renderMarkdown({ ...campaignFixture(), partial: true });
    expect(partial).toMatch(/^# difftest report `[^`]+` \(PARTIAL\)\n\n> \*\*PARTIAL: /);
  });

  it('says PASS when nothing diverged', () => {
    const text = renderMarkdown({ ...campaignFixture(), divergences: [], groups: [], oracleCrashes: [] });
    expect(text).toContain('**PASS: no divergences**');
    expect(text).toContain('## Root-cause groups (0)\n\nnone');
    expect(text).not.toContain('## Analyzed divergences');
  });

  it('renders a result without groups (written before grouping existed): its signatures are the list', () => {
    const old = renderMarkdown(ungroupedFixture());
    expect(old).toContain('**FAIL: 2 distinct divergences (41 cases)**');
    expect(old).toContain('## Divergences (2; not grouped by root cause)');
    expect(old).toContain('| `add r64, m64 [rip-relative] \\| gpr.r13 rflags` | 37 | instruction 2 of 2 (`add r13, [rip+0xffef]`) | R13 bits 63..44; RFLAGS SF 1→0 |');
    expect(old).toContain('| (no group) | 12 | 1 | BSF with a zero source');
    expect(old).toContain('### `add r64, m64 [rip-relative] \\| gpr.r13 rflags` (37 cases)');
    expect(old).not.toContain('Grouped as');
  });

  it('keeps the signature in a code span even when it contains backticks', () => {
    const r = campaignFixture();
    r.divergences[0]!.signature = 'a`b';
    expect(renderMarkdown(r)).toContain('``a`b``');
    expect(XSS_SIGNATURE).toContain('<script>');
  });
});

describe('summary.md for 1,000 divergences', () => {
  const runDir = '/home/ci/work/difftest/reports/runs/2025-02-03T09-00-00-seed-7';
  const r = relativizeResult(manyDivergences({ divergences: 1000, runDir }), runDir);
  const md = renderMarkdown(r, { writtenTo: 'reports/runs/2025-02-03T09-00-00-seed-7' });

  it('fits a GitHub PR comment (65,536 characters), whatever the number of divergences', () => {
    expect(md.length).toBeLessThan(65_536);
  });

  it('lists the top 10 groups with hypothesis and counts, then how many more the report has', () => {
    const rows = md.match(/^\| \*\*G\d+\*\* \| [\d,]+ \| \d+ \| diverges/gm)!;
    expect(rows).toHaveLength(10);
    expect(md).toContain('| **G1** | 1,555 | 234 | diverges when REX.B is set and ModRM.rm names a register or base; never without REX.B | `REX.B`, `ModRM.rm` |');
    expect(md).toContain('…and 28 more groups in the report (index.html).');
    expect(md).toContain('**FAIL: 38 root-cause groups (990 signatures, 5,259 cases)**; 2 suppressed groups (10 signatures), 1 oracle crash, 5,310 unlocated');
  });

  it('tables a few signatures of the top 5 groups only, and shows 3 analyzed divergences in full', () => {
    expect(md.match(/^### G\d+: /gm)).toHaveLength(5);
    expect(md).toContain('…and 229 more signatures of G1 in the report (index.html).');
    expect(md.match(/^### G\d+ \(analyzed\): /gm)).toHaveLength(3);
  });

  it('explains how to replay from a downloaded report, and names case files relative to it', () => {
    expect(md).toContain('## Replaying');
    expect(md).toContain('```sh\nexport REPORT_DIR=reports/runs/2025-02-03T09-00-00-seed-7\n```');
    expect(md).toContain('node bin/difftest.mjs replay "$REPORT_DIR"/cases/7-1283.min.json --inject rex-b-ignored --inject af-never-set');
    expect(md).toContain('in `cases/7-1283.min.json`');
    expect(md).not.toContain('/home/ci');
  });
});
