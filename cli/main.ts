import { setLogLevel, resolveLogLevel } from '../util/log.js';
import { formatError, UsageError } from './errors.js';

interface Command {
  readonly summary: string;
  readonly usage: string;
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, () => Promise<Command>> = {
  start: async () => (await import('./start.js')).startCommand,
  sample: async () => (await import('./sample.js')).sampleCommand,
  'setup-check': async () => (await import('./setup-check.js')).setupCheckCommand,
  bench: async () => (await import('./bench.js')).benchCommand,
  replay: async () => (await import('./replay.js')).replayCommand,
  fuzz: async () => (await import('./fuzz.js')).fuzzCommand,
  ci: async () => (await import('./ci.js')).ciCommand,
  minimize: async () => (await import('./minimize.js')).minimizeCommand,
  report: async () => (await import('./report.js')).reportCommand,
  merge: async () => (await import('./merge.js')).mergeCommand,
  export: async () => (await import('./export.js')).exportCommand,
  'replay-export': async () => (await import('./replay-export.js')).replayExportCommand,
  boot: async () => (await import('./boot.js')).bootCommand,
  triangulate: async () => (await import('./triangulate.js')).triangulateCommand,
  explore: async () => (await import('./explore.js')).exploreCommand,
};

const SUMMARIES: Record<string, string> = {
  start: 'the main job: a one-minute campaign (QEMU vs the emulator) ending with a report',
  sample: 'run the seed notes\' add r13, [rip+disp] on QEMU and print each step',
  'setup-check': 'find or install qemu-system-x86_64 and print its version',
  bench: 'run the benchmarks and print figures and ratios',
  replay: 'replay saved cases (files or directories) on QEMU and the system under test',
  fuzz: 'run a differential fuzzing campaign and write a report',
  ci: 'fixed-seed campaign + regression corpus; exit 1 on any divergence; JUnit out',
  minimize: 'shrink a diverging case to its smallest form and report it',
  report: 're-render a report from a saved result.json',
  merge: "merge the shards of a campaign (fuzz --shard K/N) into one report",
  export: 'write per-instruction tests (SingleStepTests style, QEMU as reference) for other emulators',
  'replay-export': 'run an exported single-step test set on the emulator, QEMU or a gdb stub',
  boot: 'boot Linux on QEMU and the emulator side by side; report the first mismatch',
  triangulate: 'whose bug: run saved divergent cases natively on the host CPU as a third opinion',
  explore: 'walk the encoding space on QEMU and the emulator; group where they disagree',
};

function usage(): string {
  const lines = Object.entries(SUMMARIES).map(([k, v]) => `  ${k.padEnd(12)} ${v}`);
  return ['usage: difftest <command> [options]', '', 'commands:', ...lines, '', 'global options: --verbose (debug logs to stderr; or DIFFTEST_LOG=debug), --help'].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  setLogLevel(resolveLogLevel(verbose));
  const rest = argv.filter((a) => a !== '--verbose');
  const name = rest[0];
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) throw new UsageError(`unknown command '${name}'; valid commands: ${Object.keys(COMMANDS).join(', ')}`);
  const cmd = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${cmd.usage}\n`);
    return 0;
  }
  return cmd.run(rest.slice(1));
}

const verbose = process.argv.includes('--verbose');
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${formatError(err, verbose)}\n`);
    process.exitCode = 2;
  },
);
