import { mkdtempSync, rmSync } from 'node:fs';
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
