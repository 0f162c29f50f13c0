import { Worker } from 'node:worker_threads';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { childLogger } from '../../util/log.js';
import { mergeJsonlFiles } from '../../util/jsonl-merge.js';
import { Progress } from '../../util/progress.js';
import type { CampaignResult, DivergenceReport } from '../campaign-result.js';
import type { CaseResult, FromWorker, ToWorker, WorkerConfig } from './protocol.js';
import type { TargetInfo } from '../../contracts/execution-target.js';
import { ensureQemu } from '../../oracle/qemu/install.js';
import { splitBudget } from './budget.js';
import { summarize } from './summarize.js';
import { suppressionFor, type Suppressions } from '../../corpus/suppressions.js';
import type { Hypothesis } from '../analyze/hypothesis.js';
import { annotateReports, groupDivergences, uncovered } from '../analyze/group.js';
import { shardCaseCount, shardCaseIndex, type Shard } from './shard.js';
import { addWhoseBug } from '../triangulate/campaign-verdicts.js';

export interface CampaignOptions extends Omit<WorkerConfig, 'workerId'> {
  readonly runId: string;
  readonly command: string;
  readonly workers: number;
  /** Stop testing after this many cases… */
  readonly count?: number;
  /** …or bound the whole run (testing + minimization) to this many seconds (budget.ts says how it splits). */
  readonly seconds?: number;
  /** Minimization's share of the time (default: budget.ts). */
  readonly minimizeSeconds?: number;
  readonly progress?: boolean;
  /** Aborts the campaign (Ctrl-C, SIGTERM): in-flight cases finish or are abandoned, the result is marked partial. */
  readonly signal?: AbortSignal;
  /** Each divergence as soon as it is known (the case file is already on disk). */
  readonly onDivergence?: (r: CaseResult) => void;
  /** How many cases have finished, after each batch of results (benchmarks time the steady state with it). */
  readonly onProgress?: (done: number) => void;
  readonly rowNames?: (row: number) => string;
  /**
   * Known divergences: marked suppressed in the result and grouped by the entry that matches
   * them, not minimized again, and counted apart in the progress line (it should not look as if
   * everything diverged).
   */
  readonly suppressions?: Suppressions;
  readonly totalRows?: number;
  /** Rows the campaign's generator can produce (the report names those it did not exercise). */
  readonly generatableRows?: readonly number[];
  /** Run only this shard's cases (shard.ts): `count` is then the whole campaign's count. */
  readonly shard?: Shard;
}

/** What the analysis phase alone (analyzeDivergences) found. */
export interface AnalysisOutcome {
  /** Minimized report per signature (those that could be minimized in time). */
  readonly minimized: ReadonlyMap<string, DivergenceReport>;
  readonly hypotheses: readonly Hypothesis[];
  readonly seconds: number;
  /** Cut short (interrupted, a worker failed). */
  readonly partial: boolean;
}

const log = childLogger('campaign');

/** The campaign could not run at all; `known`: the message is a complete diagnosis (not an internal error). */
export class CampaignError extends Error {
  override readonly name = 'CampaignError';
  constructor(
    message: string,
    readonly known: boolean,
  ) {
    super(message);
  }
}

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

/** How long workers get to answer an abort or a stop before they are terminated and their QEMUs killed. */
const GRACE_MS = 5_000;
/** Share of the analysis budget that locating the cases saved unlocated may take, and cases per job. */
const LOCATE_SHARE = 0.4;
const LOCATE_CHUNK = 4;
/** Testing may overrun its deadline by a batch in flight; past this a worker is taken as hung. */
const TESTING_OVERRUN_MS = 20_000;

/** Campaigns running in this process, for killCampaignQemus(). */
const liveCampaigns = new Set<{ killQemus(): void }>();

/**
 * Kill every QEMU the running campaigns' workers started (a forced quit: a worker thread's
 * children are not taken down with the process). Also on process exit, whatever the path.
 */
export function killCampaignQemus(): void {
  for (const c of liveCampaigns) c.killQemus();
}
process.once('exit', killCampaignQemus);

interface WorkerSlot {
  readonly id: number;
  readonly worker: Worker;
  qemuPids: number[];
  /** Batches (testing) or jobs (minimization) handed out and not answered yet. */
  busy: number;
  exited: boolean;
}

/**
 * Runs a campaign over N worker threads (each with its own QEMU and system under test).
 * Case i is generated from (seed, i) wherever it runs, so results merge reproducibly:
 * they are ordered by index, and each divergence signature is represented by its first case.
 * Phases: testing (until the count, the testing budget or an abort), then minimizing the first
 * case of each new signature, most frequent first, until done or the minimization budget ends.
 */
export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  if (options.count === undefined && options.seconds === undefined) throw new Error('a campaign needs --count or --seconds');
  const budget = splitBudget({ seconds: options.seconds, minimizeSeconds: options.minimizeSeconds, minimize: options.minimize });
  // Find (or install) QEMU here, once: each worker would otherwise run its own apt-get, and the
  // second fails on the first one's dpkg lock
  await ensureQemu();
  return new Campaign(options, budget).run();
}

/**
 * The campaign's second phase alone, on divergences found elsewhere (`difftest merge` of shard
 * results): `candidates` are the first report of each signature with its count over the whole
 * campaign, and the workers regenerate each case from (seed, index) as the testing workers did.
 * Analysed in the same order as one run over all the cases would (most frequent uncovered
 * signature first), so the groups come out as that run's.
 */
export async function analyzeDivergences(options: Omit<CampaignOptions, 'count' | 'seconds' | 'shard'>, candidates: readonly DivergenceReport[]): Promise<AnalysisOutcome> {
  const budget = splitBudget({ minimizeSeconds: options.minimizeSeconds, minimize: true });
  await ensureQemu();
  return new Campaign({ ...options, minimize: true }, budget, candidates).analyze();
}

class Campaign {
  private readonly startedAt = new Date();
  private readonly t0 = performance.now();
  private readonly results: CaseResult[] = [];
  private readonly minimized = new Map<string, DivergenceReport>();
  /** QEMU deaths during a batch (its cases ran again alone, so no result carries them). */
  private readonly batchCrashes: Array<{ caseId: string; message: string }> = [];
  private readonly slots: WorkerSlot[] = [];
  private readonly limit: number;
  private readonly batchSize: number;
  private phase: 'testing' | 'locating' | 'minimizing' | 'stopping' = 'testing';
  private next = 0;
  private partial = false;
  private aborted = false;
  private fatal: string | undefined;
  private fatalKnown = false;
  private divergent = 0;
  private knownDivergent = 0;
  private oracleInfo: TargetInfo;
  private dutInfo: TargetInfo = { implementation: 'unknown', cpuModel: 'unknown' };
  private readyCount = 0;
  private startupSeconds: number | undefined;
  /** Date.now() at which testing ends (set when the first worker is ready: start-up is not testing time). */
  private testDeadline = Infinity;
  private testingStarted: number | undefined;
  private testingEnded: number | undefined;
  private minimizeStarted: number | undefined;
  private minimizeEnd = Infinity;
  /** Root-cause hypotheses inferred so far (worker analyses); they decide what is analyzed next. */
  private readonly hypotheses: Hypothesis[] = [];
  /** First report per new signature, the candidates for analysis (lowest case index each). */
  private candidates: DivergenceReport[] = [];
  /** Position in `results` of each case saved unlocated, by case index (located ones are removed). */
  private readonly unlocatedAt = new Map<number, number>();
  /** Unlocated case indexes still to locate in the analysis phase, and when locating stops. */
  private toLocate: number[] = [];
  private locateTotal = 0;
  private locateEnd = 0;
  /** Ids of unlocated cases located after testing (dropped from cases/unlocated.jsonl). */
  private readonly locatedIds = new Set<string>();
  /** Signatures sent to a worker (in flight or done): each is analyzed at most once. */
  private readonly attempted = new Set<string>();
  private jobsDone = 0;
  private readonly testProgress: Progress | undefined;
  private minimizeProgress: Progress | undefined;
  private timers: NodeJS.Timeout[] = [];
  private finish!: () => void;

  private readonly known: (signature: string) => boolean;

  constructor(
    private readonly options: CampaignOptions,
    private readonly budget: ReturnType<typeof splitBudget>,
    /** Analysis only (analyzeDivergences): no testing, these are the candidates. */
    private readonly analyzeOnly?: readonly DivergenceReport[],
  ) {
    this.limit = options.count === undefined ? Infinity : options.shard ? shardCaseCount(options.count, options.shard) : options.count;
    this.batchSize = options.mode === 'block' ? (options.batch ?? DEFAULT_BATCH) : 1;
    this.oracleInfo = { implementation: 'qemu', cpuModel: options.cpuModel ?? 'qemu64' };
    this.testProgress = options.progress ? new Progress('fuzz', 10_000) : undefined;
    const suppressions = options.suppressions;
    this.known = (signature) => suppressionFor(suppressions, signature) !== undefined;
  }

  async analyze(): Promise<AnalysisOutcome> {
    await this.execute();
    if (this.fatal && this.jobsDone === 0) throw new CampaignError(this.fatalKnown ? this.fatal : `analysis workers failed: ${this.fatal}`, this.fatalKnown);
    const seconds = this.minimizeStarted !== undefined ? (performance.now() - this.minimizeStarted) / 1000 : 0;
    return { minimized: this.minimized, hypotheses: this.hypotheses, seconds, partial: this.partial };
  }

  /** Workers started, testing and minimizing (or analysis alone), workers stopped. */
  private async execute(): Promise<void> {
    const onAbort = () => this.abort('interrupted');
    this.options.signal?.addEventListener('abort', onAbort);
    if (this.options.signal?.aborted) this.aborted = true;
    liveCampaigns.add(this);
    try {
      await new Promise<void>((resolve) => {
        this.finish = resolve;
        this.spawnWorkers();
      });
    } finally {
      liveCampaigns.delete(this);
      this.options.signal?.removeEventListener('abort', onAbort);
      for (const t of this.timers) clearTimeout(t);
      this.testProgress?.done();
      this.minimizeProgress?.done();
    }
  }

  async run(): Promise<CampaignResult> {
    await this.execute();
    if (this.fatal && this.results.length === 0) throw new CampaignError(this.fatalKnown ? this.fatal : `campaign workers failed: ${this.fatal}`, this.fatalKnown);
    if (this.fatal) process.stderr.write(`difftest: a worker stopped early (${this.fatal.split('\n')[0]}); the report is partial\n`);
    const unlocatedFile = await this.mergeUnlocated();
    const now = performance.now();
    const testingSeconds = this.testingStarted !== undefined ? ((this.testingEnded ?? now) - this.testingStarted) / 1000 : undefined;
    const minimizeSeconds = this.minimizeStarted !== undefined ? (now - this.minimizeStarted) / 1000 : undefined;
    const o = this.options;
    const result = summarize(
      {
        runId: o.runId,
        command: o.command,
        seed: o.seed,
        mode: o.mode,
        batch: o.mode === 'block' ? (o.batch ?? DEFAULT_BATCH) : undefined,
        workers: o.workers,
        dutKind: o.dut.kind,
        mutants: o.dut.kind === 'emulator' ? o.dut.inject : [],
        rowNames: o.rowNames,
        totalRows: o.totalRows,
        generatableRows: o.generatableRows,
      },
      this.results,
      this.minimized,
      {
        batchCrashes: this.batchCrashes,
        startedAt: this.startedAt,
        seconds: (now - this.t0) / 1000,
        startupSeconds: this.startupSeconds,
        testingSeconds,
        minimizeSeconds,
        partial: this.partial,
        oracleInfo: this.oracleInfo,
        dutInfo: this.dutInfo,
        unlocatedFile,
        locatedAfterTesting: this.locatedIds.size,
      },
    );
    // known divergences marked, then everything grouped by root cause (hypotheses, else suppression entries)
    const marked = result.divergences.map((d) => {
      const reason = suppressionFor(o.suppressions, d.signature);
      return reason ? { ...d, suppressed: { reason } } : d;
    });
    const groups = groupDivergences(marked, this.hypotheses, o.suppressions);
    const grouped = { ...result, divergences: annotateReports(marked, groups, this.hypotheses), groups };
    // whose bug: the host CPU as a third opinion, one run per group (none when the host is the system under test)
    if (o.dut.kind === 'host' || this.aborted) return grouped;
    return addWhoseBug(grouped, { cpuModel: o.cpuModel, dutName: o.dut.kind === 'emulator' ? 'the emulator' : `the system under test (${o.dut.kind})` });
  }

  private spawnWorkers(): void {
    const o = this.options;
    const shared: Omit<WorkerConfig, 'workerId'> = {
      seed: o.seed,
      dut: o.dut,
      cpuModel: o.cpuModel,
      mode: o.mode,
      batch: o.batch,
      families: o.families,
      length: o.length,
      raw: o.raw,
      runDir: o.runDir,
      minimize: o.minimize,
      replayTemplate: o.replayTemplate,
    };
    for (let id = 0; id < Math.max(1, o.workers); id++) {
      // A larger young generation: a worker allocates ~200 KB per case, and a batch's cases live
      // across scavenges, so V8's default 16 MB semi-space scavenges every ~80 cases, copying the
      // batch each time (9,600 generated cases: 563 ms of scavenge pauses by default, 381 ms with this).
      const worker = new Worker(new URL('./worker-boot.mjs', import.meta.url), {
        workerData: { ...shared, workerId: id } satisfies WorkerConfig,
        resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
      });
      const slot: WorkerSlot = { id, worker, qemuPids: [], busy: 0, exited: false };
      this.slots.push(slot);
      worker.on('message', (m: FromWorker) => this.onMessage(slot, m));
      worker.on('error', (err) => {
        this.fatal ??= err.message;
        this.onExit(slot);
      });
      worker.on('exit', () => this.onExit(slot));
    }
  }

  private onExit(slot: WorkerSlot): void {
    if (slot.exited) return;
    slot.exited = true;
    if (this.phase !== 'stopping') {
      killPids(slot.qemuPids);
      // a worker that dies while others go on: its cases in flight are lost, the rest continue
      this.partial = true;
      this.fatal ??= `worker ${slot.id} exited unexpectedly`;
      this.stopAll();
    }
    if (this.slots.every((s) => s.exited)) this.finish();
  }

  private post(slot: WorkerSlot, m: ToWorker): void {
    if (!slot.exited) slot.worker.postMessage(m);
  }

  private onMessage(slot: WorkerSlot, m: FromWorker): void {
    switch (m.type) {
      case 'ready': {
        this.oracleInfo = m.oracle;
        this.dutInfo = m.dut;
        slot.qemuPids = m.qemuPids;
        if (this.analyzeOnly) {
          // workers still starting get their first job when they are ready
          if (this.readyCount++ === 0) this.startAnalysis([slot]);
          else this.dispatch(slot);
          return;
        }
        // (an interruption during start-up has ended testing before it began)
        if (this.readyCount === 0 && this.testingEnded === undefined) this.startTesting();
        if (++this.readyCount === this.options.workers) this.startupSeconds = (performance.now() - this.t0) / 1000;
        // the next batch too, generated while the first one runs
        const perWorker = this.batchSize > 1 ? BATCHES_IN_FLIGHT : 1;
        for (let k = 0; k < perWorker; k++) this.dispatch(slot);
        return;
      }
      case 'qemu':
        slot.qemuPids = m.qemuPids;
        return;
      case 'results':
        slot.busy--;
        this.batchCrashes.push(...(m.oracleCrashes ?? []));
        for (const r of m.results) this.record(r);
        this.testProgress?.update(this.results.length, this.options.count, this.divergenceLine());
        this.options.onProgress?.(this.results.length);
        this.dispatch(slot);
        return;
      case 'located':
        slot.busy--;
        for (const r of m.results) this.relocate(r);
        this.minimizeProgress?.update(this.locateTotal - this.unlocatedAt.size, this.locateTotal, `unlocated cases located (${this.divergenceLine()})`);
        this.dispatch(slot);
        return;
      case 'minimized':
        slot.busy--;
        this.jobsDone++;
        if (m.hypothesis) this.hypotheses.push(m.hypothesis);
        if (m.report) this.minimized.set(m.signature, m.report);
        // e.g. an oracle bug that does not reproduce every time: the report keeps the case as found
        else log.debug({ signature: m.signature, index: m.index, message: m.message }, 'could not minimize; reporting the case as found');
        this.updateMinimizeProgress();
        this.dispatch(slot);
        return;
      case 'fatal':
        slot.busy = 0;
        if (this.fatal === undefined) {
          this.fatal = m.message;
          this.fatalKnown = m.known === true;
        }
        this.partial = true;
        log.debug({ worker: m.workerId, message: m.message }, 'worker failed');
        this.stopAll();
        return;
    }
  }

  private record(r: CaseResult): void {
    this.results.push(r);
    if (r.status === 'unlocated') {
      this.divergent++;
      this.unlocatedAt.set(r.index, this.results.length - 1);
    }
    this.countDivergence(r);
  }

  private countDivergence(r: CaseResult): void {
    if (r.status !== 'divergence') return;
    if (r.signature && this.known(r.signature)) this.knownDivergent++;
    else this.divergent++;
    this.options.onDivergence?.(r);
  }

  /** A case saved unlocated during testing, now located in step mode: its result replaces the unlocated one. */
  private relocate(r: CaseResult): void {
    const at = this.unlocatedAt.get(r.index);
    if (at === undefined) return;
    this.unlocatedAt.delete(r.index);
    this.locatedIds.add(this.results[at]!.caseId);
    this.results[at] = r;
    this.divergent--;
    this.countDivergence(r);
  }

  private divergenceLine(): string {
    return `${this.divergent} divergent${this.knownDivergent ? `, ${this.knownDivergent} known` : ''}`;
  }

  private startTesting(): void {
    this.testingStarted = performance.now();
    if (this.budget.testingSeconds === undefined) return;
    this.testDeadline = Date.now() + this.budget.testingSeconds * 1000;
    // a worker stuck in a batch far past the deadline is taken as hung
    this.timers.push(setTimeout(() => this.phase === 'testing' && this.forceEnd('a worker did not finish its batch'), this.budget.testingSeconds * 1000 + TESTING_OVERRUN_MS));
  }

  private testingOver(): boolean {
    return this.aborted || this.fatal !== undefined || this.next >= this.limit || Date.now() >= this.testDeadline;
  }

  private dispatch(slot: WorkerSlot): void {
    if (this.phase === 'testing') {
      if (this.testingOver()) {
        if (this.slots.every((s) => s.busy === 0)) this.endTesting();
        return;
      }
      // near the end of a counted campaign the rest is shared out, so no worker waits on another's full batch
      const left = this.limit - this.next;
      const perWorker = this.batchSize > 1 ? BATCHES_IN_FLIGHT : 1;
      const count = Math.min(this.batchSize, left, Math.ceil(left / (Math.max(1, this.options.workers) * perWorker)));
      slot.busy++;
      const shard = this.options.shard;
      const first = shard ? shardCaseIndex(this.next, shard) : this.next;
      this.post(slot, { type: 'cases', first, count, ...(shard && shard.count > 1 ? { stride: shard.count } : {}), ...(Number.isFinite(this.testDeadline) ? { deadline: this.testDeadline } : {}) });
      this.next += count;
      return;
    }
    if (this.phase === 'locating') {
      const indexes = Date.now() < this.locateEnd && !this.aborted ? this.toLocate.splice(0, LOCATE_CHUNK) : [];
      if (indexes.length) {
        slot.busy++;
        this.post(slot, { type: 'locate', indexes, deadline: this.locateEnd });
      } else if (this.slots.every((s) => s.busy === 0 || s.exited)) {
        this.startMinimizing();
      }
      return;
    }
    if (this.phase === 'minimizing') {
      const now = Date.now();
      const next = now < this.minimizeEnd && !this.aborted ? this.nextToAnalyze() : undefined;
      if (next) {
        slot.busy++;
        this.attempted.add(next.signature);
        // one stubborn divergence must not take the whole budget from the others
        const perJob = Math.min(30_000, Math.max(1_500, (this.budget.minimizeSeconds * 1000) / 4));
        this.post(slot, { type: 'minimize', index: next.index, signature: next.signature, deadline: Math.min(this.minimizeEnd, now + perJob) });
      } else if (this.slots.every((s) => s.busy === 0 || s.exited)) {
        this.stopAll();
      }
    }
  }

  /** The most frequent signature no hypothesis covers yet and no worker has taken. */
  private nextToAnalyze(): { index: number; signature: string } | undefined {
    const open = uncovered(
      this.candidates.filter((r) => !this.attempted.has(r.signature)),
      this.hypotheses,
    );
    const r = open[0];
    if (!r) return undefined;
    const index = Number(/-(\d+)$/.exec(r.caseId)?.[1] ?? NaN);
    return Number.isFinite(index) ? { index, signature: r.signature } : undefined;
  }

  private endTesting(): void {
    this.testingEnded = performance.now();
    this.testProgress?.done();
    if (!this.options.minimize || this.aborted || this.fatal || this.budget.minimizeSeconds <= 0) {
      this.stopAll();
      return;
    }
    this.startAnalysis();
  }

  /**
   * The analysis budget (--minimize-seconds) starts: first the cases saved unlocated during testing
   * are located in step mode, oldest first, for up to LOCATE_SHARE of it (a run whose batches saw a
   * divergence it never located cannot tell a known QEMU bug from a new one); then minimization.
   */
  private startAnalysis(ready: readonly WorkerSlot[] = this.slots): void {
    this.minimizeStarted = performance.now();
    this.minimizeEnd = Date.now() + this.budget.minimizeSeconds * 1000;
    // at the end of the budget, jobs in progress are told to stop; a worker that does not answer is ended
    this.timers.push(
      setTimeout(() => {
        if (this.phase !== 'locating' && this.phase !== 'minimizing') return;
        for (const s of this.slots) this.post(s, { type: 'abort' });
        this.timers.push(setTimeout(() => (this.phase === 'locating' || this.phase === 'minimizing') && this.forceEnd('minimization did not stop at its deadline'), GRACE_MS));
      }, this.budget.minimizeSeconds * 1000),
    );
    this.toLocate = [...this.unlocatedAt.keys()].sort((a, b) => a - b);
    if (this.toLocate.length === 0) {
      this.startMinimizing(ready);
      return;
    }
    this.phase = 'locating';
    this.locateTotal = this.toLocate.length;
    if (this.options.progress) this.minimizeProgress = new Progress('locate', 5_000);
    this.locateEnd = Date.now() + LOCATE_SHARE * this.budget.minimizeSeconds * 1000;
    log.debug({ unlocated: this.toLocate.length }, 'locating the cases saved unlocated');
    for (const s of this.slots) this.dispatch(s);
  }

  /**
   * Phase 2: analyze (isolate, experiment, shrink) the first case of the most frequent signature
   * no root-cause hypothesis covers yet, again and again, until every signature is covered by one
   * or the minimization budget ends. One bug with hundreds of signatures is then analyzed a few
   * times, not hundreds.
   */
  private startMinimizing(ready: readonly WorkerSlot[] = this.slots): void {
    this.phase = 'minimizing';
    this.candidates = (this.analyzeOnly ?? this.firstReports()).filter((r) => !this.known(r.signature));
    if (this.candidates.length === 0) {
      this.stopAll();
      return;
    }
    this.minimizeProgress?.done();
    if (this.options.progress) this.minimizeProgress = new Progress('analyze', 5_000);
    this.updateMinimizeProgress();
    for (const s of ready) this.dispatch(s);
  }

  /** The report of the first (lowest-index) case of each signature, with the signature's case count, in case order. */
  private firstReports(): DivergenceReport[] {
    const first = new Map<string, { report: DivergenceReport; index: number; count: number }>();
    for (const r of this.results) {
      if (r.status !== 'divergence' || !r.signature || !r.divergence) continue;
      const e = first.get(r.signature);
      if (!e) first.set(r.signature, { report: r.divergence, index: r.index, count: 1 });
      else {
        e.count++;
        if (r.index < e.index) Object.assign(e, { report: r.divergence, index: r.index });
      }
    }
    // in case order, so that signatures with as many cases are analysed in the same order
    // whatever order the workers' results came in (and as a merge of shard results does)
    return [...first.values()].sort((a, b) => a.index - b.index).map((e) => ({ ...e.report, count: e.count }));
  }

  private updateMinimizeProgress(): void {
    if (!this.minimizeProgress) return;
    const left = Math.max(0, (this.minimizeEnd - Date.now()) / 1000);
    const open = uncovered(this.candidates, this.hypotheses).length;
    const keys = new Set(this.hypotheses.map((h) => h.key)).size;
    this.minimizeProgress.update(
      this.jobsDone,
      undefined,
      `analyzed; ${keys} root cause(s) so far, ${this.candidates.length - open}/${this.candidates.length} signatures covered; budget left ${left.toFixed(0)}s`,
    );
  }

  /** Ctrl-C, SIGTERM: cases in flight finish (batches are quick), minimization stops at its next run. */
  private abort(why: string): void {
    if (this.aborted) return;
    log.debug({ why }, 'campaign aborted');
    this.aborted = true;
    this.partial = true;
    for (const s of this.slots) this.post(s, { type: 'abort' });
    this.timers.push(setTimeout(() => this.phase !== 'stopping' && this.forceEnd('workers did not stop after the interruption'), GRACE_MS));
    if (this.slots.every((s) => s.busy === 0)) {
      if (this.phase === 'testing') this.endTesting();
      else this.stopAll();
    }
  }

  private stopAll(): void {
    if (this.phase === 'stopping') return;
    this.phase = 'stopping';
    for (const s of this.slots) this.post(s, { type: 'stop' });
    this.timers.push(setTimeout(() => this.forceEnd('workers did not stop'), GRACE_MS));
  }

  /** The last resort: terminate the workers and kill their QEMUs; what was found is kept. */
  private forceEnd(why: string): void {
    if (this.slots.every((s) => s.exited)) return;
    log.debug({ why }, 'ending workers');
    this.partial = this.partial || this.phase !== 'stopping';
    this.phase = 'stopping';
    for (const s of this.slots) {
      killPids(s.qemuPids);
      void s.worker.terminate();
    }
  }

  killQemus(): void {
    for (const s of this.slots) if (!s.exited) killPids(s.qemuPids);
  }

  /** Workers' unlocated-<id>.jsonl files as one cases/unlocated.jsonl. */
  private async mergeUnlocated(): Promise<string | undefined> {
    const dir = path.join(this.options.runDir, 'cases');
    const parts = (await readdir(dir).catch(() => [] as string[])).filter((f) => /^unlocated-\d+\.jsonl$/.test(f)).sort();
    if (!parts.length) return undefined;
    const file = path.join(dir, 'unlocated.jsonl');
    // cases located after testing are saved as divergences of their own (or matched): not here
    const stillUnlocated = (line: string) => !this.locatedIds.size || !this.locatedIds.has((JSON.parse(line) as { id?: string }).id ?? '');
    const written = await mergeJsonlFiles(parts.map((p) => path.join(dir, p)), file, stillUnlocated);
    await Promise.all(parts.map((p) => rm(path.join(dir, p), { force: true })));
    if (written) return file;
    await rm(file, { force: true });
    return undefined;
  }
}

function killPids(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
