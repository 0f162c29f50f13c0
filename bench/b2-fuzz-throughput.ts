import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EmulatorTarget } from '../emulator/emulator-target.js';
import { QemuTarget } from '../oracle/qemu/qemu-target.js';
import { DEFAULT_BATCH, runCampaign } from '../harness/campaign/campaign.js';
import { createCaseSource } from '../harness/campaign/case-source.js';
import { LockstepRunner } from '../harness/lockstep.js';
import { describeShare, emulatorShare } from './batch-emulator-share.js';
import { fmt, printTable } from './stats.js';

/**
 * B2: fuzzing throughput, tests/s of 10-instruction cases, measured in one run:
 *   block mode on 2 workers (one QEMU per worker, reset by writes), clean and with a planted bug
 *   (rex-b-ignored), step mode on 2 workers, and the baseline that spawns a fresh QEMU for every
 *   case (1 worker); and the emulator's share of a batched case (bench/batch-emulator-share.ts).
 */
/**
 * Testing after start-up that does not count as steady state: V8 is still optimizing the
 * generator and the emulator, and the encoding cache is filling (30 s runs of 2 workers, per 5 s:
 * 2,035 tests/s in the first 5 s after start-up, 2,880 in the next, 3,200-3,550 after that).
 */
const WARMUP_SECONDS = 10;

interface CampaignRate {
  readonly overall: number;
  readonly afterStartup: number;
  readonly steady: number;
  /** Cases settled by a batch, of `tests`. */
  readonly screened: number;
  readonly tests: number;
}

/** Three timed block-mode runs (on a shared machine one run can be a quarter off either way): sorted by steady rate. */
async function threeBlockRuns(seconds: number, inject: readonly string[] = []): Promise<CampaignRate[]> {
  const runs: CampaignRate[] = [];
  for (let k = 0; k < 3; k++) runs.push(await campaignRate('block', { seconds }, 101 + k, { inject }));
  return runs.sort((a, b) => a.steady - b.steady);
}

const screenedShare = (r: CampaignRate) => `${fmt((100 * r.screened) / Math.max(1, r.tests), 0)}% settled by batch`;

/**
 * Tests/s over the whole campaign, after start-up (workers booting tsx, QEMU, keystone), and in
 * steady state (after start-up and WARMUP_SECONDS more; timed runs only, else the after-start-up rate).
 */
async function campaignRate(
  mode: 'block' | 'step',
  amount: { count: number } | { seconds: number },
  seed: number,
  options: { batch?: number; raw?: boolean; inject?: readonly string[] } = {},
): Promise<CampaignRate> {
  const dir = mkdtempSync(path.join(tmpdir(), 'difftest-b2-'));
  const t0 = performance.now();
  const marks: Array<{ at: number; done: number }> = [];
  try {
    const r = await runCampaign({
      runId: 'bench',
      command: 'bench',
      seed,
      ...amount,
      workers: 2,
      dut: { kind: 'emulator', inject: options.inject ?? [] },
      mode,
      batch: options.batch,
      length: [10, 10],
      raw: options.raw ?? false,
      runDir: dir,
      minimize: false,
      replayTemplate: '',
      onProgress: (done) => marks.push({ at: (performance.now() - t0) / 1000, done }),
    });
    const startup = r.startupSeconds ?? 0;
    const afterStartup = r.testsRun / (r.seconds - startup);
    const from = marks.find((m) => m.at >= startup + WARMUP_SECONDS);
    const last = marks[marks.length - 1];
    const steady = 'seconds' in amount && from && last && last.at - from.at >= WARMUP_SECONDS ? (last.done - from.done) / (last.at - from.at) : afterStartup;
    return { overall: r.testsRun / r.seconds, afterStartup, steady, screened: r.batch?.screened ?? 0, tests: r.testsRun };
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

/** Generation alone (fast-check draw, keystone, iced check), one thread: the floor under any lockstep. */
async function generationRate(count: number, seed: number): Promise<number> {
  const source = createCaseSource({ seed, length: [10, 10], raw: false });
  await source(0);
  // as a worker asks: a batch's cases at once (they share keystone calls)
  const t0 = performance.now();
  for (let i = 1; i <= count; i += DEFAULT_BATCH) await Promise.all(Array.from({ length: DEFAULT_BATCH }, (_, k) => source(i + k)));
  return (Math.ceil(count / DEFAULT_BATCH) * DEFAULT_BATCH) / ((performance.now() - t0) / 1000);
}

export async function runFuzzThroughputBench(options: { rounds: number }): Promise<void> {
  const scale = Math.max(1, Math.min(options.rounds, 3));
  // Timed runs long enough that V8's optimizing compiler has settled (it keeps compiling for the
  // first ~10 s of a worker: a 10 s run measured about half the steady rate)
  // three runs, median and range: on a shared machine one run can be a quarter off either way
  const blockRuns = await threeBlockRuns(10 * scale);
  const block = blockRuns[1]!;
  // the emulator of a user still debugging it: a planted bug in an instruction the guest runner uses
  const mutantRuns = await threeBlockRuns(10 * scale, ['rex-b-ignored']);
  const mutant = mutantRuns[1]!;
  const blockRaw = await campaignRate('block', { seconds: 10 * scale }, 101, { raw: true });
  const perCase = await campaignRate('block', { count: 400 * scale }, 101, { batch: 1 });
  const step = await campaignRate('step', { count: 150 }, 102);
  const baseline = await spawnPerCaseRate(15, 103);
  const generation = await generationRate(1920 * scale, 104);
  const share = await emulatorShare(5);
  printTable('B2 fuzz throughput (10-instruction cases, emulator vs QEMU; goals >= 5,000 tests/s clean, >= 1,000 tests/s with rex-b-ignored, >= 60x the baseline)', [
    [
      `block mode, batches of ${DEFAULT_BATCH} (QEMU: guest runner; emulator: native), 2 workers, 3 × ${10 * scale} s`,
      `${fmt(block.steady, 1)} tests/s in steady state (after start-up and ${WARMUP_SECONDS} s of warm-up), median (runs ${blockRuns.map((r) => fmt(r.steady, 1)).join(', ')}); ` +
        `${fmt(block.afterStartup, 1)} counting the warm-up, ${fmt(block.overall, 1)} counting start-up too; ${screenedShare(block)}`,
    ],
    [
      `  the same with --inject rex-b-ignored, 3 × ${10 * scale} s`,
      `${fmt(mutant.steady, 1)} tests/s in steady state, median (runs ${mutantRuns.map((r) => fmt(r.steady, 1)).join(', ')}); ` +
        `${fmt(mutant.afterStartup, 1)} counting the warm-up; ${screenedShare(mutant)}`,
    ],
    [`  the same with raw encodings (--raw), ${10 * scale} s`, `${fmt(blockRaw.steady, 1)} tests/s in steady state (${fmt(blockRaw.afterStartup, 1)} counting the warm-up)`],
    ['block mode, one case per round trip (--batch 1), 2 workers', `${fmt(perCase.afterStartup, 1)} tests/s after start-up (${fmt(perCase.overall, 1)} including it)`],
    ['step mode, 2 workers', `${fmt(step.afterStartup, 1)} tests/s after start-up (${fmt(step.overall, 1)} including it)`],
    ['baseline: fresh QEMU per case, 1 worker', `${fmt(baseline, 1)} tests/s`],
    [`generation alone, 1 thread, ${DEFAULT_BATCH} cases at a time (keystone + iced)`, `${fmt(generation, 1)} cases/s`],
    ['emulator share of a batched case, guest runner (as a gdb stub runs it)', describeShare(share.guest)],
    ['emulator share of a batched case, native batch', describeShare(share.native)],
    ['batched / per-case (after start-up)', `${fmt(block.afterStartup / perCase.afterStartup, 1)}x`],
    ['batched / baseline (after start-up)', `${fmt(block.afterStartup / baseline, 1)}x`],
  ]);
}
