import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { readSuppressions, suppressionFor } from '../corpus/suppressions.js';
import { annotateReports, groupDivergences } from '../harness/analyze/group.js';
import type { Hypothesis } from '../harness/analyze/hypothesis.js';
import { analyzeDivergences } from '../harness/campaign/campaign.js';
import { describeRow } from '../harness/campaign/case-source.js';
import { checkShards, mergeShardResults, type ShardInput } from '../harness/campaign/merge-results.js';
import type { CampaignResult, DivergenceReport } from '../harness/campaign-result.js';
import { parseDutSpec } from '../harness/targets.js';
import { ALL_ROWS } from '../emulator/isa/table.js';
import { readResult } from '../reports/json.js';
import { absolutizeResult } from '../reports/paths.js';
import { writeReport } from '../reports/write-report.js';
import { UsageError } from '../util/errors.js';
import { prepareOutDir } from '../util/out-dir.js';
import { campaignSummary } from './campaign-console.js';
import { DEFAULT_SUPPRESSIONS, replayTemplateFor } from './fuzz.js';
import { parseOptions } from './options.js';
import { onTermination } from './signals.js';
import { parseTimeoutOption, parseWorkersOption, TARGET_OPTIONS, TIMEOUT_HELP, TIMEOUT_USAGE } from './target-options.js';
import { mergeJsonlFiles } from '../util/jsonl-merge.js';

const USAGE = `difftest merge RESULT.json... [--out DIR] [--minimize-seconds S | --no-minimize] [--workers N]
              [--suppressions FILE] ${TIMEOUT_USAGE}

Merges the results of the N shards of one campaign (fuzz --shard K/N, same options) into the
report one run over all their cases writes: the same divergences, counts, coverage and
root-cause groups. The shards only test; the merge then does what that run does after testing:
it analyses and minimizes the first case of each divergence signature, most frequent first,
regenerating each case from the seed (so it needs QEMU, and the --dut of the shards), within the
campaign's minimization budget. (Divergent cases a timed part saved unlocated stay so, in
cases/unlocated.jsonl: the merge does not locate them.) Results of different seeds, options, difftest versions, QEMU
builds or systems under test, a shard given twice or a missing shard are refused in one line.

  --out DIR            report directory (default reports/runs/<time>-seed<seed>-merged/)
  --minimize-seconds S the analysis budget (default: the campaign's own)
  --no-minimize        merge the results only (no QEMU needed); groups are then unanalyzed
  --workers N          analysis workers, each with its own QEMU (default: cores, at most 8)
  --suppressions FILE  known divergences (default ./${DEFAULT_SUPPRESSIONS})
  ${TIMEOUT_HELP}

Case files are copied into DIR/cases (from each result's folder), so the merged report replays on
its own. Exit code: 0 when nothing diverged, 1 on any divergence, 2 on bad input or setup problems.`;

const OPTIONS = {
  out: { type: 'string' },
  'minimize-seconds': { type: 'string' },
  'no-minimize': { type: 'boolean' },
  workers: { type: 'string' },
  suppressions: { type: 'string' },
  ...TARGET_OPTIONS,
} as const;

const ROW_ORDER = new Map(ALL_ROWS.map((r) => [describeRow(r.id), r.id]));

/** Each shard's case files copied into `dir`/cases, the reports pointing there; files that are not there stay named as they were. */
async function adoptCaseFiles(divergences: readonly DivergenceReport[], dir: string): Promise<{ reports: DivergenceReport[]; missing: number }> {
  const casesDir = path.join(dir, 'cases');
  await mkdir(casesDir, { recursive: true });
  let missing = 0;
  const reports: DivergenceReport[] = [];
  for (const d of divergences) {
    if (!d.caseFile || !path.isAbsolute(d.caseFile) || !existsSync(d.caseFile)) {
      if (d.caseFile) missing++;
      reports.push(d);
      continue;
    }
    const to = path.join(casesDir, path.basename(d.caseFile));
    await copyFile(d.caseFile, to);
    reports.push({ ...d, caseFile: to, replayCommand: d.replayCommand.split(d.caseFile).join(to) });
  }
  return { reports, missing };
}

/** The shards' unlocated divergent cases as one cases/unlocated.jsonl (undefined when there are none). */
async function mergeUnlocated(inputs: readonly ShardInput[], dir: string): Promise<string | undefined> {
  const files = inputs.map((i) => i.result.unlocated?.file).filter((f): f is string => f !== undefined && existsSync(f));
  if (!files.length) return undefined;
  const file = path.join(dir, 'cases', 'unlocated.jsonl');
  await mergeJsonlFiles(files, file);
  return file;
}

export const mergeCommand = {
  summary: "merge the result.json files of a sharded campaign's shards into one report",
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseOptions(argv, OPTIONS, USAGE);
    if (positionals.length === 0) throw new UsageError(`merge needs the result.json of every shard; usage: ${USAGE.split('\n')[0]}`);
    const inputs: ShardInput[] = [];
    for (const file of positionals) {
      // case files are named relative to the folder the result is in
      inputs.push({ file, result: absolutizeResult(await readResult(file), path.dirname(path.resolve(file))) });
    }
    const { spec, count } = checkShards(inputs);
    let minimizeSeconds = spec.minimizeSeconds;
    if (values['minimize-seconds'] !== undefined) {
      minimizeSeconds = Number(values['minimize-seconds']);
      if (!Number.isInteger(minimizeSeconds) || minimizeSeconds < 1 || minimizeSeconds > 86_400) {
        throw new UsageError(`--minimize-seconds '${values['minimize-seconds']}' must be a whole number from 1 to 86400`);
      }
    }
    const minimize = spec.minimize && values['no-minimize'] !== true && minimizeSeconds > 0;
    const workers = parseWorkersOption(values.workers);
    const timeoutMs = parseTimeoutOption(values.timeout);
    const runId = `${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}-seed${spec.seed}-merged`;
    const dir = await prepareOutDir(values.out ?? path.join('reports', 'runs', runId), values.out !== undefined ? '--out' : 'the report directory');
    const supFile = values.suppressions ?? (existsSync(DEFAULT_SUPPRESSIONS) ? DEFAULT_SUPPRESSIONS : undefined);
    const suppressions = supFile ? await readSuppressions(supFile) : undefined;

    let result: CampaignResult = mergeShardResults(inputs, { runId, command: ['difftest', 'merge', ...argv].join(' '), rowOrder: (name) => ROW_ORDER.get(name) ?? Number.MAX_SAFE_INTEGER });
    const adopted = await adoptCaseFiles(result.divergences, dir);
    if (adopted.missing) process.stderr.write(`difftest: ${adopted.missing} case file(s) named by the shard results are not beside them; their reports keep the shard's paths\n`);
    const unlocatedFile = await mergeUnlocated(inputs, dir);
    const marked = adopted.reports.map((d) => {
      const reason = suppressionFor(suppressions, d.signature);
      return reason ? { ...d, suppressed: { reason } } : d;
    });
    process.stdout.write(
      `difftest: merged ${count} shards of seed ${spec.seed} (${spec.count !== undefined ? `--count ${spec.count}` : `--seconds ${spec.seconds}`}): ${result.testsRun.toLocaleString('en-US')} tests, ${marked.length} divergence signature(s)\n`,
    );

    let hypotheses: readonly Hypothesis[] = [];
    let minimized: ReadonlyMap<string, DivergenceReport> = new Map();
    let analysisSeconds: number | undefined;
    let partial = result.partial;
    const candidates = marked.filter((d) => !d.suppressed);
    if (minimize && candidates.length) {
      const abort = new AbortController();
      const stopListening = onTermination(() => abort.abort());
      try {
        const outcome = await analyzeDivergences(
          {
            runId,
            command: result.command,
            seed: Number(spec.seed),
            workers: Math.min(workers, candidates.length),
            dut: parseDutSpec(spec.dut, spec.inject, { timeoutMs }),
            cpuModel: spec.cpu,
            mode: spec.mode,
            families: spec.families.length ? spec.families : undefined,
            length: spec.length,
            raw: spec.raw,
            runDir: dir,
            minimize: true,
            minimizeSeconds,
            replayTemplate: replayTemplateFor(spec.dut, spec.inject, spec.cpu),
            progress: true,
            signal: abort.signal,
            suppressions,
          },
          candidates,
        );
        ({ hypotheses, minimized } = outcome);
        analysisSeconds = outcome.seconds;
        partial ||= outcome.partial;
      } finally {
        stopListening();
      }
    }
    const divergences = marked.map((d) => {
      const m = minimized.get(d.signature);
      return m ? { ...m, signature: d.signature, count: d.count } : d;
    });
    const groups = groupDivergences(divergences, hypotheses, suppressions);
    result = {
      ...result,
      ...(analysisSeconds !== undefined ? { minimizeSeconds: analysisSeconds, seconds: result.seconds + analysisSeconds } : {}),
      ...(unlocatedFile && result.unlocated ? { unlocated: { ...result.unlocated, file: unlocatedFile } } : {}),
      partial,
      divergences: annotateReports(divergences, groups, hypotheses),
      groups,
    };
    const written = await writeReport(result, dir);
    process.stdout.write(campaignSummary(result, written.dir));
    return result.divergences.some((d) => !d.suppressed) || (result.unlocated?.count ?? 0) > 0 ? 1 : 0;
  },
};
