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
const knownSignatures = new Set<string>();
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
  const signature = divergenceSignature(d);
  if (knownSignatures.has(signature)) return { ...base, caseId: c.id, status: 'divergence', masked, signature };
  knownSignatures.add(signature);
  const min = config.minimize ? await minimizeDivergence(runner, c, d, signature) : undefined;
  const finalCase = min?.case ?? c;
  const finalFile = min ? await saveCase(casesDir, `${c.id}.min`, min.case) : rawFile;
  const report = buildDivergenceReport(finalCase, min?.divergence ?? d, {
    caseFile: finalFile,
    seed: String(config.seed),
    replayCommand: config.replayTemplate.replace('{file}', finalFile),
    minimization: min ? { fromInstructions: min.fromInstructions, toInstructions: min.toInstructions, seconds: min.seconds } : undefined,
  });
  return { ...base, caseId: c.id, status: 'divergence', masked, signature, divergence: report };
}

async function main(): Promise<void> {
  dut = await createDut(config.dut, config.cpuModel);
  await restartReference();
  post({ type: 'ready', workerId: config.workerId, oracle: reference.info(), dut: dut.info() });
  let queue = Promise.resolve();
  port.on('message', (m: ToWorker) => {
    if (m.type === 'known') {
      knownSignatures.add(m.signature);
      return;
    }
    if (m.type === 'stop') {
      queue = queue.then(async () => {
        await Promise.allSettled([reference.close(), dut.close()]);
        port.close();
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
