import { UsageError } from '../util/errors.js';
import { parseOptions } from './options.js';

const BENCHES = ['b1', 'b2', 'b3', 'b4', 'b5'] as const;
/** Benchmarks run only when named (they take tens of minutes). */
const OPT_IN = ['b4-entry'] as const;

const USAGE = `difftest bench [--rounds N] [--only ${[...BENCHES, ...OPT_IN].join(',')}]

Runs the benchmarks (B1-B5; the README's Benchmarks section says what each measures and why)
and prints medians and ratios measured in one run:
  b1  gdb lockstep: QemuTarget.step()+readState() vs the raw s+g packet loop, reset() rate
  b2  fuzz throughput: block/step tests/s on 2 workers vs a fresh QEMU per case
  b3  emulator MIPS on three workloads vs QEMU TCG on the same code
  b4  boot lockstep: compared instructions/s per channel vs QEMU logging alone, transplant time
  b5  planted bugs: time to find, minimization time and final size, and root-cause groups per bug
  b4-entry  (only when named) wall time of a block-channel lockstep from the PVH entry to __text_poke`;

export const benchCommand = {
  summary: 'run the benchmarks',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const { values } = parseOptions(argv, { rounds: { type: 'string' }, only: { type: 'string' } }, USAGE);
    const rounds = values.rounds ? Number(values.rounds) : 5;
    if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) throw new UsageError(`--rounds '${values.rounds}' must be a whole number from 1 to 100`);
    const only = values.only ? values.only.split(',') : [...BENCHES];
    const known: readonly string[] = [...BENCHES, ...OPT_IN];
    for (const b of only) if (!known.includes(b)) throw new UsageError(`unknown benchmark '${b}'; valid: ${known.join(', ')}`);
    process.stdout.write(`difftest bench: ${only.join(', ')} (${rounds} rounds where rounds apply); machine: ${(await import('node:os')).cpus().length} cores\n`);
    if (only.includes('b1')) await (await import('../bench/b1-gdb-lockstep.js')).runGdbLockstepBench({ rounds });
    if (only.includes('b2')) await (await import('../bench/b2-fuzz-throughput.js')).runFuzzThroughputBench({ rounds });
    if (only.includes('b3')) await (await import('../bench/b3-emulator-vs-qemu.js')).runEmulatorVsQemuBench({ rounds });
    if (only.includes('b4')) await (await import('../bench/b4-boot-lockstep.js')).runBootLockstepBench({ rounds });
    if (only.includes('b5')) await (await import('../bench/b5-minimization.js')).runMinimizationBench();
    if (only.includes('b4-entry')) await (await import('../bench/b4-entry-to-text-poke.js')).runEntryToTextPokeBench();
    return 0;
  },
};
