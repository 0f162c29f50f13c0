import { existsSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_SUPPRESSIONS, readSuppressions, suppressionFor } from '../corpus/suppressions.js';
import { runCampaign } from '../harness/campaign/campaign.js';
import type { CampaignResult } from '../harness/campaign-result.js';
import { cpuFeatures, FAMILY_NAMES, describeRow } from '../harness/campaign/case-source.js';
import { BudgetError, describeBudget, splitBudget, MINIMIZE_SHARE } from '../harness/campaign/budget.js';
import { DEFAULT_FAMILIES, generatableRows, modeOfFamilies, parseFamilies, type Family, type GenerationMode } from '../harness/generate/row-catalog.js';
import { DUT_HELP, parseDutSpec, workersForDut } from '../harness/targets.js';
import { emulatorModelFor } from '../harness/emulator-dut.js';
import { MUTANT_DESCRIPTIONS } from '../emulator/mutants.js';
import { writeReport } from '../reports/write-report.js';
import { UsageError } from '../util/errors.js';
import { childLogger } from '../util/log.js';
import { BATCH } from '../harness/batch/batch-layout.js';
import { DEFAULT_BATCH } from '../harness/campaign/campaign.js';
import { parseOptions } from './options.js';
import { campaignSummary } from './campaign-console.js';
import { prepareOutDir } from '../util/out-dir.js';
import { parseTimeoutOption, parseWorkersOption, TARGET_OPTIONS, TIMEOUT_HELP, TIMEOUT_USAGE } from './target-options.js';
import { onTermination } from './signals.js';
import { describeShard, parseShard, shardCaseCount } from '../harness/campaign/shard.js';
import { toolVersion } from '../harness/campaign/campaign-spec.js';
import type { CampaignSpec } from '../harness/campaign-result.js';

const log = childLogger('fuzz');

export const FUZZ_USAGE = `difftest fuzz [--seed N] [--count N | --seconds S] [--minimize-seconds S] [--family NAME]...
              [--workers N] [--dut ${DUT_HELP}] [--inject NAME]... [--mode block|step]
              [--length MIN-MAX] [--raw] [--no-minimize] [--cpu MODEL] [--out DIR]
              [--suppressions FILE] [--batch N] [--shard K/N] ${TIMEOUT_USAGE}

Generates random instruction sequences, runs each on QEMU and the system under test, and
writes a report (index.html, summary.md, result.json, junit.xml) to reports/runs/<run>/.
Every divergence is saved as a replayable case before anything else happens. Divergences
matching the suppressions file (default ./difftest-suppressions.json when present) are
reported separately and do not count.

  --seed N             campaign seed (default: random, printed; case i is the same for a seed wherever it runs)
  --count N            test N cases, then minimize (up to --minimize-seconds, default 120)
  --seconds S          bound the whole run: testing gets S minus the minimization budget (default
                       ${MINIMIZE_SHARE * 100}% of S, at least 3 s, at most 300 s); start-up and the report come on top
  --minimize-seconds S minimization budget (shrinking the first case of each new divergence, most frequent first)
  --no-minimize        report divergences as found
  --family NAME        only these instruction families (repeatable). Without --family:
                       ${DEFAULT_FAMILIES.join(', ')}.
                       By name only: sse, x87 (SSE/SSE2/SSE3/MMX, and x87: each case starts
                       with a prologue loading the XMM/MMX/x87 registers and MXCSR/FCW it reads;
                       XMM0-15, MXCSR, ST0-7, FCW and FSW are compared);
                       protected32: 32-bit code on the 32-bit test machine (legacy protected mode,
                       paging off), compared on the 32-bit register view; runs alone (not mixed with
                       64-bit families), keystone only (no --raw), each case on its own (no --batch:
                       the guest-side batch runner is 64-bit code);
                       real16: 16-bit code in real mode on the real-mode test machine (CS 1000,
                       SS 0800, DS=ES 2000; exceptions and INT n through the IVT), segment
                       registers compared too; runs alone, keystone only, case by case;
                       system: privileged instructions at CPL 0 (MOV CRn/DRn, WRMSR/RDMSR,
                       SWAPGS, INVLPG, CLTS, LMSW, INVD/WBINVD, CLI; XSETBV/XGETBV/XSAVE/XRSTOR
                       with --cpu ...,+xsave) from templates drawing valid and invalid values;
                       CRs, EFER and the bases compared; runs alone, case by case
  --workers N          worker threads, each with its own QEMU (default: cores, at most 8)
  --dut SPEC           system under test: ${DUT_HELP} (default emulator)
  --inject NAME        plant a bug in the emulator (repeatable):
${Object.entries(MUTANT_DESCRIPTIONS)
  .map(([k, v]) => `                         ${k.padEnd(21)} ${v}`)
  .join('\n')}
  --mode block|step    block (default): run each case to its end, step only to locate a difference
  --batch N            block mode: cases per guest-side batch (default ${DEFAULT_BATCH}; 1: each case alone;
                       64-bit families only)
  --length MIN-MAX     instructions per case (default 1-10)
  --raw                encode from the opcode tables instead of assembling with keystone
  --cpu MODEL          QEMU -cpu for both sides (default qemu64; the emulator models qemu64 with +flags)
  --out DIR            report directory (default reports/runs/<run>/); checked before anything runs
  --suppressions FILE  known divergences (default ./difftest-suppressions.json)
  --shard K/N          run part K of N of the campaign, for N machines or CI jobs with the same
                       options (case i belongs to part (i mod N) + 1), testing only: then
                       \`difftest merge\` on the N result.json files writes the campaign's report and
                       does the minimization and root-cause analysis. With --count C the N parts
                       together run exactly cases 0..C-1, as one run of --count C does. With
                       --seconds S each part tests for as long as one run of S would (S minus the
                       minimization budget), through its own share of the same case sequence: together
                       about N times as many cases as one run, the cases each part reached
  ${TIMEOUT_HELP}

Ctrl-C or SIGTERM stops the run and writes a partial report (a second one quits at once).
Exit code: 0 when nothing diverged, 1 on any divergence (cases that diverged unlocated included), 2 on
bad input or setup problems, or when no test ran (interrupted during start-up).`;

export const FUZZ_OPTIONS = {
  seed: { type: 'string' },
  count: { type: 'string' },
  seconds: { type: 'string' },
  'minimize-seconds': { type: 'string' },
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
  shard: { type: 'string' },
  ...TARGET_OPTIONS,
} as const;

export { DEFAULT_SUPPRESSIONS } from '../corpus/suppressions.js';

/** Live "new divergence" lines before the rest are left to the progress line and the report. */
const LIVE_DIVERGENCE_LINES = 10;

function positiveInt(name: string, text: string | undefined, fallback: number, max = 1e9): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${name} '${text}' must be a whole number from 1 to ${max}`);
  return n;
}

/** The command that replays a saved case of a campaign with this system under test (`{file}`: the case). */
export function replayTemplateFor(dut: string | undefined, inject: readonly string[], cpu: string | undefined): string {
  const args = [dut && dut !== 'emulator' ? `--dut ${dut}` : '', ...inject.map((i) => `--inject ${i}`), cpu ? `--cpu ${cpu}` : ''].filter(Boolean).join(' ');
  return `node bin/difftest.mjs replay {file}${args ? ` ${args}` : ''}`;
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
  let generationMode: GenerationMode;
  try {
    generationMode = modeOfFamilies(families.length ? parseFamilies(families) : undefined);
  } catch (err) {
    throw new UsageError(`--family: ${(err as Error).message}`);
  }
  const legacyMode = generationMode !== 'long64';
  if (legacyMode && v.raw === true) throw new UsageError(`--raw encodes 64-bit code only; run --family ${generationMode} without --raw (it assembles with keystone in ${generationMode === 'real16' ? 16 : 32}-bit mode)`);
  const lengthText = str('length') ?? '1-10';
  const lm = /^(\d+)-(\d+)$/.exec(lengthText) ?? /^(\d+)$/.exec(lengthText);
  const length: [number, number] = lm ? [Number(lm[1]), Number(lm[2] ?? lm[1])] : [0, 0];
  if (!lm || length[0] < 1 || length[1] < length[0] || length[1] > 200) {
    throw new UsageError(`--length '${lengthText}' must be N or MIN-MAX with 1 <= MIN <= MAX <= 200`);
  }
  const count = str('count') !== undefined ? positiveInt('count', str('count'), 0) : undefined;
  const seconds = str('seconds') !== undefined ? positiveInt('seconds', str('seconds'), 0, 86_400) : undefined;
  const minimizeSeconds = str('minimize-seconds') !== undefined ? positiveInt('minimize-seconds', str('minimize-seconds'), 0, 86_400) : undefined;
  // what the campaign runs for: the options given, else the command's default (ci: a count, start: seconds)
  const runCount = count ?? (seconds === undefined ? s.defaultCount : undefined);
  const runSeconds = seconds ?? (count === undefined ? s.defaultSeconds : undefined);
  const minimize = v['no-minimize'] !== true;
  const shard = str('shard') !== undefined ? parseShard(str('shard')!) : undefined;
  if (shard && s.command !== 'fuzz') {
    throw new UsageError(
      `--shard splits a fuzz campaign: run 'difftest fuzz --shard K/N' in each job and 'difftest merge' on their result.json files (and the regression corpus once, with 'difftest replay corpus/regressions')`,
    );
  }
  let budget: ReturnType<typeof splitBudget>;
  try {
    budget = splitBudget({ seconds: runSeconds, minimizeSeconds, minimize });
  } catch (err) {
    if (err instanceof BudgetError) throw new UsageError(err.message);
    throw err;
  }
  const requestedWorkers = parseWorkersOption(str('workers'));
  // the guest-side batch runner is 64-bit code: a legacy-mode family runs each case alone
  const batch = legacyMode ? 1 : positiveInt('batch', str('batch'), DEFAULT_BATCH, BATCH.maxCases);
  const dut = parseDutSpec(str('dut') ?? 'emulator', list('inject'), { timeoutMs: parseTimeoutOption(str('timeout')) });
  if (legacyMode && dut.kind === 'host') throw new UsageError(`--dut host runs 64-bit user code; --family ${generationMode} needs a DUT with a test machine (emulator, qemu or gdb)`);
  // both sides model the same CPU: refuse a model the emulator lacks before anything runs
  if (dut.kind === 'emulator') emulatorModelFor(str('cpu'));
  // a gdb stub that serves one connection (QEMU's own, say) would leave every other worker waiting forever
  const fit = await workersForDut(dut, requestedWorkers);
  if (fit.singleClient) process.stderr.write(`difftest: the gdb stub at ${str('dut')} serves one connection at a time; running 1 worker\n`);
  const workers = fit.workers;
  const runId = `${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}-seed${s.seed}${shard ? `-shard${shard.index}of${shard.count}` : ''}`;
  const runDir = path.resolve(str('out') ?? path.join('reports', 'runs', runId));
  // a report that cannot be written must not cost a run first (and every finding with it)
  await prepareOutDir(str('out') ?? path.relative(process.cwd(), runDir), str('out') !== undefined ? '--out' : 'the report directory');
  // read before the campaign: a malformed file must not cost a minute of fuzzing first
  const supFile = str('suppressions') ?? (existsSync(DEFAULT_SUPPRESSIONS) ? DEFAULT_SUPPRESSIONS : undefined);
  const suppressions = supFile ? await readSuppressions(supFile) : undefined;
  const spec: CampaignSpec = {
    seed: String(s.seed),
    ...(runCount !== undefined ? { count: runCount } : {}),
    ...(runSeconds !== undefined ? { seconds: runSeconds } : {}),
    minimize,
    minimizeSeconds: budget.minimizeSeconds,
    mode,
    families,
    length,
    raw: v.raw === true,
    dut: str('dut') ?? 'emulator',
    inject: list('inject'),
    ...(str('cpu') !== undefined ? { cpu: str('cpu') } : {}),
    tool: toolVersion(),
  };
  // a shard only tests: the merge of all shards minimizes and analyses, as one run would after testing
  const plan = shard
    ? `${describeShard(shard)}: ${runCount !== undefined ? `${shardCaseCount(runCount, shard)} of ${runCount} cases` : `${budget.testingSeconds} s testing`}, minimization at the merge`
    : describeBudget(budget, runCount);
  process.stdout.write(
    `difftest: ${s.command} seed ${s.seed} (replay with --seed ${s.seed}); ${plan}, ${workers} worker(s), ${mode} mode, DUT ${str('dut') ?? 'emulator'}${list('inject').length ? ` with ${list('inject').join(',')}` : ''}\n`,
  );
  const seen = new Set<string>();
  let announced = 0;
  const abort = new AbortController();
  const stopListening = onTermination((signal) => {
    process.stderr.write(`\ndifftest: ${signal}: finishing the cases in flight and writing a partial report (${signal === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again quits at once)\n`);
    abort.abort();
  });
  let result: CampaignResult;
  try {
    result = await runCampaign({
      runId,
      command: ['difftest', s.command, ...s.argv].join(' '),
      seed: s.seed,
      count: runCount,
      seconds: shard ? budget.testingSeconds : runSeconds,
      minimizeSeconds: budget.minimizeSeconds,
      workers,
      dut,
      cpuModel: str('cpu'),
      mode,
      batch,
      families: families.length ? families : undefined,
      length,
      raw: v.raw === true,
      runDir,
      minimize: minimize && !shard,
      ...(shard ? { shard } : {}),
      replayTemplate: replayTemplateFor(str('dut'), list('inject'), str('cpu')),
      progress: true,
      signal: abort.signal,
      rowNames: describeRow,
      // known divergences are reported as found (grouped by their entry); minimizing them again only costs time
      suppressions,
      // the coverage denominator: the rows the campaign's families can generate (any encoder; protected32 and real16 are keystone only)
      // (rows that need a CPU feature count when --cpu has it)
      totalRows: Math.max(...(['raw', 'keystone'] as const).map((e) => generatableRows(families.length ? parseFamilies(families) : undefined, e, cpuFeatures(str('cpu'))).length)),
      generatableRows: generatableRows(families.length ? parseFamilies(families) : undefined, v.raw === true ? 'raw' : 'keystone', cpuFeatures(str('cpu'))).map((r) => r.id),
      onDivergence: (r) => {
        // one line per new signature, for the first few; the progress line counts the rest and
        // the report lists them. Known (suppressed) ones are not announced: the summary counts
        // them and the report lists them with their reasons.
        if (!r.signature || seen.has(r.signature)) return;
        seen.add(r.signature);
        if (suppressions && suppressionFor(suppressions, r.signature) !== undefined) {
          log.debug({ case: r.index, signature: r.signature }, 'known divergence (suppressed)');
          return;
        }
        if (++announced > LIVE_DIVERGENCE_LINES) return;
        const lead = process.stderr.isTTY ? '\n' : '';
        const more = announced === LIVE_DIVERGENCE_LINES ? ' (further new ones are counted in the progress line and listed in the report)' : '';
        process.stderr.write(`${lead}difftest: new divergence in case ${r.index}: ${r.signature} (saved under ${path.relative(process.cwd(), runDir)}/cases)${more}\n`);
      },
    });
  } finally {
    stopListening();
  }
  result = { ...result, campaign: spec };
  // a shard's divergences are grouped by the merge, which analyses them over the whole campaign
  if (shard) result = { ...result, shard, groups: [], divergences: result.divergences.map(({ group: _g, grouping: _h, ...d }) => d) };
  if (s.postprocess) result = await s.postprocess(result);
  // the campaign marked its own; this marks what a postprocess added (ci's regression corpus)
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
  process.stdout.write(campaignSummary(result, dir));
  if (shard) {
    process.stdout.write(`difftest: ${describeShard(shard)}; when every shard is done: node bin/difftest.mjs merge <the ${shard.count} result.json files>\n`);
  }
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
    if (result.divergences.some((d) => !d.suppressed) || (result.unlocated?.count ?? 0) > 0) return 1;
    return result.testsRun === 0 ? 2 : 0;
  },
};
