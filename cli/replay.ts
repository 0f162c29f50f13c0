import { existsSync } from 'node:fs';
import { CASE_LINES_EXT, listCaseFiles, readCaseEntries } from '../corpus/case-files.js';
import { DEFAULT_SUPPRESSIONS, readSuppressions, suppressionFor } from '../corpus/suppressions.js';
import type { Case } from '../corpus/case-schema.js';
import { judgeCase } from '../harness/expectation.js';
import { runOnSessions } from '../harness/session-pool.js';
import { DUT_HELP, parseDutSpec, workersForDut, type DutSpec } from '../harness/targets.js';
import { describeEndpoint } from '../oracle/rsp/client.js';
import { UsageError } from '../util/errors.js';
import { parseOptions } from './options.js';
import { formatReplayLine, formatSummary, replayExitCode, tally, type ReplayLine } from './replay-lines.js';
import { parseTimeoutOption, parseWorkersOption, TARGET_OPTIONS, TIMEOUT_HELP, TIMEOUT_USAGE } from './target-options.js';

const USAGE = `difftest replay <case.json|cases.jsonl|dir>... [--dut ${DUT_HELP}] [--inject NAME]... [--mode block|step] [--cpu MODEL] [--workers N] [--suppressions FILE] ${TIMEOUT_USAGE}

Runs saved cases on QEMU and the system under test and reports every divergence. A directory
is searched for *.json and *${CASE_LINES_EXT} files; a ${CASE_LINES_EXT} file holds one case per line (as the
campaign saves the divergent cases it could not locate, cases/unlocated${CASE_LINES_EXT}).
A case that declares an expected divergence passes when it still diverges with the same
signature (a known bug), and is reported as fixed when it no longer diverges. A divergence the
suppressions file lists (default ./${DEFAULT_SUPPRESSIONS} when present, as for fuzz) is known
too, with its reason; --suppressions none turns that off. Each case's
line says how it ended (and in which exception); the run ends with a count per divergence signature.
A case file that cannot be read is reported in one line, and the other cases still run.
  --workers N: cases run on N sessions at once, each with its own QEMU (default: one per core, at most 8;
               1 when the --dut gdb stub serves one connection at a time)
  ${TIMEOUT_HELP}
Exit code: 0 when every case behaves as expected; 1 when a case diverged unexpectedly or a known
divergence is fixed; 2 when a case file could not be read or a case could not be run (the
others still ran), or on bad options or a setup problem.`;

const OPTIONS = {
  dut: { type: 'string' },
  inject: { type: 'string', multiple: true },
  mode: { type: 'string' },
  cpu: { type: 'string' },
  workers: { type: 'string' },
  suppressions: { type: 'string' },
  ...TARGET_OPTIONS,
} as const;

const describeDut = (dut: DutSpec) => (dut.kind === 'gdb' ? describeEndpoint(dut.endpoint) : dut.kind);

export const replayCommand = {
  summary: 'replay saved cases',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseOptions(argv, OPTIONS, USAGE);
    if (positionals.length === 0) throw new UsageError(`replay needs at least one case file or directory; usage: ${USAGE.split('\n')[0]}`);
    const mode = values.mode ?? 'block';
    if (mode !== 'block' && mode !== 'step') throw new UsageError(`--mode '${mode}' is not a mode; use block or step`);
    const timeoutMs = parseTimeoutOption(values.timeout);
    let workers = parseWorkersOption(values.workers);
    const dut = parseDutSpec(values.dut ?? 'emulator', values.inject ?? [], { timeoutMs });
    const supFile = values.suppressions ?? (existsSync(DEFAULT_SUPPRESSIONS) ? DEFAULT_SUPPRESSIONS : 'none');
    const suppressions = supFile === 'none' ? undefined : await readSuppressions(supFile);
    const files = await listCaseFiles(positionals, ['.json', CASE_LINES_EXT]);
    if (files.length === 0) throw new UsageError(`no case files (*.json, *${CASE_LINES_EXT}) in ${positionals.join(', ')}; pass case files or a directory that holds some`);
    // every file is read before anything expensive starts; a bad one is reported, the rest run
    const entries = (await Promise.all(files.map(readCaseEntries))).flat();
    const unreadable: ReplayLine[] = entries.flatMap((e) => ('error' in e ? [{ kind: 'unreadable' as const, source: e.source, message: e.error }] : []));
    // bad input goes to stderr, as every other input error does, before anything runs
    for (const u of unreadable) process.stderr.write(`difftest: ${formatReplayLine(u)}\n`);
    const runnable = entries.flatMap((e) => ('case' in e ? [{ source: e.source, c: e.case }] : []));
    const lines: Array<ReplayLine | undefined> = runnable.map(() => undefined);
    // results are printed in input order, each as soon as those before it are known
    let printed = 0;
    const flush = (all = false) => {
      for (; printed < lines.length && (all || lines[printed]); printed++) {
        const l = lines[printed];
        if (l) process.stdout.write(`${formatReplayLine(l)}\n`);
      }
    };
    let fatal: unknown;
    if (runnable.length) {
      const fit = await workersForDut(dut, Math.min(workers, runnable.length));
      if (fit.singleClient) process.stdout.write(`difftest: the gdb stub at ${describeDut(dut)} serves one connection at a time; replaying with 1 worker\n`);
      workers = fit.workers;
      try {
        await runOnSessions(
          runnable,
          { dut, cpuModel: values.cpu, timeoutMs, workers },
          (session, item: { c: Case }) => session.runner.run(item.c, { mode }),
          (k, outcome) => {
            const { source, c } = runnable[k]!;
            if (!outcome.ok) {
              lines[k] = { kind: 'error', source, message: outcome.error.message };
            } else {
              const { verdict, signature } = judgeCase(c, outcome.value);
              const suppressed = verdict === 'diverged' && signature ? suppressionFor(suppressions, signature) : undefined;
              lines[k] = { kind: suppressed ? 'known' : verdict, source, result: outcome.value, signature, expectedSignature: c.expected?.signature, suppressed };
            }
            flush();
          },
        );
      } catch (err) {
        // a session that cannot be opened ends the run: what was found before it is still printed and counted
        fatal = err;
      }
      flush(true);
    }
    const ran = lines.filter((l): l is ReplayLine => l !== undefined);
    const t = tally([...unreadable, ...ran]);
    process.stdout.write(`${formatSummary(t, runnable.length - ran.length)}\n`);
    if (fatal !== undefined) throw fatal;
    return replayExitCode(t);
  },
};
