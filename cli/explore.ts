import path from 'node:path';
import { QEMU64_EXTENDED_CPU } from '../emulator/cpu/cpu-model.js';
import { emulatorModelFor } from '../harness/emulator-dut.js';
import { coverageOf, type ExploreParameters, type ExploreResult } from '../harness/explore/explore-result.js';
import { explore, type ExploreProgress } from '../harness/explore/explorer.js';
import { mapNames, OPCODE_MAPS, selectSeeds } from '../harness/explore/space.js';
import { TUNNEL_DEFAULTS } from '../harness/explore/tunnel.js';
import { EXPLORE } from '../harness/explore/explore-layout.js';
import { QemuTarget } from '../oracle/qemu/qemu-target.js';
import { SetupError } from '../oracle/qemu/install.js';
import { exploreConsoleSummary, writeExploreReport } from '../reports/explore-report.js';
import { UsageError } from '../util/errors.js';
import { prepareOutDir } from '../util/out-dir.js';
import { parseOptions } from './options.js';
import { onTermination } from './signals.js';
import { parseTimeoutOption, parseWorkersOption, TARGET_OPTIONS, TIMEOUT_HELP, TIMEOUT_USAGE } from './target-options.js';

const DEFAULT_SECONDS = 600;
const DEFAULT_BATCH = 512;

export const EXPLORE_USAGE = `difftest explore [--seconds S] [--map NAME]... [--class NAME]... [--opcodes XX-YY]
                [--cpu MODEL] [--workers N] [--batch N] [--skip-after N] [--nibble-skips N]
                [--full-bytes N] [--out DIR] ${TIMEOUT_USAGE}

Walks the x86 encoding space byte by byte, sandsifter-style, and runs every candidate on QEMU
and on the emulator: each alone, at CPL 3 with TF set, its last byte at the end of a page whose
successor is unmapped. A candidate that needs more bytes than it has faults on the fetch, so the
fault tells the instruction's length on both sides; otherwise the exception it raised and its
effect (registers, RFLAGS with undefined bits masked, data selectors, a data page, x87/SSE) are
compared. The walk tunnels: it advances the last byte of the decoded length, widens a candidate
that needs more bytes, and skips through bytes whose values change nothing on either side.
Writes summary.md and result.json (disagreements grouped by opcode map and prefix class, with a
count and an example encoding each, and the coverage of the space walked).

  --seconds S        walk budget (default ${DEFAULT_SECONDS}); QEMU start-up and the report come on top
  --map NAME         only these opcode maps (repeatable): ${mapNames()}
  --class NAME       only these prefix classes (repeatable; a name or its dotted prefix, e.g. C4.L0)
  --opcodes XX-YY    only these opcode values (hex) in each map, e.g. F0-FF
  --cpu MODEL        QEMU -cpu for both sides (default ${QEMU64_EXTENDED_CPU}: qemu64 with every
                     feature the emulator models, so that their instructions are compared too)
  --workers N        QEMU processes (default: cores, at most 8)
  --batch N          most candidates per gdb round trip (default ${DEFAULT_BATCH}, at most ${EXPLORE.maxCandidates})
  --skip-after N     equal outcomes in a row before a byte's low nibble is skipped (default ${TUNNEL_DEFAULTS.sameBeforeSkip})
  --nibble-skips N   high nibbles tried one value each before the rest of a byte is skipped (default ${TUNNEL_DEFAULTS.nibbleSkips})
  --full-bytes N     bytes after the fixed prefix walked through all 256 values (default ${TUNNEL_DEFAULTS.fullBytes}: opcode and ModRM)
  --out DIR          report directory (default reports/runs/<time>-explore/)
  ${TIMEOUT_HELP}

Every run prints the command that reproduces it (the walk is deterministic; how far it gets in
a budget depends on the machine). Ctrl-C or SIGTERM stops the walk and writes the report so far.
Exit code: 0 when the sides agree on everything walked, 1 on any disagreement, 2 on bad input or setup problems.`;

const OPTIONS = {
  seconds: { type: 'string' },
  map: { type: 'string', multiple: true },
  class: { type: 'string', multiple: true },
  opcodes: { type: 'string' },
  cpu: { type: 'string' },
  workers: { type: 'string' },
  batch: { type: 'string' },
  'skip-after': { type: 'string' },
  'nibble-skips': { type: 'string' },
  'full-bytes': { type: 'string' },
  out: { type: 'string' },
  ...TARGET_OPTIONS,
} as const;

function wholeNumber(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (text.trim() === '' || !Number.isInteger(v) || v < min || v > max) throw new UsageError(`--${name} '${text}' must be a whole number from ${min} to ${max}`);
  return v;
}

function parseOpcodes(text: string | undefined): [number, number] | undefined {
  if (text === undefined) return undefined;
  const m = /^([0-9a-fA-F]{1,2})(?:-([0-9a-fA-F]{1,2}))?$/.exec(text);
  const range = m ? ([parseInt(m[1]!, 16), parseInt(m[2] ?? m[1]!, 16)] as [number, number]) : undefined;
  if (!range || range[0] > range[1]) throw new UsageError(`--opcodes '${text}' must be a hex value or range XX-YY with XX <= YY, e.g. F0-FF`);
  return range;
}

const hex2 = (v: number) => v.toString(16).padStart(2, '0').toUpperCase();
const n = (x: number) => x.toLocaleString('en-US');

function progressPrinter(seconds: number, started: number): (p: ExploreProgress) => void {
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  return (p) => {
    const now = Date.now();
    if (!tty && now - lastLine < 10_000) return;
    lastLine = now;
    const elapsed = (now - started) / 1000;
    const line = `difftest: explore ${elapsed.toFixed(0)}/${seconds} s: ${n(p.candidates)} candidates (${n(Math.round(p.candidates / Math.max(elapsed, 1e-3)))}/s), ` +
      `${n(p.walksDone)}/${n(p.walksTotal)} opcode rows, ${n(p.disagreements)} disagreements${p.current ? `, next ${p.current}` : ''}`;
    process.stderr.write(tty ? `\r${line.padEnd(process.stderr.columns ? process.stderr.columns - 1 : 0)}` : `${line}\n`);
  };
}

export const exploreCommand = {
  summary: 'walk the encoding space on QEMU and the emulator; group where they disagree',
  usage: EXPLORE_USAGE,
  async run(argv: string[]): Promise<number> {
    const { values: v, positionals } = parseOptions(argv, OPTIONS, EXPLORE_USAGE);
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'; usage: ${EXPLORE_USAGE.split('\n')[0]}`);
    const seconds = wholeNumber('seconds', v.seconds, DEFAULT_SECONDS, 1, 86_400);
    const maps = v.map ?? [];
    for (const m of maps) if (!(OPCODE_MAPS as readonly string[]).includes(m)) throw new UsageError(`unknown --map '${m}'; valid maps: ${mapNames()}`);
    const classes = v.class ?? [];
    const opcodes = parseOpcodes(v.opcodes);
    const cpu = v.cpu ?? QEMU64_EXTENDED_CPU;
    const model = emulatorModelFor(cpu);
    const workers = parseWorkersOption(v.workers);
    const batch = wholeNumber('batch', v.batch, DEFAULT_BATCH, 1, EXPLORE.maxCandidates);
    const tunnel = {
      sameBeforeSkip: wholeNumber('skip-after', v['skip-after'], TUNNEL_DEFAULTS.sameBeforeSkip, 1, 256),
      nibbleSkips: wholeNumber('nibble-skips', v['nibble-skips'], TUNNEL_DEFAULTS.nibbleSkips, 0, 16),
      fullBytes: wholeNumber('full-bytes', v['full-bytes'], TUNNEL_DEFAULTS.fullBytes, 1, 14),
    };
    const timeoutMs = parseTimeoutOption(v.timeout);
    const seeds = selectSeeds(maps, classes).map((s) => (opcodes ? { ...s, opcodes } : s));
    if (seeds.length === 0) {
      const names = [...new Set(selectSeeds(maps).map((x) => x.prefixClass.replace(/^(C4|C5|62)\..*/, '$1.*')))];
      throw new UsageError(
        `no map × prefix class matches --map ${maps.join(',') || '(all)'} --class ${classes.join(',')}; classes${maps.length ? ` of ${maps.join(', ')}` : ''}: ${names.join(', ')} ` +
          `(VEX and EVEX classes are dotted, e.g. C5.L0.66, C4.L1.W0.F3, 62.W0.NP, and a dotted prefix selects several: --class C4.L0)`,
      );
    }
    const startedAt = new Date();
    const runDir = path.resolve(v.out ?? path.join('reports', 'runs', `${startedAt.toISOString().replace(/[:.]/g, '-').slice(0, 19)}-explore`));
    await prepareOutDir(v.out ?? path.relative(process.cwd(), runDir), v.out !== undefined ? '--out' : 'the report directory');
    const quote = (s: string) => (/^[\w.,+:/=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
    const command = [
      'node bin/difftest.mjs explore',
      `--seconds ${seconds}`,
      ...maps.map((m) => `--map ${quote(m)}`),
      ...classes.map((c) => `--class ${quote(c)}`),
      ...(opcodes ? [`--opcodes ${hex2(opcodes[0])}-${hex2(opcodes[1])}`] : []),
      `--cpu ${quote(cpu)}`,
      `--workers ${workers}`,
      `--batch ${batch}`,
      `--skip-after ${tunnel.sameBeforeSkip}`,
      `--nibble-skips ${tunnel.nibbleSkips}`,
      `--full-bytes ${tunnel.fullBytes}`,
    ].join(' ');
    const walksTotal = seeds.reduce((a, s) => {
      const [from, to] = s.opcodes ?? [0, 0xff];
      let k = 0;
      for (let op = from; op <= to; op++) if (!s.excluded?.has(op)) k++;
      return a + k;
    }, 0);
    process.stdout.write(
      `difftest: explore ${seeds.length} map × prefix classes (${n(walksTotal)} opcode rows) on QEMU -cpu ${cpu} and the emulator, ${workers} worker(s), budget ${seconds} s\n` +
        `difftest: reproduce with: ${command}\n`,
    );
    const abort = new AbortController();
    const stopListening = onTermination((signal) => {
      process.stderr.write(`\ndifftest: ${signal}: stopping the walk and writing the report so far (${signal === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again quits at once)\n`);
      abort.abort();
    });
    try {
      const walkStart = Date.now();
      const outcome = await explore({
        seeds,
        launchOracle: () => QemuTarget.launch({ cpuModel: cpu, timeoutMs }),
        workers,
        model,
        batch,
        tunnel,
        deadline: walkStart + seconds * 1000,
        signal: abort.signal,
        onProgress: progressPrinter(seconds, walkStart),
      });
      const walkSeconds = (Date.now() - walkStart) / 1000;
      if (process.stderr.isTTY) process.stderr.write('\n');
      const parameters: ExploreParameters = { cpu, maps, classes, opcodes: opcodes ? `${hex2(opcodes[0])}-${hex2(opcodes[1])}` : undefined, seconds, workers, batch, tunnel };
      const result: ExploreResult = {
        tool: 'difftest explore',
        command,
        parameters,
        qemu: outcome.oracleInfo ?? { implementation: 'qemu (did not start)', cpuModel: cpu },
        emulator: { implementation: 'difftest-emulator 0.1.0', cpuModel: model.name },
        startedAt: startedAt.toISOString(),
        walkSeconds,
        wallSeconds: (Date.now() - startedAt.getTime()) / 1000,
        candidates: outcome.candidates,
        discarded: outcome.discarded,
        batches: outcome.batches,
        interrupted: outcome.interrupted,
        timing: outcome.timing,
        coverage: coverageOf(outcome.coverage),
        disagreements: outcome.findings.total,
        maskedAgreements: outcome.maskedAgreements,
        masked: outcome.masked,
        groups: outcome.findings.sorted(),
        oracleCrashes: outcome.oracleCrashes,
        workerErrors: outcome.workerErrors,
      };
      await writeExploreReport(result, runDir);
      process.stdout.write(exploreConsoleSummary(result, runDir));
      // a worker that gave up leaves part of the space unwalked: a setup problem, said on the console and in the report
      if (outcome.workerErrors.length && outcome.workerErrors.length === workers) throw new SetupError(`every worker gave up: ${outcome.workerErrors[0]}`);
      return result.disagreements > 0 ? 1 : 0;
    } finally {
      stopListening();
    }
  },
};
