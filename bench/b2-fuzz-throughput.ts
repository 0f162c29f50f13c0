import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EmulatorTarget } from '../emulator/emulator-target.js';
import { QemuTarget } from '../oracle/qemu/qemu-target.js';
import { runCampaign } from '../harness/campaign/campaign.js';
import { createCaseSource } from '../harness/campaign/case-source.js';
import { LockstepRunner } from '../harness/lockstep.js';
import { fmt, printTable } from './stats.js';

/**
 * B2: fuzzing throughput, tests/s of 10-instruction cases, measured in one run:
 *   block mode on 2 workers (one QEMU per worker, reset by writes), step mode on 2 workers,
 *   and the baseline that spawns a fresh QEMU for every case (1 worker).
 */
/** Tests/s over the whole campaign, and after start-up (workers booting tsx, QEMU, keystone). */
async function campaignRate(mode: 'block' | 'step', count: number, seed: number): Promise<{ overall: number; steady: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'difftest-b2-'));
  try {
    const r = await runCampaign({
      runId: 'bench',
      command: 'bench',
      seed,
      count,
      workers: 2,
      dut: { kind: 'emulator', inject: [] },
      mode,
      length: [10, 10],
      raw: false,
      runDir: dir,
      minimize: false,
      replayTemplate: '',
    });
    return { overall: r.testsRun / r.seconds, steady: r.testsRun / (r.seconds - (r.startupSeconds ?? 0)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function spawnPerCaseRate(count: number, seed: number): Promise<number> {
  const source = createCaseSource({ seed, length: [10, 10], raw: false });
  const emulator = new EmulatorTarget();
  const t0 = performance.now();
  let ran = 0;
  for (let i = 0; i < count; i++) {
    const g = await source(i);
    if (!g.case) continue;
    const qemu = await QemuTarget.launch();
    try {
      await new LockstepRunner(qemu, emulator).run(g.case, { mode: 'block' });
      ran++;
    } finally {
      await qemu.close();
    }
  }
  return ran / ((performance.now() - t0) / 1000);
}

export async function runFuzzThroughputBench(options: { rounds: number }): Promise<void> {
  const block = await campaignRate('block', 600 * Math.max(1, Math.min(options.rounds, 3)), 101);
  const step = await campaignRate('step', 150, 102);
  const baseline = await spawnPerCaseRate(15, 103);
  printTable('B2 fuzz throughput (10-instruction cases, emulator vs QEMU; goal >= 2,000 tests/s and >= 60x the baseline)', [
    ['block mode, 2 workers', `${fmt(block.steady, 1)} tests/s after start-up (${fmt(block.overall, 1)} including it)`],
    ['step mode, 2 workers', `${fmt(step.steady, 1)} tests/s after start-up (${fmt(step.overall, 1)} including it)`],
    ['baseline: fresh QEMU per case, 1 worker', `${fmt(baseline, 1)} tests/s`],
    ['block / baseline', `${fmt(block.steady / baseline, 1)}x`],
  ]);
}
