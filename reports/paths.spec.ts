import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignFixture, manyDivergences } from './fixture.js';
import { decodeResult, encodeResult } from './json.js';
import { absolutizeResult, inReportDir, relativizeResult, shellQuote } from './paths.js';
import { writeReport } from './write-report.js';

const RUN = '/home/ci/work/difftest/reports/runs/r7';

function absoluteResult() {
  const r = manyDivergences({ divergences: 3, groups: 2, runDir: RUN });
  r.oracleCrashes = [{ caseId: '7-9', message: `QEMU exited (case saved to ${RUN}/cases/7-9.oracle-crash.json)` }];
  return r;
}

describe('relativizeResult', () => {
  const r = absoluteResult();
  const rel = relativizeResult(r, RUN);

  it('names case files relative to the report folder, and replay commands under "$REPORT_DIR"', () => {
    expect(r.divergences[0]!.caseFile).toBe(`${RUN}/cases/7-1283.min.json`);
    expect(rel.divergences[0]!.caseFile).toBe('cases/7-1283.min.json');
    expect(rel.divergences[0]!.replayCommand).toBe('node bin/difftest.mjs replay "$REPORT_DIR"/cases/7-1283.min.json --inject rex-b-ignored --inject af-never-set');
    expect(rel.unlocated).toEqual({ count: 5310, file: 'cases/unlocated.jsonl' });
    expect(rel.oracleCrashes[0]!.message).toBe('QEMU exited (case saved to cases/7-9.oracle-crash.json)');
  });

  it('leaves no absolute path of the run in the result, and changes nothing else', () => {
    expect(encodeResult(rel)).not.toContain('/home/ci');
    const strip = (x: typeof r) => ({ ...x, divergences: x.divergences.map(({ caseFile: _f, replayCommand: _c, ...d }) => d), unlocated: undefined, oracleCrashes: [] });
    expect(strip(rel)).toEqual(strip(r));
  });

  it('is idempotent, so `difftest report` can re-render a result in place', () => {
    expect(relativizeResult(rel, RUN)).toEqual(rel);
    expect(relativizeResult(rel, '/somewhere/else')).toEqual(rel);
  });

  it('leaves relative paths alone: they name files of the checkout (the regression corpus)', () => {
    const fixture = campaignFixture();
    expect(relativizeResult(fixture, RUN)).toEqual(fixture);
  });

  it('reaches a case outside the report folder through ..', () => {
    const x = absoluteResult();
    x.divergences[0]!.caseFile = '/home/ci/work/difftest/corpus/x.min.json';
    x.divergences[0]!.replayCommand = 'node bin/difftest.mjs replay /home/ci/work/difftest/corpus/x.min.json';
    const d = relativizeResult(x, RUN).divergences[0]!;
    expect(d.caseFile).toBe('../../../corpus/x.min.json');
    expect(d.replayCommand).toBe('node bin/difftest.mjs replay "$REPORT_DIR"/../../../corpus/x.min.json');
  });

  it('rewrites a case path with spaces, bare (as the worker writes it) or quoted', () => {
    const x = absoluteResult();
    const file = '/home/ci/my runs/r7/cases/7-1.json';
    x.divergences[0]!.caseFile = file;
    x.divergences[1]!.caseFile = file;
    x.divergences[0]!.replayCommand = `node bin/difftest.mjs replay ${file} --inject a`;
    x.divergences[1]!.replayCommand = `node bin/difftest.mjs replay '${file}'`;
    const [a, b] = relativizeResult(x, '/home/ci/my runs/r7').divergences;
    expect(a!.replayCommand).toBe('node bin/difftest.mjs replay "$REPORT_DIR"/cases/7-1.json --inject a');
    expect(b!.replayCommand).toBe('node bin/difftest.mjs replay "$REPORT_DIR"/cases/7-1.json');
  });

  it('rewrites only whole arguments equal to the case file', () => {
    const x = absoluteResult();
    x.divergences[0]!.replayCommand = `node bin/difftest.mjs replay ${RUN}/cases/7-1283.min.json --out ${RUN}/cases/7-1283.min.json.d`;
    expect(relativizeResult(x, RUN).divergences[0]!.replayCommand).toBe(
      `node bin/difftest.mjs replay "$REPORT_DIR"/cases/7-1283.min.json --out ${RUN}/cases/7-1283.min.json.d`,
    );
  });
});

describe('absolutizeResult', () => {
  it('undoes relativizeResult for the same folder', () => {
    const r = absoluteResult();
    r.oracleCrashes = [];
    expect(absolutizeResult(relativizeResult(r, RUN), RUN)).toEqual(r);
    const spaced = manyDivergences({ divergences: 3, groups: 2, runDir: '/home/ci/my runs/r7' });
    const back = absolutizeResult(relativizeResult(spaced, '/home/ci/my runs/r7'), '/home/ci/my runs/r7');
    expect(back.divergences.map((d) => d.caseFile)).toEqual(spaced.divergences.map((d) => d.caseFile));
    expect(relativizeResult(back, '/home/ci/my runs/r7')).toEqual(relativizeResult(spaced, '/home/ci/my runs/r7'));
  });

  it('lets a report re-rendered into another folder reach the cases where they are', () => {
    const rel = relativizeResult(absoluteResult(), RUN);
    const moved = relativizeResult(absolutizeResult(rel, RUN), '/home/ci/work/difftest/reports/rerendered');
    expect(moved.divergences[0]!.caseFile).toBe('../runs/r7/cases/7-1283.min.json');
    expect(moved.divergences[0]!.replayCommand).toBe('node bin/difftest.mjs replay "$REPORT_DIR"/../runs/r7/cases/7-1283.min.json --inject rex-b-ignored --inject af-never-set');
  });

  it('leaves paths relative to the checkout alone', () => {
    const fixture = campaignFixture();
    expect(absolutizeResult(fixture, RUN)).toEqual(fixture);
  });
});

describe('shellQuote', () => {
  it('leaves plain paths and quotes the rest so that a shell reads them back', () => {
    expect(shellQuote('reports/runs/2025-02-03T09-00-00-seed-7')).toBe('reports/runs/2025-02-03T09-00-00-seed-7');
    for (const s of ["/tmp/it's a dir", '/tmp/$HOME "x"', '/tmp/a b']) {
      expect(execFileSync('sh', ['-c', `printf %s ${shellQuote(s)}`], { encoding: 'utf8' })).toBe(s);
    }
    expect(inReportDir('cases/x.json')).toBe('"$REPORT_DIR"/cases/x.json');
  });
});

describe('a report folder moved elsewhere (a downloaded CI artefact)', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'difftest-paths-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('still finds its case files: each replay command, run by a shell with REPORT_DIR set to the new folder, names an existing file', async () => {
    const run = join(tmp, 'checkout', 'reports', 'runs', 'r7');
    const r = manyDivergences({ divergences: 5, groups: 2, runDir: run });
    await mkdir(join(run, 'cases'), { recursive: true });
    for (const d of r.divergences) await writeFile(d.caseFile!, '{}');
    await writeReport(r, run, { cwd: join(tmp, 'checkout') });

    const moved = join(tmp, 'Downloads', 'difftest report (1)');
    await cp(run, moved, { recursive: true });
    await rm(join(tmp, 'checkout'), { recursive: true });
    const saved = decodeResult(await readFile(join(moved, 'result.json'), 'utf8'));
    for (const d of saved.divergences) {
      // the shell expands the command's arguments as it would for `node bin/difftest.mjs replay …`
      const args = d.replayCommand.replace(/^node bin\/difftest\.mjs replay /, '');
      const file = execFileSync('sh', ['-c', `printf '%s\\n' ${args} | head -1`], { encoding: 'utf8', env: { ...process.env, REPORT_DIR: moved } }).trim();
      expect(file).toBe(join(moved, d.caseFile!));
      expect(existsSync(file)).toBe(true);
    }
    const md = await readFile(join(moved, 'summary.md'), 'utf8');
    expect(md).toContain('export REPORT_DIR=reports/runs/r7');
    expect(md).not.toContain(tmp);
    expect(await readFile(join(moved, 'index.html'), 'utf8')).not.toContain(tmp);
  });
});
