import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCampaign } from './campaign.js';

describe('campaign', () => {
  it('merges to the same result from the same seed, whatever the number of workers or the batching', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'difftest-campaign-'));
    try {
      const run = (workers: number, batch?: number) =>
        runCampaign({
          runId: `repro-${workers}-${batch ?? 'default'}`,
          command: 'test',
          seed: 8,
          count: 80,
          workers,
          dut: { kind: 'emulator', inject: ['af-never-set'] },
          mode: 'block',
          batch,
          families: ['alu'],
          length: [1, 6],
          raw: false,
          runDir: path.join(dir, `${workers}-${batch ?? 'default'}`),
          minimize: false,
          replayTemplate: 'replay {file}',
        });
      const [one, two] = [await run(1), await run(2)];
      const summary = (r: Awaited<ReturnType<typeof run>>) => ({
        testsRun: r.testsRun,
        coverage: r.coverage,
        divergences: r.divergences.map((d) => [d.signature, d.count, d.caseId]).sort(),
      });
      expect(one.divergences.length).toBeGreaterThan(0); // the planted bug is there to be found
      expect(summary(two)).toEqual(summary(one));
      // batch screening settles most cases, and changes nothing a case-by-case run finds
      expect(one.batch?.screened).toBeGreaterThan(20);
      const alone = await run(1, 1);
      expect(alone.batch).toBeUndefined();
      expect(summary(alone)).toEqual(summary(one));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('campaign findings are never lost', () => {
  it('locates cases saved unlocated during testing in the analysis budget, and keeps the rest replayable', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'difftest-campaign-'));
    try {
      const runDir = path.join(dir, 'run');
      // nearly every case diverges: testing locates only a sample, the rest is saved unlocated
      const r = await runCampaign({
        runId: 'locate-later',
        command: 'test',
        seed: 1,
        seconds: 8,
        minimizeSeconds: 4,
        workers: 1,
        dut: { kind: 'emulator', inject: ['rex-b-ignored'] },
        mode: 'block',
        length: [10, 10],
        raw: false,
        runDir,
        minimize: true,
        replayTemplate: 'replay {file}',
      });
      expect(r.locatedAfterTesting).toBeGreaterThan(0);
      expect(r.unlocated?.count).toBeGreaterThan(0);
      // the file holds exactly the cases still unlocated: none that was located afterwards
      const lines = readFileSync(r.unlocated!.file!, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(r.unlocated!.count);
      const located = r.divergences.reduce((n, d) => n + d.count, 0);
      expect(located).toBeGreaterThan(r.locatedAfterTesting!); // what testing located, and what was located after it
      expect(r.groups.length).toBeGreaterThan(0); // and minimization still had time
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('a case that cannot be saved ends the campaign with the cause, not as an oracle crash', async () => {
    const { writeFileSync, mkdirSync } = await import('node:fs');
    const dir = mkdtempSync(path.join(tmpdir(), 'difftest-campaign-'));
    try {
      const runDir = path.join(dir, 'run');
      mkdirSync(runDir);
      writeFileSync(path.join(runDir, 'cases'), 'not a directory'); // every save fails with ENOTDIR
      const run = runCampaign({
        runId: 'unsaveable',
        command: 'test',
        seed: 8,
        count: 200,
        workers: 1,
        dut: { kind: 'emulator', inject: ['af-never-set'] },
        mode: 'block',
        families: ['alu'],
        length: [1, 6],
        raw: false,
        runDir,
        minimize: false,
        replayTemplate: 'replay {file}',
      });
      await expect(run).rejects.toThrow(/^cannot save case .* \((EEXIST|ENOTDIR)\); free some space or choose a writable --out/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
