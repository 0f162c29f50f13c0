import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignResultSchema } from '../harness/campaign-result.js';
import { campaignFixture, ungroupedFixture } from './fixture.js';
import { decodeResult, encodeResult, readResult } from './json.js';
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

  it('re-renders a result.json written before groups, mutants, testing seconds and missing rows existed (schema defaults)', async () => {
    const json = JSON.parse(encodeResult(ungroupedFixture()));
    for (const k of ['groups', 'coverageMissing', 'testingSeconds', 'minimizeSeconds', 'startupSeconds', 'unlocated']) delete json[k];
    delete json.dut.mutants;
    delete json.dut.cpuModel;
    const file = join(tmp, 'old', 'result.json');
    await mkdir(join(tmp, 'old'), { recursive: true });
    await writeFile(file, JSON.stringify(json));
    const old = await readResult(file);
    expect(old.groups).toEqual([]);
    expect(old.dut.mutants).toEqual([]);
    await writeReport(old, join(tmp, 'old'));
    const md = await readFile(join(tmp, 'old', 'summary.md'), 'utf8');
    expect(md).toContain('## Divergences (2; not grouped by root cause)');
    expect(md).toContain('| **System under test** | emulator (difftest-x86 emulator 0.1.0 (in-process)); no planted bugs |');
    expect(md).toContain('| **Tests** | 128,400 tests in 60.4 s wall (2,126/s, start-up and minimizing included) |');
    expect(await readFile(join(tmp, 'old', 'index.html'), 'utf8')).toContain('<h2>Divergences (2; not grouped by root cause)</h2>');
  });
});
