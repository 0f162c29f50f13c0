import { Worker } from 'node:worker_threads';
import { childLogger } from '../../util/log.js';
import { Progress } from '../../util/progress.js';
import type { CampaignResult, DivergenceReport } from '../campaign-result.js';
import type { CaseResult, FromWorker, WorkerConfig } from './protocol.js';
import type { TargetInfo } from '../../contracts/execution-target.js';
import { FRAGMENT_SYNC_RULES } from '../sync-rules.js';
import { ensureQemu } from '../../oracle/qemu/install.js';

export interface CampaignOptions extends Omit<WorkerConfig, 'workerId'> {
  readonly runId: string;
  readonly command: string;
  readonly workers: number;
  /** Stop after this many cases… */
  readonly count?: number;
  /** …or after this many seconds (whichever comes first). */
  readonly seconds?: number;
  readonly progress?: boolean;
  /** Aborts the campaign (Ctrl-C): outstanding cases finish, the result is marked partial. */
  readonly signal?: AbortSignal;
  /** Each divergence as soon as it is known (the case file is already on disk). */
  readonly onDivergence?: (r: CaseResult) => void;
  /** How many cases have finished, after each batch of results (benchmarks time the steady state with it). */
  readonly onProgress?: (done: number) => void;
  readonly rowNames?: (row: number) => string;
  /**
   * Known (suppressed) divergences: reported as found, not minimized again, and counted apart
   * in the progress line so that it does not look as if everything diverged.
   */
  readonly known?: (signature: string) => boolean;
  readonly totalRows?: number;
}

const log = childLogger('campaign');

/**
 * Cases per message in block mode: one guest-side batch per message (see harness/batch/). Each
 * batch has fixed costs (a register packet, breakpoints, the emulator's machine and block
 * warm-up, QEMU retranslating the runner): 30 s campaigns of 10-instruction cases (3 runs
 * each) ran at a median 800/s with 32 and 891/s with 96.
 */
export const DEFAULT_BATCH = 96;

/**
 * Batches a worker holds at once in batched block mode: it generates the next one while QEMU runs
 * the current one (with one, a worker waited on its QEMU a fifth of the time).
 */
const BATCHES_IN_FLIGHT = 2;

/** A worker's young generation (V8 sizes it as about three semi-spaces: 32 MB each here). */
const YOUNG_GENERATION_MB = 96;

/**
 * Runs a campaign over N worker threads (each with its own QEMU and system under test).
 * Case i is generated from (seed, i) wherever it runs, so results merge reproducibly:
 * they are ordered by index, and each divergence signature is represented by its first case.
 */
export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const startedAt = new Date();
  const t0 = performance.now();
  const results: CaseResult[] = [];
  const progress = options.progress ? new Progress('fuzz', 10_000) : undefined;
  let next = 0;
  let stopping = false;
  let partial = false;
  let divergent = 0;
  let knownDivergent = 0;
  let fatal: string | undefined;
  let oracleInfo: TargetInfo = { implementation: 'qemu', cpuModel: options.cpuModel ?? 'qemu64' };
  let dutInfo: TargetInfo = { implementation: 'unknown', cpuModel: 'unknown' };
  let readyCount = 0;
  let startupSeconds: number | undefined;
  // --seconds is testing time: the clock starts when the first worker is ready (start-up, i.e.
  // booting the workers, QEMU and keystone, takes seconds on a loaded machine).
  let deadline = Infinity;
  const limit = options.count ?? Infinity;
  if (limit === Infinity && options.seconds === undefined) throw new Error('a campaign needs --count or --seconds');

  const onAbort = () => {
    stopping = true;
    partial = true;
  };
  options.signal?.addEventListener('abort', onAbort);
  // Find (or install) QEMU here, once: each worker would otherwise run its own apt-get, and the
  // second fails on the first one's dpkg lock
  await ensureQemu();

  const workers: Worker[] = [];
  const minimized = new Map<string, DivergenceReport>();
  const minimizeJobs: Array<{ index: number; signature: string }> = [];
  /** QEMU deaths during a batch (its cases ran again alone, so no result carries them). */
  const batchCrashes: Array<{ caseId: string; message: string }> = [];
  let phase: 'run' | 'minimize' = 'run';
  let pendingMinimize = 0;
  const shared: Omit<WorkerConfig, 'workerId'> = {
    seed: options.seed,
    dut: options.dut,
    cpuModel: options.cpuModel,
    mode: options.mode,
    batch: options.batch,
    families: options.families,
    length: options.length,
    raw: options.raw,
    runDir: options.runDir,
    minimize: options.minimize,
    replayTemplate: options.replayTemplate,
  };
  await new Promise<void>((resolveAll) => {
    let live = 0;
    let inFlight = 0;
    const idle: Worker[] = [];
    const batchSize = options.mode === 'block' ? (options.batch ?? DEFAULT_BATCH) : 1;
    const inFlightPerWorker = batchSize > 1 ? BATCHES_IN_FLIGHT : 1;
    const finishOne = () => {
      if (--live === 0) resolveAll();
    };
    const stopAll = () => {
      for (const w of workers) w.postMessage({ type: 'stop' });
    };
    /** Phase 2: once every case has run, shrink the first (lowest-index) case of each signature. */
    const startMinimizing = () => {
      phase = 'minimize';
      const first = new Map<string, number>();
      for (const r of results) {
        if (r.status !== 'divergence' || !r.signature || options.known?.(r.signature)) continue;
        if ((first.get(r.signature) ?? Infinity) > r.index) first.set(r.signature, r.index);
      }
      for (const [signature, index] of first) minimizeJobs.push({ index, signature });
      minimizeJobs.sort((a, b) => a.index - b.index);
      if (minimizeJobs.length) progress?.update(results.length, options.count, `minimizing ${minimizeJobs.length} divergence(s)`);
      for (const w of idle.splice(0)) dispatch(w);
    };
    const dispatch = (w: Worker) => {
      if (phase === 'run') {
        if (stopping || fatal || next >= limit || performance.now() >= deadline) {
          if (!idle.includes(w)) idle.push(w);
          if (inFlight === 0) {
            if (options.minimize && !stopping && !fatal) startMinimizing();
            else stopAll();
          }
          return;
        }
        inFlight++;
        // near the end of a counted campaign the rest is shared out, so no worker waits on another's full batch
        const left = limit - next;
        const count = Math.min(batchSize, left, Math.ceil(left / (Math.max(1, options.workers) * inFlightPerWorker)));
        w.postMessage({ type: 'cases', first: next, count });
        next += count;
        return;
      }
      const job = stopping ? undefined : minimizeJobs.shift();
      if (job) {
        pendingMinimize++;
        w.postMessage({ type: 'minimize', ...job });
      } else {
        idle.push(w);
        if (pendingMinimize === 0) stopAll();
      }
    };
    for (let id = 0; id < Math.max(1, options.workers); id++) {
      const config: WorkerConfig = { ...shared, workerId: id };
      // A larger young generation: a worker allocates ~200 KB per case, and a batch's cases live
      // across scavenges, so V8's default 16 MB semi-space scavenges every ~80 cases, copying the
      // batch each time (9,600 generated cases: 563 ms of scavenge pauses by default, 381 ms with this).
      const w = new Worker(new URL('./worker-boot.mjs', import.meta.url), { workerData: config, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
      workers.push(w);
      live++;
      w.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          oracleInfo = m.oracle;
          dutInfo = m.dut;
          if (readyCount === 0 && options.seconds !== undefined) deadline = performance.now() + options.seconds * 1000;
          if (++readyCount === options.workers) startupSeconds = (performance.now() - t0) / 1000;
          dispatch(w);
          // the next batch too, generated while the first one runs
          for (let k = 1; k < inFlightPerWorker && phase === 'run' && !idle.includes(w); k++) dispatch(w);
        } else if (m.type === 'results') {
          inFlight--;
          batchCrashes.push(...(m.oracleCrashes ?? []));
          for (const r of m.results) {
            results.push(r);
            if (r.status === 'divergence') {
              if (r.signature && options.known?.(r.signature)) knownDivergent++;
              else divergent++;
              options.onDivergence?.(r);
            }
          }
          progress?.update(results.length, options.count, `${divergent} divergent${knownDivergent ? `, ${knownDivergent} known` : ''}`);
          options.onProgress?.(results.length);
          dispatch(w);
        } else if (m.type === 'minimized') {
          pendingMinimize--;
          if (m.report) minimized.set(m.signature, m.report);
          // e.g. an oracle bug that does not reproduce every time: the report keeps the case as found
          else log.debug({ signature: m.signature, index: m.index, message: m.message }, 'could not minimize; reporting the case as found');
          dispatch(w);
        } else {
          fatal = m.message;
          log.error({ worker: m.workerId, message: m.message }, 'worker failed');
          w.postMessage({ type: 'stop' });
        }
      });
      w.on('error', (err) => {
        fatal ??= err.message;
        finishOne();
      });
      w.on('exit', () => finishOne());
    }
  });
  progress?.done();
  options.signal?.removeEventListener('abort', onAbort);
  if (fatal && results.length === 0) throw new Error(`campaign workers failed: ${fatal}`);
  if (fatal) {
    partial = true;
    process.stderr.write(`difftest: a worker stopped early (${fatal.split('\n')[0]}); the report is partial\n`);
  }
  return summarize(options, results, minimized, { batchCrashes, startedAt, seconds: (performance.now() - t0) / 1000, startupSeconds, partial, oracleInfo, dutInfo });
}

function summarize(
  options: CampaignOptions,
  unordered: CaseResult[],
  minimized: ReadonlyMap<string, DivergenceReport>,
  meta: { batchCrashes: ReadonlyArray<{ caseId: string; message: string }>; startedAt: Date; seconds: number; startupSeconds?: number; partial: boolean; oracleInfo: TargetInfo; dutInfo: TargetInfo },
): CampaignResult {
  const results = [...unordered].sort((a, b) => a.index - b.index);
  const bySig = new Map<string, { report?: DivergenceReport; count: number }>();
  const coverage = new Map<number, number>();
  const rejects = new Map<string, { source: string; reason: string; count: number }>();
  const masked = new Map<string, { mnemonic: string; flags: string; count: number }>();
  const oracleCrashes: Array<{ caseId: string; message: string }> = [...meta.batchCrashes];
  for (const r of results) {
    for (const row of r.rows) coverage.set(row, (coverage.get(row) ?? 0) + 1);
    for (const x of r.rejects) {
      const k = `${x.source}\u0000${x.reason}`;
      const e = rejects.get(k) ?? { ...x, count: 0 };
      e.count++;
      rejects.set(k, e);
    }
    for (const m of r.masked) {
      const k = `${m.mnemonic}\u0000${m.flags}`;
      const e = masked.get(k) ?? { ...m, count: 0 };
      e.count++;
      masked.set(k, e);
    }
    if (r.status === 'oracle-crash' || r.status === 'dut-crash') {
      oracleCrashes.push({ caseId: r.caseId, message: `${r.status === 'dut-crash' ? 'system under test failed: ' : ''}${r.message ?? ''}` });
    }
    if (r.status === 'divergence' && r.signature) {
      const e = bySig.get(r.signature) ?? { count: 0 };
      e.count++;
      e.report ??= r.divergence;
      bySig.set(r.signature, e);
    }
  }
  const divergences: DivergenceReport[] = [];
  for (const [signature, e] of bySig) {
    const report = minimized.get(signature) ?? e.report;
    if (report) divergences.push({ ...report, signature, count: e.count });
  }
  const name = options.rowNames ?? ((row: number) => `row ${row}`);
  return {
    format: 'difftest-result/1',
    runId: options.runId,
    command: options.command,
    startedAt: meta.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    seed: String(options.seed),
    mode: options.mode,
    ...(options.mode === 'block' && (options.batch ?? DEFAULT_BATCH) > 1
      ? { batch: { size: options.batch ?? DEFAULT_BATCH, screened: results.filter((r) => r.screened).length } }
      : {}),
    workers: options.workers,
    oracle: meta.oracleInfo,
    dut: { name: options.dut.kind, implementation: meta.dutInfo.implementation, mutants: options.dut.kind === 'emulator' ? [...options.dut.inject] : [], cpuModel: meta.dutInfo.cpuModel },
    testsRun: results.filter((r) => r.status !== 'rejected').length,
    seconds: meta.seconds,
    startupSeconds: meta.startupSeconds,
    partial: meta.partial,
    divergences,
    groups: [],
    coverageMissing: [],
    oracleCrashes,
    coverage: [...coverage].sort((a, b) => a[0] - b[0]).map(([row, count]) => ({ row: name(row), count })),
    coverageTotalRows: options.totalRows ?? 0,
    assemblerRejects: [...rejects.values()].sort((a, b) => b.count - a.count),
    maskedFlags: [...masked.values()].sort((a, b) => b.count - a.count),
    syncRules: [...FRAGMENT_SYNC_RULES],
  };
}
