import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignResultSchema } from '../harness/campaign-result.js';
import { SEED_ACTUAL_R13, SEED_EXPECTED_R13, XSS_SIGNATURE, campaignFixture } from './fixture.js';
import { decodeResult, encodeResult, readResult } from './json.js';
import { renderMarkdown } from './markdown.js';
import { REPORT_FILES, writeReport } from './write-report.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'difftest-report-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('result.json', () => {
  it('round-trips exactly: decode(encode(x)) deep-equals x', () => {
    const x = campaignFixture();
    expect(CampaignResultSchema.decode(CampaignResultSchema.encode(x))).toEqual(x);
    expect(decodeResult(encodeResult(x))).toEqual(x);
  });

  it('stores 64-bit values as "0x…" strings and reads the file back', async () => {
    const x = campaignFixture();
    const { files } = await writeReport(x, join(tmp, 'rt'));
    const text = await readFile(files[0]!, 'utf8');
    const json = JSON.parse(text);
    expect(json.divergences[0].diffs[0]).toMatchObject({ path: 'gpr.r13', expected: '0xefbed000dc0fcbcf', actual: '0xdc0fcbcf' });
    expect(json.divergences[0].expected.gpr.r13).toBe('0xefbed000dc0fcbcf');
    expect(json.divergences[0].program[1].bytes).toBe('4c032defff0000');
    expect(text).toContain('\n  "runId"'); // pretty-printed
    expect(await readResult(files[0]!)).toEqual(x);
  });

  it('names the file and the zod path of a malformed value, in one line', async () => {
    const file = join(tmp, 'bad.json');
    const json = JSON.parse(encodeResult(campaignFixture()));
    json.divergences[0].initial.gpr.r13 = '0xnothex';
    await writeFile(file, JSON.stringify(json));
    const err = await readResult(file).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toContain('divergences[0].initial.gpr.r13');
    expect((err as Error).message).not.toContain('\n');
  });

  it('names the path of a malformed field-diff value (which the schema decodes with a bare BigInt)', () => {
    const json = JSON.parse(encodeResult(campaignFixture()));
    json.divergences[1].diffs = [{ path: 'gpr.rax', width: 64, expected: 'zz', actual: '0x1' }];
    expect(() => decodeResult(JSON.stringify(json), 'r.json')).toThrow(/^r\.json: at divergences\[1\]\.diffs\[0\]\.expected: /);
  });

  it('reports missing fields, bad JSON and missing files as one-line errors', async () => {
    const json = JSON.parse(encodeResult(campaignFixture()));
    delete json.seed;
    expect(() => decodeResult(JSON.stringify(json), 'r.json')).toThrow(/^r\.json: at seed: /);
    expect(() => decodeResult('{"format": ', 'r.json')).toThrow(/^r\.json: not valid JSON/);
    await expect(readResult(join(tmp, 'nope.json'))).rejects.toThrow(/nope\.json: cannot read \(ENOENT\)/);
  });
});

describe('writeReport', () => {
  it('creates the directory and writes the four files', async () => {
    const dir = join(tmp, 'reports', 'run-1');
    const out = await writeReport(campaignFixture(), dir);
    expect(out.dir).toBe(dir);
    expect(out.files).toEqual(REPORT_FILES.map((f) => join(dir, f)));
    for (const f of out.files) expect((await readFile(f, 'utf8')).length).toBeGreaterThan(100);
  });
});

describe('summary.md', () => {
  const md = renderMarkdown(campaignFixture());

  it('answers the seed case in one line: instruction, register, bit extent, both values', () => {
    expect(md).toContain(
      '**#2 `add r13, [rip+0xffef]` @ 0x000000000001000a:** R13 differs in bits 63..44 ' +
        `(expected 0x${SEED_EXPECTED_R13.toString(16)}, actual 0x${SEED_ACTUAL_R13.toString(16).padStart(16, '0')})`,
    );
  });

  it('has the seed notes\' bit-range table with WRONG/ok where they belong', () => {
    expect(md).toContain('| Bits | Expected | Actual | Status |');
    expect(md).toContain('| 63..48 | `0xefbe` | `0x0000` | **WRONG** |');
    expect(md).toContain('| 47..12 | `0xd000dc0fc` | `0x0000dc0fc` | **WRONG** |');
    expect(md).toContain('| 11..0 | `0xbcf` | `0xbcf` | ok |');
  });

  it('has the header, the program with the divergent instruction marked, flags, memory and replay', () => {
    expect(md).toMatch(/^# difftest report `2025-01-14T10-22-05-seed-5eed`\n/);
    expect(md).toContain('**FAIL: 2 distinct divergences** (41 cases), 1 suppressed, 1 oracle crash');
    expect(md).toContain('| **Duration** | 60.4 s (2,126 tests/s) |');
    expect(md).toContain('| **Oracle** | QEMU 7.2.15 (Debian 1:7.2+dfsg-7+deb12u7), TCG (CPU model qemu64) |');
    expect(md).toMatch(/>> 2 +0x000000000001000a +4c 03 2d ef ff 00 00 +add r13, \[rip\+0xffef\] +<-- diverges/);
    expect(md).toContain('| SF | 1 | 0 | **WRONG** |');
    expect(md).toContain('0x000000000000fffc  expected ff ff ff ff\n                    actual   00 00 00 00');
    expect(md).toContain('```sh\nnpx difftest replay corpus/divergences/fuzz-7f3a-000113.json --mode step\n```');
    expect(md).toContain('[0x0000000000020000] 8 bytes: be ba fe ca ef be ad de');
  });

  it('lists campaign sections, and suppressed divergences separately from failures', () => {
    expect(md).toContain('## Coverage: 5 of 6 opcode-table rows exercised (83.3%)');
    expect(md).toContain('Not exercised: `adc r/m16, imm16`');
    expect(md).toContain('## Suppressed divergences (1)');
    const divergenceTable = md.slice(md.indexOf('## Divergences'), md.indexOf('### 1.'));
    expect(divergenceTable).not.toContain('bsf');
    expect(md).toMatch(/\| `bsf r64, r64 \\\| gpr\.rax \(source zero\)` \| 12 \| BSF with a zero source/);
    expect(md).toContain('| `fuzz-7f3a-000977` | QEMU exited (signal SIGSEGV) while stepping; restarted, case skipped |');
    expect(md).toContain('| `bsf` | CF PF AF SF OF | 288 |');
    expect(md).toContain('| `rdtsc` | RDTSC/RDTSCP results are taken from the oracle |');
    expect(md).toContain('| `mov sil, ah` | keystone encoded \\`mov dh, ah\\` (REX dropped); decoder disagrees | 17 |');
  });

  it('escapes data (no raw HTML, no table-breaking pipes) and marks partial runs', () => {
    // Raw HTML is only allowed inside code spans and fenced blocks, where GitHub shows it literally.
    const prose = md.replace(/```[\s\S]*?```/g, '').replace(/(?<!\\)(`+)[\s\S]*?(?<!\\)\1/g, '');
    expect(prose).not.toMatch(/[<>]/);
    expect(md).toContain('| `fuzz-7f3a-000977` |');
    const bad = renderMarkdown({ ...campaignFixture(), oracleCrashes: [{ caseId: 'c1', message: '<img src=x> *boom* | a_b' }] });
    expect(bad).toContain('| &lt;img src=x&gt; \\*boom\\* \\| a\\_b |');
    expect(md).toContain('`push imm32 <script>alert("x")</script> & \\| mem[rsp-8]`'); // inside a code span
    const partial = renderMarkdown({ ...campaignFixture(), partial: true });
    expect(partial).toMatch(/^# difftest report `[^`]+` \(PARTIAL\)\n\n> \*\*PARTIAL: /);
  });

  it('says PASS when nothing diverged', () => {
    const r = { ...campaignFixture(), divergences: [], oracleCrashes: [] };
    const text = renderMarkdown(r);
    expect(text).toContain('**PASS: no divergences**');
    expect(text).toContain('## Divergences (0)\n\nnone');
  });

  it('keeps the signature in a code span even when it contains backticks', () => {
    const r = campaignFixture();
    r.divergences[0]!.signature = 'a`b';
    expect(renderMarkdown(r)).toContain('``a`b``');
    expect(XSS_SIGNATURE).toContain('<script>');
  });
});
