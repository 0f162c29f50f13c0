/**
 * The emulator's share of a batched case: µs per case for the emulator to run staged 96-case
 * batches of generated 10-instruction cases, through the guest runner (as a gdb stub runs it)
 * and natively (harness/batch/native-batch.ts), on one EmulatorTarget, no QEMU. Staging is not
 * counted (the harness does it once for both targets). On a shared machine wall time follows the
 * load; CPU time of this process is given beside it. B2 prints it; alone:
 *   npx tsx bench/batch-emulator-share.ts [--inject NAME] [--rounds N]
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import type { Case } from '../corpus/case-schema.js';
import { EmulatorTarget } from '../emulator/emulator-target.js';
import { isMutantName, setMutants } from '../emulator/mutants.js';
import { createCaseSource } from '../harness/campaign/case-source.js';
import { batchIneligible, stageBatch, type StagedBatch } from '../harness/batch/batch-image.js';
import { BATCH, batchProgram, batchStops, type BatchProgram } from '../harness/batch/batch-layout.js';
import { NativeBatch } from '../harness/batch/native-batch.js';
import { fmt, median } from './stats.js';

export interface ShareFigure {
  /** Medians over the passes after the first (which decodes, compiles and optimizes). */
  readonly wallMicros: number;
  readonly cpuMicros: number;
  readonly cases: number;
  readonly passes: number;
}
/** Per way of running: its figure, or why it could not run (a planted bug in an instruction the guest runner uses). */
export type EmulatorShare = Record<'guest' | 'native', ShareFigure | { readonly failed: string }>;

async function stagedBatches(program: BatchProgram): Promise<StagedBatch[]> {
  const staged: StagedBatch[] = [];
  for (const seed of [5, 6]) {
    const source = createCaseSource({ seed, length: [10, 10], raw: false });
    for (let b = 0; b < 10; b++) {
      const gen = await Promise.all(Array.from({ length: 96 }, (_, k) => source(b * 96 + k)));
      const cases = gen.flatMap((g) => (g.case && !batchIneligible(g.case) ? [g.case] : [])) as Case[];
      staged.push(stageBatch(cases, program.caseDone));
    }
  }
  return staged;
}

/** Guest runner and native batch, each on a fresh EmulatorTarget, `rounds` passes over 20 staged batches. */
export async function emulatorShare(rounds: number): Promise<EmulatorShare> {
  const program = await batchProgram();
  const staged = await stagedBatches(program);
  const caseCount = staged.reduce((n, s) => n + s.count, 0);
  const guest = async (t: EmulatorTarget, first: boolean) => {
    for (const [i, s] of staged.entries()) {
      await t.reset(program.state, first && i === 0 ? [...program.system, ...s.writes] : [program.gateway, ...s.writes]);
      const stop = await t.runUntil(batchStops(program), s.budget);
      if (!(stop.kind === 'breakpoint' && stop.rip === program.done)) throw new Error(`the guest runner's batch stopped (${stop.kind})`);
      await t.readMemory(BATCH.results, s.count * BATCH.recordBytes, 'phys');
    }
  };
  const native = new NativeBatch(program);
  const nativeRun = async (t: EmulatorTarget, first: boolean) => {
    for (const [i, s] of staged.entries()) await native.run(t, s, first && i === 0 ? program.system : []);
  };
  const measure = async (run: (t: EmulatorTarget, first: boolean) => Promise<void>): Promise<ShareFigure | { failed: string }> => {
    const t = new EmulatorTarget();
    const wall: number[] = [];
    const cpu: number[] = [];
    try {
      for (let r = 0; r < Math.max(2, rounds); r++) {
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        await run(t, r === 0);
        const c = process.cpuUsage(c0);
        wall.push(((performance.now() - t0) * 1000) / caseCount);
        cpu.push((c.user + c.system) / caseCount);
      }
    } catch (err) {
      return { failed: (err as Error).message };
    }
    return { wallMicros: median(wall.slice(1)), cpuMicros: median(cpu.slice(1)), cases: caseCount, passes: wall.length - 1 };
  };
  return { guest: await measure(guest), native: await measure(nativeRun) };
}

export function describeShare(f: ShareFigure | { readonly failed: string }): string {
  if ('failed' in f) return f.failed;
  return `${fmt(f.wallMicros, 1)} µs per case (CPU time ${fmt(f.cpuMicros, 1)} µs), median of ${f.passes} passes over ${f.cases} cases`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { inject: { type: 'string' }, rounds: { type: 'string' } } });
  if (values.inject) {
    if (!isMutantName(values.inject)) throw new Error(`unknown mutant ${values.inject}`);
    setMutants([values.inject]);
  }
  const share = await emulatorShare(Number(values.rounds ?? 5));
  process.stdout.write(`guest runner: ${describeShare(share.guest)}\nnative: ${describeShare(share.native)}\n`);
}
