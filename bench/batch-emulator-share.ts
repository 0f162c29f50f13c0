/**
 * The emulator's share of a batched case: µs per case for the emulator to run staged 96-case
 * batches of generated 10-instruction cases, through the guest runner (as a gdb stub runs it)
 * and natively (harness/batch/native-batch.ts), on one EmulatorTarget, no QEMU. Staging is not
 * counted (the harness does it once for both targets). On a shared machine wall time follows the
 * load; CPU time of this process is printed beside it.
 *   npx tsx bench/batch-emulator-share.ts [--inject NAME] [--rounds N] [--only guest|native]
 */
import { parseArgs } from 'node:util';
import type { Case } from '../corpus/case-schema.js';
import { EmulatorTarget } from '../emulator/emulator-target.js';
import { isMutantName, setMutants } from '../emulator/mutants.js';
import { createCaseSource } from '../harness/campaign/case-source.js';
import { batchIneligible, stageBatch, type StagedBatch } from '../harness/batch/batch-image.js';
import { BATCH, batchProgram, batchStops } from '../harness/batch/batch-layout.js';
import { NativeBatch } from '../harness/batch/native-batch.js';
import { fmt, median } from './stats.js';

const { values } = parseArgs({ options: { inject: { type: 'string' }, rounds: { type: 'string' }, only: { type: 'string' } } });
if (values.inject) {
  if (!isMutantName(values.inject)) throw new Error(`unknown mutant ${values.inject}`);
  setMutants([values.inject]);
}
const rounds = Math.max(2, Number(values.rounds ?? 5));
const program = await batchProgram();
const staged: StagedBatch[] = [];
for (const seed of [5, 6]) {
  const source = createCaseSource({ seed, length: [10, 10], raw: false });
  for (let b = 0; b < 10; b++) {
    const gen = await Promise.all(Array.from({ length: 96 }, (_, k) => source(b * 96 + k)));
    const cases = gen.flatMap((g) => (g.case && !batchIneligible(g.case) ? [g.case] : [])) as Case[];
    staged.push(stageBatch(cases, program.caseDone));
  }
}
const caseCount = staged.reduce((n, s) => n + s.count, 0);

async function guest(t: EmulatorTarget, first: boolean): Promise<void> {
  for (const [i, s] of staged.entries()) {
    await t.reset(program.state, first && i === 0 ? [...program.system, ...s.writes] : [program.gateway, ...s.writes]);
    const stop = await t.runUntil(batchStops(program), s.budget);
    if (!(stop.kind === 'breakpoint' && stop.rip === program.done)) throw new Error(`guest batch stopped: ${stop.kind} (with a planted bug in an instruction the runner uses, expected)`);
    await t.readMemory(BATCH.results, s.count * BATCH.recordBytes, 'phys');
  }
}

const native = new NativeBatch(program);
async function nativeRun(t: EmulatorTarget, first: boolean): Promise<void> {
  for (const [i, s] of staged.entries()) await native.run(t, s.images, first && i === 0 ? program.system : []);
}

for (const [name, run] of [['guest runner', guest], ['native', nativeRun]] as const) {
  if (values.only && !name.startsWith(values.only)) continue;
  const t = new EmulatorTarget();
  const times: number[] = [];
  const cpu: number[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      await run(t, r === 0);
      const c = process.cpuUsage(c0);
      times.push(((performance.now() - t0) * 1000) / caseCount);
      cpu.push((c.user + c.system) / caseCount);
    }
  } catch (err) {
    process.stdout.write(`${name}: ${(err as Error).message}\n`);
    continue;
  }
  // the first pass decodes, compiles and optimizes: not counted
  process.stdout.write(
    `${name}: ${fmt(median(times.slice(1)), 1)} µs per case (CPU time ${fmt(median(cpu.slice(1)), 1)} µs), median of ${rounds - 1} passes over ${caseCount} cases after a first (wall: ${times.map((x) => fmt(x, 1)).join(', ')})\n`,
  );
}
