import { parentPort, workerData } from 'node:worker_threads';
import path from 'node:path';
import type { Case } from '../../corpus/case-schema.js';
import { QemuTarget } from '../../oracle/qemu/qemu-target.js';
import { RspError } from '../../oracle/rsp/errors.js';
import type { ExecutionTarget } from '../../target/execution-target.js';
import { flagNames } from '../compare.js';
import { buildDivergenceReport } from '../divergence-report.js';
import { LockstepRunner, type LockstepResult } from '../lockstep.js';
import { divergenceSignature } from '../signature.js';
import { createDut } from '../targets.js';
import { createCaseSource } from './case-source.js';
import { minimizeDivergence } from './minimize-divergence.js';
import type { CaseResult, FromWorker, ToWorker, WorkerConfig } from './protocol.js';
import { saveCase } from './save-case.js';

/**
 * One campaign worker: its own QEMU and system under test, generating and running the cases
 * the campaign hands it. A divergence is saved to disk before anything else happens.
 */
const config = workerData as WorkerConfig;
const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);
const casesDir = path.join(config.runDir, 'cases');

let reference: QemuTarget;
let dut: ExecutionTarget;
let runner: LockstepRunner;
const source = createCaseSource(config);

async function restartReference(): Promise<void> {
  await reference?.close().catch(() => undefined);
  reference = await QemuTarget.launch({ cpuModel: config.cpuModel });
  runner = new LockstepRunner(reference, dut);
}

async function runCase(index: number): Promise<CaseResult> {
  const gen = await source(index);
  const base = { index, rows: gen.rows, rejects: gen.rejects };
  if (!gen.case) return { ...base, caseId: `case-${index}`, status: 'rejected', masked: [] };
  const c: Case = gen.case;
  let r: LockstepResult;
  try {
    r = await runner.run(c, { mode: config.mode });
  } catch (err) {
    if (err instanceof RspError && (reference.qemu.hasExited || reference.rsp.closed)) {
      const file = await saveCase(casesDir, `${c.id}.oracle-crash`, c);
      await restartReference();
      return { ...base, caseId: c.id, status: 'oracle-crash', masked: [], message: `${(err as Error).message} (case saved to ${file})` };
    }
    const file = await saveCase(casesDir, `${c.id}.crash`, c);
    return { ...base, caseId: c.id, status: 'dut-crash', masked: [], message: `${(err as Error).message} (case saved to ${file})` };
  }
  const masked = r.masked.map((m) => ({ mnemonic: m.mnemonic, flags: flagNames(m.mask) }));
  if (r.outcome === 'match') return { ...base, caseId: c.id, status: 'match', masked };
  const d = r.divergence!;
  // Saved first: whatever happens next (minimizer crash, Ctrl-C), the divergence is on disk.
  const rawFile = await saveCase(casesDir, c.id, c);
  await runner.scrub();
  const report = buildDivergenceReport(c, d, {
    caseFile: rawFile,
    seed: String(config.seed),
    replayCommand: config.replayTemplate.replace('{file}', rawFile),
  });
  return { ...base, caseId: c.id, status: 'divergence', masked, signature: report.signature, divergence: report };
}

/** Shrink case `index` (regenerated from the seed) while it keeps its signature. */
async function minimizeIndex(index: number, signature: string): Promise<FromWorker> {
  const gen = await source(index);
  const base = { type: 'minimized' as const, workerId: config.workerId, index, signature };
  if (!gen.case) return { ...base, message: 'the case no longer generates' };
  const c = gen.case;
  const r = await runner.run(c, { mode: 'block' });
  if (r.outcome !== 'divergence' || divergenceSignature(r.divergence!) !== signature) {
    return { ...base, message: 'the divergence did not reproduce' };
  }
  const min = await minimizeDivergence(runner, c, r.divergence!, signature);
  await runner.scrub();
  if (!min) return { ...base, message: 'the minimized case did not reproduce' };
  const file = await saveCase(casesDir, `${c.id}.min`, min.case);
  const report = buildDivergenceReport(min.case, min.divergence, {
    caseFile: file,
    seed: String(config.seed),
    replayCommand: config.replayTemplate.replace('{file}', file),
    minimization: { fromInstructions: min.fromInstructions, toInstructions: min.toInstructions, seconds: min.seconds },
  });
  return { ...base, report };
}

async function main(): Promise<void> {
  dut = await createDut(config.dut, config.cpuModel);
  await restartReference();
  post({ type: 'ready', workerId: config.workerId, oracle: reference.info(), dut: dut.info() });
  let queue = Promise.resolve();
  port.on('message', (m: ToWorker) => {
    if (m.type === 'stop') {
      queue = queue.then(async () => {
        await Promise.allSettled([reference.close(), dut.close()]);
        port.close();
      });
      return;
    }
    if (m.type === 'minimize') {
      queue = queue.then(async () => {
        try {
          post(await minimizeIndex(m.index, m.signature));
        } catch (err) {
          post({ type: 'minimized', workerId: config.workerId, index: m.index, signature: m.signature, message: (err as Error).message });
          await restartReference().catch(() => undefined);
        }
      });
      return;
    }
    queue = queue.then(async () => {
      try {
        post({ type: 'result', workerId: config.workerId, result: await runCase(m.index) });
      } catch (err) {
        // One case failing in an unexpected way must not end the campaign: record it as an
        // oracle problem, start a fresh QEMU, go on.
        const message = `unexpected failure: ${(err as Error).message ?? String(err)}`;
        post({
          type: 'result',
          workerId: config.workerId,
          result: { index: m.index, caseId: `${config.seed}-${m.index}`, status: 'oracle-crash', rows: [], rejects: [], masked: [], message },
        });
        try {
          await restartReference();
        } catch (restartErr) {
          post({ type: 'fatal', workerId: config.workerId, message: `cannot restart QEMU: ${(restartErr as Error).message}` });
        }
      }
    });
  });
}

main().catch((err: unknown) => post({ type: 'fatal', workerId: config.workerId, message: (err as Error).message ?? String(err) }));
