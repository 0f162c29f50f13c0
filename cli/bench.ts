import { parseOptions } from './main.js';

const USAGE = `difftest bench [--rounds N]

Runs the benchmarks (DESIGN.md B1…) and prints medians and ratios measured in one run.`;

export const benchCommand = {
  summary: 'run the benchmarks',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const { values } = parseOptions(argv, { rounds: { type: 'string' } }, USAGE);
    const rounds = values.rounds ? Number(values.rounds) : 5;
    const { runGdbLockstepBench } = await import('../bench/b1-gdb-lockstep.js');
    await runGdbLockstepBench({ rounds });
    return 0;
  },
};
