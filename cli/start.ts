import { FUZZ_OPTIONS, FUZZ_USAGE, parseSeed, runFuzz } from './fuzz.js';
import { parseOptions } from './options.js';
import { UsageError } from '../util/errors.js';

const USAGE = `difftest start [fuzz options…]

The main job (npm start): a short differential campaign, about a minute on 2 workers, of
random instruction sequences on QEMU and our emulator, ending with a report. Takes the same
options as fuzz (defaults here: --seconds 60 --workers 2, a random seed that is printed).
Divergences are findings, not failures: the exit code is 0 when the campaign ran.

${FUZZ_USAGE.split('\n').slice(0, 3).join('\n')}`;

export const startCommand = {
  summary: 'a one-minute campaign on QEMU vs the emulator, ending with a report',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseOptions(argv, FUZZ_OPTIONS, USAGE);
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'; usage: ${USAGE.split('\n')[0]}`);
    await runFuzz({
      seed: parseSeed(values.seed),
      argv,
      values: { workers: '2', ...values },
      defaultSeconds: 60,
      command: 'start',
    });
    return 0;
  },
};
