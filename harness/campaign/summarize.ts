import type { TargetInfo } from '../../contracts/execution-target.js';
import type { CampaignResult, DivergenceReport } from '../campaign-result.js';
import { FRAGMENT_SYNC_RULES } from '../sync-rules.js';
import type { CaseResult } from './protocol.js';

export interface SummaryOptions {
  readonly runId: string;
  readonly command: string;
  readonly seed: number;
  readonly mode: 'block' | 'step';
  /** Cases per guest-side batch (block mode), when batching. */
  readonly batch?: number;
  readonly workers: number;
  readonly dutKind: string;
  readonly mutants: readonly string[];
  readonly rowNames?: (row: number) => string;
  readonly totalRows?: number;
  /** Rows the generator can produce with the campaign's families and encoder (for the rows not exercised). */
  readonly generatableRows?: readonly number[];
}

export interface SummaryMeta {
  readonly batchCrashes: ReadonlyArray<{ caseId: string; message: string }>;
  readonly startedAt: Date;
  readonly seconds: number;
  readonly startupSeconds?: number;
  readonly testingSeconds?: number;
  readonly minimizeSeconds?: number;
  readonly partial: boolean;
  readonly oracleInfo: TargetInfo;
  readonly dutInfo: TargetInfo;
  /** Where divergent cases that were not located are saved. */
  readonly unlocatedFile?: string;
  /** Of the cases saved unlocated during testing, those located afterwards. */
  readonly locatedAfterTesting?: number;
}

/** The campaign's case results, merged in index order, as a result (divergences by signature, each with its best report). */
export function summarize(options: SummaryOptions, unordered: readonly CaseResult[], minimized: ReadonlyMap<string, DivergenceReport>, meta: SummaryMeta): CampaignResult {
  const results = [...unordered].sort((a, b) => a.index - b.index);
  const bySig = new Map<string, { report?: DivergenceReport; count: number }>();
  const coverage = new Map<number, number>();
  const rejects = new Map<string, { source: string; reason: string; count: number }>();
  const masked = new Map<string, { mnemonic: string; flags: string; count: number }>();
  const oracleCrashes: Array<{ caseId: string; message: string }> = [...meta.batchCrashes];
  let unlocated = 0;
  for (const r of results) {
    for (const row of r.rows) coverage.set(row, (coverage.get(row) ?? 0) + 1);
    for (const x of r.rejects) {
      const k = `${x.source}\u0000${x.reason}`;
      const e = rejects.get(k) ?? { ...x, count: 0 };
      e.count++;
      rejects.set(k, e);
    }
    for (const m of r.masked) {
      const k = `${m.mnemonic}\u0000${m.flags}`;
      const e = masked.get(k) ?? { ...m, count: 0 };
      e.count++;
      masked.set(k, e);
    }
    if (r.status === 'oracle-crash' || r.status === 'dut-crash') {
      oracleCrashes.push({ caseId: r.caseId, message: `${r.status === 'dut-crash' ? 'system under test failed: ' : ''}${r.message ?? ''}` });
    }
    if (r.status === 'unlocated') unlocated++;
    if (r.status === 'divergence' && r.signature) {
      const e = bySig.get(r.signature) ?? { count: 0 };
      e.count++;
      e.report ??= r.divergence;
      bySig.set(r.signature, e);
    }
  }
  const divergences: DivergenceReport[] = [];
  for (const [signature, e] of bySig) {
    const report = minimized.get(signature) ?? e.report;
    if (report) divergences.push({ ...report, signature, count: e.count });
  }
  const name = options.rowNames ?? ((row: number) => `row ${row}`);
  return {
    format: 'difftest-result/1',
    runId: options.runId,
    command: options.command,
    startedAt: meta.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    seed: String(options.seed),
    mode: options.mode,
    ...(options.batch !== undefined && options.batch > 1 ? { batch: { size: options.batch, screened: results.filter((r) => r.screened).length } } : {}),
    workers: options.workers,
    oracle: meta.oracleInfo,
    dut: { name: options.dutKind, implementation: meta.dutInfo.implementation, mutants: [...options.mutants], cpuModel: meta.dutInfo.cpuModel },
    testsRun: results.filter((r) => r.status !== 'rejected').length,
    seconds: meta.seconds,
    startupSeconds: meta.startupSeconds,
    testingSeconds: meta.testingSeconds,
    minimizeSeconds: meta.minimizeSeconds,
    ...(unlocated ? { unlocated: { count: unlocated, file: meta.unlocatedFile } } : {}),
    ...(meta.locatedAfterTesting ? { locatedAfterTesting: meta.locatedAfterTesting } : {}),
    partial: meta.partial,
    divergences,
    groups: [],
    oracleCrashes,
    coverage: [...coverage].sort((a, b) => a[0] - b[0]).map(([row, count]) => ({ row: name(row), count })),
    coverageTotalRows: options.totalRows ?? 0,
    coverageMissing: (options.generatableRows ?? []).filter((row) => !coverage.has(row)).map(name),
    assemblerRejects: [...rejects.values()].sort((a, b) => b.count - a.count),
    maskedFlags: [...masked.values()].sort((a, b) => b.count - a.count),
    syncRules: [...FRAGMENT_SYNC_RULES],
  };
}
