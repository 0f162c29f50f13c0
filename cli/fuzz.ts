import { existsSync } from 'node:fs';
import path from 'node:path';
import { readSuppressions, suppressionFor } from '../corpus/suppressions.js';
import { availableParallelism } from 'node:os';
import { runCampaign } from '../harness/campaign/campaign.js';
import type { CampaignResult } from '../harness/campaign-result.js';
import { FAMILY_NAMES, describeRow, GENERATABLE_ROW_COUNT } from '../harness/campaign/case-source.js';
import { DUT_HELP, parseDutSpec } from '../harness/targets.js';
import { emulatorModelFor } from '../harness/emulator-dut.js';
import { writeReport } from '../reports/write-report.js';
import { UsageError } from '../util/errors.js';
import { childLogger } from '../util/log.js';
import { BATCH } from '../harness/batch/batch-layout.js';
import { DEFAULT_BATCH } from '../harness/campaign/campaign.js';
import { parseOptions } from './options.js';

const log = childLogger('fuzz');

export const FUZZ_USAGE = `difftest fuzz [--seed N] [--count N | --seconds S] [--family NAME]... [--workers N]
              [--dut ${DUT_HELP}] [--inject NAME]... [--mode block|step] [--length MIN-MAX]
              [--raw] [--no-minimize] [--cpu MODEL] [--out DIR] [--suppressions FILE] [--batch N]

Generates random instruction sequences, runs each on QEMU and the system under test, and
writes a report (index.html, summary.md, result.json, junit.xml) to reports/runs/<run>/.
Every divergence is saved as a replayable case before anything else happens. Divergences
matching the suppressions file (default ./difftest-suppressions.json when present) are
reported separately and do not count. In block mode, --batch N cases (default ${DEFAULT_BATCH}) run per gdb
round trip in a guest-side batch; cases whose outcomes differ are re-run alone (--batch 1: no batching).
Exit code: 0 when nothing diverged, 1 on any divergence, 2 on bad input or setup problems.`;

export const FUZZ_OPTIONS = {
  seed: { type: 'string' },
  count: { type: 'string' },
  seconds: { type: 'string' },
  family: { type: 'string', multiple: true },
  workers: { type: 'string' },
  dut: { type: 'string' },
  inject: { type: 'string', multiple: true },
  mode: { type: 'string' },
  length: { type: 'string' },
  raw: { type: 'boolean' },
  'no-minimize': { type: 'boolean' },
  cpu: { type: 'string' },
  out: { type: 'string' },
  suppressions: { type: 'string' },
  batch: { type: 'string' },
} as const;

export const DEFAULT_SUPPRESSIONS = 'difftest-suppressions.json';

function positiveInt(name: string, text: string | undefined, fallback: number, max = 1e9): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${name} '${text}' must be a whole number from 1 to ${max}`);
  return n;
}

export interface FuzzSettings {
  readonly seed: number;
  readonly argv: readonly string[];
  readonly values: Partial<Record<keyof typeof FUZZ_OPTIONS, string | boolean | string[]>>;
  readonly defaultCount?: number;
  readonly defaultSeconds?: number;
  readonly command: string;
  /** Adjust the result before the report is written (suppressions, regression results). */
  readonly postprocess?: (result: CampaignResult) => Promise<CampaignResult> | CampaignResult;
}

/** Shared by `fuzz`, `start` and `ci`: validate options, run, write the report, print the summary. */
export async function runFuzz(s: FuzzSettings): Promise<{ result: CampaignResult; dir: string }> {
  const v = s.values;
  const str = (k: keyof typeof FUZZ_OPTIONS) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const list = (k: keyof typeof FUZZ_OPTIONS) => (Array.isArray(v[k]) ? (v[k] as string[]) : []);
  const mode = str('mode') ?? 'block';
  if (mode !== 'block' && mode !== 'step') throw new UsageError(`--mode '${mode}' is not a mode; use block or step`);
  const families = list('family');
  for (const f of families) {
    if (!FAMILY_NAMES.includes(f)) throw new UsageError(`unknown --family '${f}'; valid families: ${FAMILY_NAMES.join(', ')}`);
  }
  const lengthText = str('length') ?? '1-10';
  const lm = /^(\d+)-(\d+)$/.exec(lengthText) ?? /^(\d+)$/.exec(lengthText);
  const length: [number, number] = lm ? [Number(lm[1]), Number(lm[2] ?? lm[1])] : [0, 0];
  if (!lm || length[0] < 1 || length[1] < length[0] || length[1] > 200) {
    throw new UsageError(`--length '${lengthText}' must be N or MIN-MAX with 1 <= MIN <= MAX <= 200`);
  }
  const count = str('count') !== undefined ? positiveInt('count', str('count'), 0) : undefined;
  const seconds = str('seconds') !== undefined ? positiveInt('seconds', str('seconds'), 0, 86_400) : undefined;
  // what the campaign runs for: the options given, else the command's default (ci: a count, start: seconds)
  const runCount = count ?? (seconds === undefined ? s.defaultCount : undefined);
  const runSeconds = seconds ?? (count === undefined ? s.defaultSeconds : undefined);
  const workers = positiveInt('workers', str('workers'), Math.min(availableParallelism(), 8), 64);
  const batch = positiveInt('batch', str('batch'), DEFAULT_BATCH, BATCH.maxCases);
  const dut = parseDutSpec(str('dut') ?? 'emulator', list('inject'));
  // both sides model the same CPU: refuse a model the emulator lacks before anything runs
  if (dut.kind === 'emulator') emulatorModelFor(str('cpu'));
  const runId = `${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}-seed${s.seed}`;
  const runDir = path.resolve(str('out') ?? path.join('reports', 'runs', runId));
  const dutArgs = [str('dut') ? `--dut ${str('dut')}` : '', ...list('inject').map((i) => `--inject ${i}`), str('cpu') ? `--cpu ${str('cpu')}` : '']
    .filter(Boolean)
    .join(' ');
  process.stdout.write(
    `difftest: ${s.command} seed ${s.seed} (replay with --seed ${s.seed}); ${runCount !== undefined ? `${runCount} cases` : `${runSeconds}s`}, ${workers} worker(s), ${mode} mode, DUT ${str('dut') ?? 'emulator'}${list('inject').length ? ` with ${list('inject').join(',')}` : ''}\n`,
  );
  // read before the campaign: a malformed file must not cost a minute of fuzzing first
  const supFile = str('suppressions') ?? (existsSync(DEFAULT_SUPPRESSIONS) ? DEFAULT_SUPPRESSIONS : undefined);
  const suppressions = supFile ? await readSuppressions(supFile) : undefined;
  const seen = new Set<string>();
  const abort = new AbortController();
  const onSigint = () => {
    process.stderr.write('\ndifftest: interrupted; finishing the cases in flight and writing a partial report (Ctrl-C again to quit at once)\n');
    abort.abort();
    process.once('SIGINT', () => process.exit(130));
  };
  process.once('SIGINT', onSigint);
  let result: CampaignResult;
  try {
    result = await runCampaign({
      runId,
      command: ['difftest', s.command, ...s.argv].join(' '),
      seed: s.seed,
      count: runCount,
      seconds: runSeconds,
      workers,
      dut,
      cpuModel: str('cpu'),
      mode,
      batch,
      families: families.length ? families : undefined,
      length,
      raw: v.raw === true,
      runDir,
      minimize: v['no-minimize'] !== true,
      replayTemplate: `node bin/difftest.mjs replay {file}${dutArgs ? ` ${dutArgs}` : ''}`,
      progress: true,
      signal: abort.signal,
      rowNames: describeRow,
      // known divergences are reported as found; minimizing them again only costs time
      known: suppressions ? (signature) => suppressionFor(suppressions, signature) !== undefined : undefined,
      totalRows: GENERATABLE_ROW_COUNT,
      onDivergence: (r) => {
        // one line per new signature; the report counts the repeats. Known (suppressed) ones are
        // not announced: the summary counts them and the report lists them with their reasons.
        if (!r.signature || seen.has(r.signature)) return;
        seen.add(r.signature);
        if (suppressions && suppressionFor(suppressions, r.signature) !== undefined) {
          log.debug({ case: r.index, signature: r.signature }, 'known divergence (suppressed)');
          return;
        }
        const lead = process.stderr.isTTY ? '\n' : '';
        process.stderr.write(`${lead}difftest: new divergence in case ${r.index}: ${r.signature} (saved under ${path.relative(process.cwd(), runDir)}/cases)\n`);
      },
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (s.postprocess) result = await s.postprocess(result);
  if (suppressions) {
    result = {
      ...result,
      divergences: result.divergences.map((d) => {
        const reason = suppressionFor(suppressions, d.signature);
        return reason ? { ...d, suppressed: { reason } } : d;
      }),
    };
  }
  const { dir } = await writeReport(result, runDir);
  const rel = path.relative(process.cwd(), dir) || '.';
  const rate = result.seconds > 0 ? result.testsRun / result.seconds : 0;
  process.stdout.write(
    `difftest: ${result.testsRun} tests in ${result.seconds.toFixed(1)}s (${rate.toFixed(0)}/s), ` +
      `${result.divergences.filter((d) => !d.suppressed).length} distinct divergence(s)` +
      `${result.divergences.some((d) => d.suppressed) ? ` (+${result.divergences.filter((d) => d.suppressed).length} suppressed)` : ''}` +
      `${result.partial ? ' (partial run)' : ''}; seed ${s.seed}\n` +
      result.divergences
        .filter((d) => !d.suppressed)
        .map((d) => `  ${d.count}× ${d.signature}\n     replay: ${d.replayCommand}\n`)
        .join('') +
      (result.divergences.some((d) => d.suppressed)
        ? `  suppressed (known, listed in the report with their reasons): ${result.divergences
            .filter((d) => d.suppressed)
            .reduce((n, d) => n + d.count, 0)} case(s) in ${result.divergences.filter((d) => d.suppressed).length} signature(s)\n`
        : '') +
      `difftest: report ${path.join(rel, 'index.html')} (also summary.md, result.json, junit.xml)\n`,
  );
  return { result, dir };
}

export function parseSeed(text: string | undefined): number {
  if (text === undefined) return Math.floor(Math.random() * 0x7fffffff);
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new UsageError(`--seed '${text}' must be a whole number from 0 to 4294967295`);
  return n;
}

export const fuzzCommand = {
  summary: 'run a differential fuzzing campaign',
  usage: FUZZ_USAGE,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseOptions(argv, FUZZ_OPTIONS, FUZZ_USAGE);
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'; usage: ${FUZZ_USAGE.split('\n')[0]}`);
    const { result } = await runFuzz({ seed: parseSeed(values.seed), argv, values, defaultSeconds: 60, command: 'fuzz' });
    return result.divergences.some((d) => !d.suppressed) ? 1 : 0;
  },
};
