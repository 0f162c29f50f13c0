/**
 * The shards of one campaign (`fuzz --shard K/N`) as one result, as one run over all their cases
 * would have written it before its minimization phase: the same divergences (first case of each
 * signature, by case index across shards, with the counts summed), counts, coverage, masked
 * flags and assembler rejects. Pure: `difftest merge` (cli/merge.ts) reads the files, copies the
 * case files and runs the analysis on what this returns.
 */
import type { CampaignResult, CampaignSpec, DivergenceReport } from '../campaign-result.js';
import { specDifference } from './campaign-spec.js';
import { UsageError } from '../../util/errors.js';

/** Why results cannot be merged, in one line naming the files and the fix (bad input: exit code 2). */
export class MergeError extends UsageError {}

export interface ShardInput {
  /** As named on the command line, for messages. */
  readonly file: string;
  readonly result: CampaignResult;
}

/** The case index in a campaign case id (`<seed>-<index>`). */
export function caseIndexOf(caseId: string): number {
  const m = /-(\d+)$/.exec(caseId);
  return m ? Number(m[1]) : Number.MAX_SAFE_INTEGER;
}

/**
 * The inputs are every shard of one campaign, each once: same options, same difftest and QEMU,
 * same system under test. Returns the campaign's spec and its number of shards.
 */
export function checkShards(inputs: readonly ShardInput[]): { spec: CampaignSpec; count: number } {
  if (inputs.length === 0) throw new MergeError('merge needs the result.json of every shard of a campaign (run with fuzz --shard K/N)');
  for (const { file, result } of inputs) {
    if (!result.shard || !result.campaign) {
      throw new MergeError(`${file} is not a shard's result (its run had no --shard K/N); merge the result.json files of 'difftest fuzz --shard K/N' runs`);
    }
  }
  const [first, ...rest] = inputs as ReadonlyArray<ShardInput & { result: Required<Pick<CampaignResult, 'shard' | 'campaign'>> }>;
  for (const other of rest) {
    const why = specDifference(first!.result.campaign, other.result.campaign);
    if (why) throw new MergeError(`${first!.file} and ${other.file} are not shards of one campaign (${why}); merge only results of the same command with different --shard`);
    if (other.result.shard.count !== first!.result.shard.count) {
      throw new MergeError(`${first!.file} is a shard of ${first!.result.shard.count} and ${other.file} of ${other.result.shard.count}; merge only results of the same --shard K/N split`);
    }
    for (const [what, a, b] of [
      ['QEMU', first!.result.oracle.implementation, other.result.oracle.implementation],
      ['QEMU CPU model', first!.result.oracle.cpuModel, other.result.oracle.cpuModel],
      ['system under test', first!.result.dut.implementation, other.result.dut.implementation],
    ] as const) {
      if (a !== b) throw new MergeError(`${first!.file} and ${other.file} ran different ${what}s (${a} vs ${b}); run every shard with the same one`);
    }
  }
  const count = first!.result.shard.count;
  const byIndex = new Map<number, string>();
  for (const { file, result } of inputs) {
    const seen = byIndex.get(result.shard!.index);
    if (seen) throw new MergeError(`${seen} and ${file} are both shard ${result.shard!.index}/${count}; give each shard's result once`);
    byIndex.set(result.shard!.index, file);
  }
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((k) => !byIndex.has(k));
  if (missing.length) {
    throw new MergeError(`shard ${missing.map((k) => `${k}/${count}`).join(', ')} missing: merge needs the result.json of all ${count} shards (got ${[...byIndex.keys()].sort((a, b) => a - b).map((k) => `${k}/${count}`).join(', ')})`);
  }
  return { spec: first!.result.campaign, count };
}

/** Sum `count` by key over lists, keeping first-seen order, then most frequent first (as summarize orders them). */
function sumCounts<T extends { count: number }>(lists: ReadonlyArray<readonly T[]>, key: (x: T) => string): T[] {
  const out = new Map<string, T>();
  for (const list of lists) {
    for (const x of list) {
      const k = key(x);
      const e = out.get(k);
      out.set(k, e ? { ...e, count: e.count + x.count } : { ...x });
    }
  }
  return [...out.values()].sort((a, b) => b.count - a.count);
}

/** Per signature: counts summed, the report of the lowest case index kept; in order of that index. */
export function mergeDivergences(lists: ReadonlyArray<readonly DivergenceReport[]>): DivergenceReport[] {
  const bySig = new Map<string, DivergenceReport>();
  for (const list of lists) {
    for (const d of list) {
      const e = bySig.get(d.signature);
      if (!e) bySig.set(d.signature, d);
      else {
        const keep = caseIndexOf(d.caseId) < caseIndexOf(e.caseId) ? d : e;
        bySig.set(d.signature, { ...keep, count: e.count + d.count });
      }
    }
  }
  return [...bySig.values()].sort((a, b) => caseIndexOf(a.caseId) - caseIndexOf(b.caseId));
}

const sum = (xs: ReadonlyArray<number | undefined>): number => xs.reduce<number>((n, x) => n + (x ?? 0), 0);
const max = (xs: ReadonlyArray<number | undefined>): number | undefined => {
  const known = xs.filter((x): x is number => x !== undefined);
  return known.length ? Math.max(...known) : undefined;
};

export interface MergeOptions {
  readonly runId: string;
  readonly command: string;
  /** Row name → position in the opcode table (coverage is listed in table order). */
  readonly rowOrder: (name: string) => number;
}

/**
 * The shards (checked with checkShards first) as one result: divergences unminimized and
 * ungrouped (the merge's analysis fills them in), times as the slowest shard's (they ran side by
 * side), workers summed.
 */
export function mergeShardResults(inputs: readonly ShardInput[], options: MergeOptions): CampaignResult {
  const { spec } = checkShards(inputs);
  const results = [...inputs].sort((a, b) => a.result.shard!.index - b.result.shard!.index).map((i) => i.result);
  const first = results[0]!;
  const coverage = sumCounts(
    results.map((r) => r.coverage),
    (c) => c.row,
  ).sort((a, b) => options.rowOrder(a.row) - options.rowOrder(b.row) || a.row.localeCompare(b.row));
  const covered = new Set(coverage.map((c) => c.row));
  const batches = results.map((r) => r.batch);
  const unlocated = sum(results.map((r) => r.unlocated?.count));
  return {
    format: 'difftest-result/1',
    runId: options.runId,
    command: options.command,
    startedAt: results.map((r) => r.startedAt).sort()[0]!,
    finishedAt: new Date().toISOString(),
    seed: first.seed,
    mode: first.mode,
    ...(batches.every((b) => b !== undefined) ? { batch: { size: first.batch!.size, screened: sum(batches.map((b) => b!.screened)) } } : {}),
    workers: sum(results.map((r) => r.workers)),
    oracle: first.oracle,
    dut: first.dut,
    testsRun: sum(results.map((r) => r.testsRun)),
    seconds: max(results.map((r) => r.seconds)) ?? 0,
    startupSeconds: max(results.map((r) => r.startupSeconds)),
    testingSeconds: max(results.map((r) => r.testingSeconds)),
    ...(unlocated ? { unlocated: { count: unlocated } } : {}),
    partial: results.some((r) => r.partial),
    divergences: mergeDivergences(results.map((r) => r.divergences)),
    groups: [],
    oracleCrashes: results.flatMap((r) => r.oracleCrashes),
    coverage,
    coverageTotalRows: first.coverageTotalRows,
    // rows no shard exercised, in the first shard's (the table's) order
    coverageMissing: first.coverageMissing.filter((row) => !covered.has(row)),
    assemblerRejects: sumCounts(
      results.map((r) => r.assemblerRejects),
      (x) => `${x.source}\u0000${x.reason}`,
    ),
    maskedFlags: sumCounts(
      results.map((r) => r.maskedFlags),
      (x) => `${x.mnemonic}\u0000${x.flags}`,
    ),
    syncRules: first.syncRules,
    campaign: spec,
  };
}
