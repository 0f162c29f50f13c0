import { parentPort, workerData } from 'node:worker_threads';
import path from 'node:path';
import { caseMode, type Case } from '../../corpus/case-schema.js';
import { QemuTarget } from '../../oracle/qemu/qemu-target.js';
import { GdbRemoteTarget } from '../../oracle/gdb-target.js';
import { RspError } from '../../oracle/rsp/errors.js';
import { SetupError } from '../../oracle/qemu/install.js';
import { QmpError } from '../../oracle/qemu/qmp.js';
import { UsageError } from '../../util/errors.js';
import type { ExecutionTarget } from '../../contracts/execution-target.js';
import { flagNames } from '../compare.js';
import { buildDivergenceReport } from '../divergence-report.js';
import { LockstepRunner, type LockstepResult } from '../lockstep.js';
import { divergenceSignature } from '../signature.js';
import { createDut } from '../targets.js';
import { BatchRecoveryError, BatchScreen } from '../batch/batch-screen.js';
import { batchProgram } from '../batch/batch-layout.js';
import { initAssembler } from '../asm/assembler.js';
import { childLogger } from '../../util/log.js';
import { createCaseSource } from './case-source.js';
import { LocateSampler } from './locate-sampler.js';
import { instructionCount, minimizeGeneratedDivergence } from './minimize-divergence.js';
import { isolateDivergence } from '../analyze/isolate.js';
import { analyzeDivergence } from '../analyze/analyze.js';
import type { CaseResult, FromWorker, GeneratedCase, ToWorker, WorkerConfig } from './protocol.js';
import { appendCases, CaseSaveError, PendingSaves, saveCase } from './save-case.js';

/**
 * One campaign worker: its own QEMU and system under test, generating and running the cases
 * the campaign hands it. A divergence is saved to disk before anything else happens; a case
 * that cannot be saved ends the campaign (CaseSaveError), since going on would lose findings.
 */
const config = workerData as WorkerConfig;
const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);
const casesDir = path.join(config.runDir, 'cases');
const unlocatedFile = path.join(casesDir, `unlocated-${config.workerId}.jsonl`);
const log = childLogger('worker');

let reference: QemuTarget;
let dut: ExecutionTarget;
let runner: LockstepRunner;
const source = createCaseSource(config);
const sampler = new LocateSampler();
const saves = new PendingSaves();

let screen: BatchScreen;
/** Set by an `abort` message: the job in progress stops at its next lockstep run. */
let aborted = false;

class AbortedError extends Error {}

/** The worker cannot go on: one line for the campaign, saying whether it is a diagnosis or an internal error. */
function fatal(err: unknown): Extract<FromWorker, { type: 'fatal' }> {
  const known = err instanceof CaseSaveError || err instanceof SetupError || err instanceof RspError || err instanceof QmpError || err instanceof UsageError;
  return { type: 'fatal', workerId: config.workerId, message: (err as Error).message ?? String(err), known };
}

/** The lockstep runner, refusing new runs once the campaign aborted (a minimization then ends at its next run). */
class AbortableRunner extends LockstepRunner {
  override run(...args: Parameters<LockstepRunner['run']>): ReturnType<LockstepRunner['run']> {
    if (aborted) return Promise.reject(new AbortedError('the campaign ended'));
    return super.run(...args);
  }
}

function qemuPids(): number[] {
  const pids = [reference?.qemu.pid];
  if (dut instanceof QemuTarget) pids.push(dut.qemu.pid);
  return pids.filter((p): p is number => p !== undefined);
}

async function restartReference(): Promise<void> {
  await reference?.close().catch(() => undefined);
  reference = await QemuTarget.launch({ cpuModel: config.cpuModel, timeoutMs: config.dut.kind === 'emulator' ? undefined : config.dut.timeoutMs });
  screen = new BatchScreen(reference, dut);
  runner = new AbortableRunner(reference, dut);
  runner.scrubber = (t) => screen.scrub(t);
  post({ type: 'qemu', workerId: config.workerId, qemuPids: qemuPids() });
}

function generateCases(first: number, count: number, stride: number): Promise<GeneratedCase[]> {
  return Promise.all(Array.from({ length: count }, (_, k) => source(first + k * stride)));
}

/**
 * Cases first, first+stride, … (count of them). In block mode they are screened as one guest-side batch first:
 * a case whose outcome records agree is a match; a case whose records differ diverges and is
 * located in step mode when the sampler says so (else saved unlocated); every other case runs
 * alone. Past `deadline` nothing new is started: divergent cases are saved unlocated, cases
 * not yet run are left out of the results (they were not tested).
 */
async function runCases(first: number, count: number, stride: number, generating: Promise<GeneratedCase[]>, deadline = Infinity): Promise<FromWorker> {
  const generated = await generating;
  let agreed: boolean[] = [];
  let differed: boolean[] = [];
  const oracleCrashes: Array<{ caseId: string; message: string }> = [];
  const runnable = generated.flatMap((g) => (g.case ? [g.case] : []));
  // the guest-side batch runner is 64-bit code: 32-bit cases run one by one below, and so do the
  // system family's (their CR, MSR and debug-register writes would change the runner's machine)
  if (config.mode === 'block' && runnable.length > 1 && runnable.every((c) => caseMode(c) === 'long64' && !c.writesSystemState)) {
    try {
      ({ agreed, differed } = await screen.screen(runnable));
    } catch (err) {
      // Every case of the batch then runs alone below (where a case that kills QEMU again is
      // marked as usual); a QEMU that died is restarted first, and the death is reported.
      const message = (err as Error).message ?? String(err);
      log.debug({ err: message }, 'batch screening failed; running the cases one by one');
      if (reference.qemu.hasExited || reference.rsp.closed) {
        oracleCrashes.push({ caseId: `${config.seed}-${first}..${first + (count - 1) * stride}`, message: `during a batch (its cases were re-run one by one on a fresh QEMU): ${message}` });
        await restartReference();
      } else if (err instanceof BatchRecoveryError) {
        await restartReference();
      }
      agreed = [];
      differed = [];
    }
  }
  const out: CaseResult[] = [];
  const unlocated: Case[] = [];
  let k = 0;
  for (let i = 0; i < count; i++) {
    const g = generated[i]!;
    const index = first + i * stride;
    const j = g.case ? k++ : -1;
    const base = { index, rows: g.rows, rejects: g.rejects, masked: [] };
    if (!g.case) {
      out.push({ ...base, caseId: `case-${index}`, status: 'rejected' });
    } else if (agreed[j]) {
      out.push({ ...base, caseId: g.case.id, status: 'match', screened: true });
    } else if (differed[j]) {
      // a counted campaign (no deadline) locates every one, so that its result is reproducible
      if (!aborted && Date.now() < deadline && (deadline === Infinity || sampler.shouldLocate())) {
        const t0 = performance.now();
        const r = await runCaseSafely(index, g, 'step');
        sampler.located(performance.now() - t0);
        out.push(r);
      } else {
        unlocated.push(g.case);
        out.push({ ...base, caseId: g.case.id, status: 'unlocated', screened: true });
      }
    } else if (!aborted && Date.now() < deadline) {
      out.push(await runCaseSafely(index, g, config.mode));
    }
  }
  await Promise.all([appendCases(unlocatedFile, unlocated), saves.flush()]);
  return { type: 'results', workerId: config.workerId, results: out, oracleCrashes };
}

/** Cases saved unlocated, located now in step mode (regenerated from the seed), as far as `deadline` allows. */
async function locateCases(indexes: readonly number[], deadline: number): Promise<FromWorker> {
  const out: CaseResult[] = [];
  for (const index of indexes) {
    if (aborted || Date.now() >= deadline) break;
    const [g] = await generateCases(index, 1, 1);
    if (g?.case) out.push(await runCaseSafely(index, g, 'step'));
  }
  await saves.flush();
  return { type: 'located', workerId: config.workerId, results: out };
}

async function runCaseSafely(index: number, gen: GeneratedCase, mode: 'block' | 'step' = config.mode): Promise<CaseResult> {
  try {
    return await runCase(index, gen, mode);
  } catch (err) {
    if (err instanceof CaseSaveError || (dut instanceof GdbRemoteTarget && dut.rsp.closed)) throw err;
    // One case failing in an unexpected way must not end the campaign: record it as an
    // oracle problem, start a fresh QEMU, go on.
    const message = `unexpected failure: ${(err as Error).message ?? String(err)}`;
    try {
      await restartReference();
    } catch (restartErr) {
      post({ ...fatal(restartErr), message: `cannot restart QEMU: ${(restartErr as Error).message}` });
    }
    return { index, caseId: `${config.seed}-${index}`, status: 'oracle-crash', rows: [], rejects: [], masked: [], message };
  }
}

/** `mode` step for a case whose batch records differed: a block run would only find the difference again. */
async function runCase(index: number, gen: GeneratedCase, mode: 'block' | 'step'): Promise<CaseResult> {
  const base = { index, rows: gen.rows, rejects: gen.rejects };
  if (!gen.case) return { ...base, caseId: `case-${index}`, status: 'rejected', masked: [] };
  const c: Case = gen.case;
  let r: LockstepResult;
  try {
    r = await runner.run(c, { mode });
  } catch (err) {
    if (err instanceof RspError && (reference.qemu.hasExited || reference.rsp.closed)) {
      const file = await saveCase(casesDir, `${c.id}.oracle-crash`, c);
      await restartReference();
      return { ...base, caseId: c.id, status: 'oracle-crash', masked: [], message: `${(err as Error).message} (case saved to ${file})` };
    }
    const file = await saveCase(casesDir, `${c.id}.crash`, c);
    // a gdb system under test whose connection is gone fails every later case the same way:
    // one line and the end of the campaign, not thousands of crash files
    if (dut instanceof GdbRemoteTarget && dut.rsp.closed) {
      throw new RspError(`the system under test's gdb connection is closed (${(err as Error).message}); the case that was running is saved as ${file}`);
    }
    return { ...base, caseId: c.id, status: 'dut-crash', masked: [], message: `${(err as Error).message} (case saved to ${file})` };
  }
  const masked = r.masked.map((m) => ({ mnemonic: m.mnemonic, flags: flagNames(m.mask) }));
  if (r.outcome === 'match') return { ...base, caseId: c.id, status: 'match', masked };
  const d = r.divergence!;
  // Saved before the campaign hears of it (runCases flushes the saves before it posts the
  // results): whatever happens next (minimizer crash, Ctrl-C), the divergence is on disk.
  const rawFile = saves.save(casesDir, c.id, c);
  const report = buildDivergenceReport(c, d, {
    caseFile: rawFile,
    seed: String(config.seed),
    replayCommand: config.replayTemplate.replace('{file}', rawFile),
  });
  return { ...base, caseId: c.id, status: 'divergence', masked, signature: report.signature, divergence: report };
}

/** Share of a job's time reserved for the feature experiments, which decide its root-cause group. */
const ANALYSIS_SHARE = 0.4;

/**
 * Case `index` (regenerated from the seed), known to diverge with `signature`, by `deadline`:
 * isolate its divergent instruction (one run), infer the root cause by feature experiments on the
 * isolated case (what groups divergences), then shrink what is left to shrink.
 */
async function minimizeIndex(index: number, signature: string, deadline: number): Promise<FromWorker> {
  const t0 = performance.now();
  const seconds = () => (performance.now() - t0) / 1000;
  const gen = await source(index);
  const base = { type: 'minimized' as const, workerId: config.workerId, index, signature };
  if (!gen.case) return { ...base, seconds: seconds(), message: 'the case no longer generates' };
  const c = gen.case;
  const r = await runner.run(c, { mode: 'block' });
  if (r.outcome !== 'divergence' || divergenceSignature(r.divergence!) !== signature) {
    return { ...base, seconds: seconds(), message: 'the divergence did not reproduce' };
  }
  const analysisEnd = Date.now() + (deadline - Date.now()) * ANALYSIS_SHARE;
  const { isolation } = await isolateDivergence(runner, c, r.divergence!, { deadline: analysisEnd });
  const subject = isolation?.sameSignature ? isolation : { case: c, divergence: r.divergence! };
  const hypothesis = await analyzeDivergence(runner, subject.case, subject.divergence, { deadline: analysisEnd });
  const min = await minimizeGeneratedDivergence(runner, { config, index }, c, r.divergence!, signature, { deadline, isolation: isolation ?? null });
  const best = min ?? (isolation?.sameSignature ? { case: { ...isolation.case, id: `${c.id}-isolated` }, divergence: isolation.divergence } : undefined);
  if (!best) return { ...base, seconds: seconds(), hypothesis, message: 'the minimized case did not reproduce' };
  const file = await saveCase(casesDir, `${c.id}.min`, best.case);
  const report = buildDivergenceReport(best.case, best.divergence, {
    caseFile: file,
    seed: String(config.seed),
    replayCommand: config.replayTemplate.replace('{file}', file),
    minimization: { fromInstructions: instructionCount(c), toInstructions: instructionCount(best.case), seconds: seconds() },
  });
  return { ...base, seconds: seconds(), report, hypothesis };
}

async function main(): Promise<void> {
  dut = await createDut(config.dut, config.cpuModel);
  await restartReference();
  // start-up, not testing time: keystone (which also assembles the batch runner) and the runner
  await (await initAssembler()).ready();
  if (config.mode === 'block') await batchProgram();
  post({ type: 'ready', workerId: config.workerId, oracle: reference.info(), dut: dut.info(), qemuPids: qemuPids() });
  let queue = Promise.resolve();
  /** Jobs run one after another; a failure no job can recover from ends the worker with one line. */
  const enqueue = (job: () => Promise<void>) => {
    queue = queue.then(job).catch((err: unknown) => post(fatal(err)));
  };
  port.on('message', (m: ToWorker) => {
    if (m.type === 'abort') {
      aborted = true;
      return;
    }
    if (m.type === 'stop') {
      queue = queue.then(async () => {
        await Promise.allSettled([reference.close(), dut.close()]);
        port.close();
      });
      return;
    }
    if (m.type === 'locate') {
      enqueue(async () => post(await locateCases(m.indexes, m.deadline)));
      return;
    }
    if (m.type === 'minimize') {
      enqueue(async () => {
        try {
          post(await minimizeIndex(m.index, m.signature, m.deadline));
        } catch (err) {
          if (err instanceof CaseSaveError) throw err;
          const message = err instanceof AbortedError ? 'interrupted' : (err as Error).message;
          post({ type: 'minimized', workerId: config.workerId, index: m.index, signature: m.signature, seconds: 0, message });
          if (!(err instanceof AbortedError)) await restartReference().catch(() => undefined);
        }
      });
      return;
    }
    // Generated now, while the batch before it (if any) waits on QEMU: the campaign hands out a
    // worker's next batch before the current one is done.
    const stride = m.stride ?? 1;
    const generating = generateCases(m.first, m.count, stride);
    generating.catch(() => undefined); // awaited in turn below
    enqueue(async () => {
      sampler.startTesting();
      post(await runCases(m.first, m.count, stride, generating, m.deadline ?? Infinity));
    });
  });
}

main().catch((err: unknown) => post(fatal(err)));
