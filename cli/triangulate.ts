import { listCaseFiles, readCaseEntries, CASE_LINES_EXT } from '../corpus/case-files.js';
import type { Case } from '../corpus/case-schema.js';
import type { WhoseBug } from '../harness/campaign-result.js';
import { buildDivergenceReport } from '../harness/divergence-report.js';
import { runOnSessions } from '../harness/session-pool.js';
import { ThirdOpinion } from '../harness/triangulate/triangulate.js';
import { whoseBugLine } from '../reports/whose-bug.js';
import { DUT_HELP, parseDutSpec, workersForDut } from '../harness/targets.js';
import { SetupError } from '../oracle/qemu/install.js';
import { UsageError } from '../util/errors.js';
import { parseOptions } from './options.js';
import { parseTimeoutOption, parseWorkersOption, TARGET_OPTIONS, TIMEOUT_HELP, TIMEOUT_USAGE } from './target-options.js';

const USAGE = `difftest triangulate <case.json|cases.jsonl|dir>... [--dut ${DUT_HELP}] [--inject NAME]... [--cpu MODEL] [--workers N] ${TIMEOUT_USAGE}

Whose bug is it? Runs each saved case on QEMU and the system under test, and for each divergence
runs the case natively on the host CPU (at CPL 3, in a small runner compiled on first use with cc
into .cache/host-runner/) up to the divergent instruction: the verdict says whom the host sides
with on every differing field (emulator: the host agrees with QEMU; QEMU: the host agrees with the
system under test; both: with neither), or why there is no third opinion (a privileged
instruction, one the host or the QEMU model lacks, a field a CPL 3 process cannot see).
  --workers N: cases run on N sessions at once (default: one per core, at most 8)
  ${TIMEOUT_HELP}
Exit code: 0 when every case ran; 2 when a case could not be read or run, or the host cannot run cases here.`;

const OPTIONS = {
  dut: { type: 'string' },
  inject: { type: 'string', multiple: true },
  cpu: { type: 'string' },
  workers: { type: 'string' },
  ...TARGET_OPTIONS,
} as const;

const VERDICT_TAG: Record<WhoseBug['verdict'], string> = { emulator: 'EMULATOR', qemu: 'QEMU', both: 'BOTH', none: 'NO-OPINION' };

export const triangulateCommand = {
  summary: 'whose bug: judge saved divergent cases by a third opinion, the host CPU',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseOptions(argv, OPTIONS, USAGE);
    if (positionals.length === 0) throw new UsageError(`triangulate needs at least one case file or directory; usage: ${USAGE.split('\n')[0]}`);
    const timeoutMs = parseTimeoutOption(values.timeout);
    const dut = parseDutSpec(values.dut ?? 'emulator', values.inject ?? [], { timeoutMs });
    const files = await listCaseFiles(positionals, ['.json', CASE_LINES_EXT]);
    if (files.length === 0) throw new UsageError(`no case files (*.json, *${CASE_LINES_EXT}) in ${positionals.join(', ')}; pass case files or a directory that holds some`);
    const entries = (await Promise.all(files.map(readCaseEntries))).flat();
    let failed = 0;
    for (const e of entries) {
      if ('error' in e) {
        process.stderr.write(`difftest: ${e.error}\n`);
        failed++;
      }
    }
    const runnable = entries.flatMap((e) => ('case' in e ? [{ source: e.source, c: e.case }] : []));
    const opinion = await ThirdOpinion.open({ cpuModel: values.cpu, dutName: dut.kind === 'emulator' ? 'the emulator' : `the system under test (${values.dut})` });
    if ('unavailable' in opinion) throw new SetupError(`no third opinion on this machine: ${opinion.unavailable}`);
    process.stdout.write(`third opinion: ${opinion.host.info().implementation}\n`);
    const counts: Record<string, number> = {};
    const lines: Array<string | undefined> = runnable.map(() => undefined);
    let printed = 0;
    const flush = () => {
      for (; printed < lines.length && lines[printed] !== undefined; printed++) process.stdout.write(`${lines[printed]}\n`);
    };
    try {
      const fit = await workersForDut(dut, Math.min(parseWorkersOption(values.workers), Math.max(1, runnable.length)));
      await runOnSessions(
        runnable,
        { dut, cpuModel: values.cpu, timeoutMs, workers: fit.workers },
        async (session, item: { source: string; c: Case }) => {
          const r = await session.runner.run(item.c, { mode: 'step' });
          if (r.outcome === 'match') return { text: `agree      ${item.source}: QEMU and the system under test agree (${r.end}); nothing to judge`, key: 'agree' };
          const report = buildDivergenceReport(item.c, r.divergence!, { replayCommand: '' });
          const verdict = await opinion.judge(item.c, report);
          return { text: `${VERDICT_TAG[verdict.verdict].padEnd(10)} ${item.source}: ${report.signature}\n           ${whoseBugLine(verdict)}`, key: verdict.verdict };
        },
        (k, outcome) => {
          if (outcome.ok) {
            lines[k] = outcome.value.text;
            counts[outcome.value.key] = (counts[outcome.value.key] ?? 0) + 1;
          } else {
            lines[k] = `ERROR      ${runnable[k]!.source}: ${outcome.error.message.split('\n')[0]}`;
            failed++;
          }
          flush();
        },
      );
    } finally {
      flush();
      await opinion.close();
    }
    const order = ['emulator', 'qemu', 'both', 'none', 'agree'];
    const summary = order.filter((k) => counts[k]).map((k) => `${counts[k]} ${k === 'none' ? 'without a third opinion' : k === 'agree' ? 'agreeing' : `${k === 'both' ? 'both-differ' : `${k}'s bug`}`}`);
    process.stdout.write(`${runnable.length} case(s): ${summary.join(', ') || 'none run'}${failed ? `; ${failed} could not be read or run` : ''}\n`);
    return failed ? 2 : 0;
  },
};
