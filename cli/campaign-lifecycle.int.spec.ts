import { execa } from 'execa';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findTaggedQemu } from '../oracle/qemu/orphans.js';
import { readResult } from '../reports/json.js';

/**
 * A campaign on a buggy emulator keeps its time budget, ends cleanly on SIGTERM, and refuses a
 * report directory it could not write before anything runs.
 */
const bin = path.resolve(import.meta.dirname, '../bin/difftest.mjs');
const scratch = () => mkdtempSync(path.join(tmpdir(), 'difftest-life-'));

describe('campaign lifecycle', () => {
  it('--seconds bounds the whole run on an emulator with a planted bug, minimization included', async () => {
    const out = path.join(scratch(), 'run');
    const t0 = Date.now();
    const r = await execa('node', [bin, 'fuzz', '--inject', 'rex-b-ignored', '--seconds', '8', '--seed', '1', '--workers', '2', '--out', out], { reject: false, timeout: 120_000 });
    const wall = (Date.now() - t0) / 1000;
    expect(r.exitCode, r.stderr).toBe(1);
    // N + 30 s is the promise; start-up of node, tsx, workers and QEMU is part of the wall time
    expect(wall).toBeLessThan(8 + 30);
    const result = await readResult(path.join(out, 'result.json'));
    expect(result.testingSeconds).toBeLessThan(8);
    // its 3 s budget, plus the grace a job in progress gets to stop (campaign.ts GRACE_MS, 5 s)
    expect(result.minimizeSeconds).toBeLessThan(3 + 5 + 2);
    expect(result.dut.mutants).toEqual(['rex-b-ignored']);
    expect(r.stdout).toMatch(/tests in \d+\.\d s of testing \([\d,]+\/s\); \d+\.\d s wall/);
  }, 150_000);

  // SIGKILL reaches only the launcher (bin/difftest.mjs re-starts the CLI with V8 flags): the CLI
  // sees its channel close and stops as on SIGTERM
  it.each(['SIGTERM', 'SIGKILL'] as const)('%s ends a run like Ctrl-C: partial report written, no QEMU left behind', async (signal) => {
    const out = path.join(scratch(), 'run');
    const runId = `lifecycle-${process.pid}-${Date.now()}`;
    const child = execa('node', [bin, 'fuzz', '--seconds', '300', '--seed', '3', '--workers', '2', '--out', out], {
      reject: false,
      env: { ...process.env, DIFFTEST_RUN_ID: runId },
      // one SIGTERM, as CI runners send; execa would follow it with SIGKILL after 5 s
      forceKillAfterDelay: false,
    });
    // wait until it is testing (its progress line), then terminate it as CI runners do
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the campaign did not start within 60 s')), 60_000);
      child.stderr?.on('data', (d: Buffer) => {
        if (/fuzz .*\d+\/s/.test(d.toString())) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const t0 = Date.now();
    child.kill(signal);
    const r = await child;
    expect((Date.now() - t0) / 1000).toBeLessThan(20);
    expect(r.stderr).toContain('SIGTERM: finishing the cases in flight and writing a partial report');
    expect(r.stdout, r.stderr).toMatch(/report /);
    const result = await readResult(path.join(out, 'result.json'));
    expect(result.partial).toBe(true);
    expect(result.testsRun).toBeGreaterThan(0);
    expect(findTaggedQemu(`difftest-${runId}`)).toEqual([]);
  }, 120_000);

  it('refuses an --out that is a file or cannot be created, in one line, before anything runs', async () => {
    const dir = scratch();
    const file = path.join(dir, 'file');
    writeFileSync(file, 'x');
    for (const [out, message] of [
      [file, `--out ${file}: is a file; pass a directory`],
      [path.join(file, 'sub'), `--out ${path.join(file, 'sub')}: a part of that path is a file (ENOTDIR); pass a directory`],
    ] as const) {
      const r = await execa('node', [bin, 'fuzz', '--count', '5', '--out', out], { reject: false, timeout: 60_000 });
      expect(r.exitCode).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(message);
    }
    expect(readFileSync(file, 'utf8')).toBe('x');
  }, 60_000);
});
