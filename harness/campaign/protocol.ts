import type { Case } from '../../corpus/case-schema.js';
import type { TargetInfo } from '../../contracts/execution-target.js';
import type { DivergenceReport } from '../campaign-result.js';
import type { DutSpec } from '../targets.js';
import type { Hypothesis } from '../analyze/hypothesis.js';

/** Messages between the campaign and its worker threads (structured clone carries bigints). */
export interface WorkerConfig {
  readonly workerId: number;
  readonly seed: number;
  readonly dut: DutSpec;
  readonly cpuModel?: string;
  readonly mode: 'block' | 'step';
  /** Block mode: cases per guest-side batch (1: each case alone). */
  readonly batch?: number;
  readonly families?: readonly string[];
  readonly length: readonly [number, number];
  readonly raw: boolean;
  readonly runDir: string;
  readonly minimize: boolean;
  /** The command that replays a saved case, with `{file}` for its path. */
  readonly replayTemplate: string;
}

/**
 * `cases`: run cases first, first+stride, … (count of them; stride 1 unless the campaign is one
 * shard of several: shard.ts) (block mode screens them as one guest-side batch);
 * past `deadline` (Date.now(), the end of testing) divergent cases are saved unlocated and cases
 * not yet run are left out.
 * `minimize`: analyze case i (known to diverge with `signature`: isolate its divergent instruction,
 * flip features to infer the root cause) and shrink it, by `deadline`, and report both.
 * `abort`: handled at once, not queued: the job in progress ends at its next run (Ctrl-C, SIGTERM,
 * the campaign's time budget).
 */
export type ToWorker =
  | { type: 'cases'; first: number; count: number; stride?: number; deadline?: number }
  | { type: 'minimize'; index: number; signature: string; deadline: number }
  /** Cases saved unlocated during testing, to run again in step mode by `deadline` (regenerated from the seed). */
  | { type: 'locate'; indexes: number[]; deadline: number }
  | { type: 'abort' }
  | { type: 'stop' };

/**
 * `unlocated`: the batch records differed (the case diverges) but it was not located in step mode,
 * so its signature is unknown; it is saved (cases/unlocated-*.jsonl) and replayable.
 */
export type CaseStatus = 'match' | 'divergence' | 'unlocated' | 'rejected' | 'oracle-crash' | 'dut-crash';

export interface CaseResult {
  readonly index: number;
  readonly caseId: string;
  readonly status: CaseStatus;
  /** Opcode-table rows the case exercised. */
  readonly rows: readonly number[];
  readonly rejects: ReadonlyArray<{ source: string; reason: string }>;
  readonly masked: ReadonlyArray<{ mnemonic: string; flags: string }>;
  /** Settled by guest-side batch screening (records agreed), without a per-case lockstep run. */
  readonly screened?: boolean;
  readonly signature?: string;
  /** The divergence as found (unminimized); the campaign minimizes one case per signature. */
  readonly divergence?: DivergenceReport;
  readonly message?: string;
}

export type FromWorker =
  | { type: 'ready'; workerId: number; oracle: TargetInfo; dut: TargetInfo; qemuPids: number[] }
  /** The worker's QEMU processes changed (a restart): the campaign kills these if it must end at once. */
  | { type: 'qemu'; workerId: number; qemuPids: number[] }
  | { type: 'results'; workerId: number; results: CaseResult[]; oracleCrashes?: Array<{ caseId: string; message: string }> }
  /** Results of a `locate` job: those it reached, each replacing the case's `unlocated` result. */
  | { type: 'located'; workerId: number; results: CaseResult[] }
  | { type: 'minimized'; workerId: number; index: number; signature: string; report?: DivergenceReport; hypothesis?: Hypothesis; message?: string; seconds: number }
  /** `known`: the message is a complete diagnosis for the user (a setup problem, an unwritable directory), not an internal error. */
  | { type: 'fatal'; workerId: number; message: string; known?: boolean };

/** A source of generated cases, deterministic in (seed, index). */
export interface GeneratedCase {
  readonly case?: Case;
  readonly rows: readonly number[];
  readonly rejects: ReadonlyArray<{ source: string; reason: string }>;
}
export type CaseSource = (index: number) => Promise<GeneratedCase>;

/** A 32-bit avalanche (murmur3's finalizer). */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Per-case seed: a fixed mix of the campaign seed and the case index, independent of workers.
 * The seed is mixed on its own before the index joins it: mixing `seed ^ index` made case 5 of
 * seed 2 the same as case 0 of seed 7, so campaigns with nearby seeds tested mostly the same cases.
 */
export function caseSeed(seed: number, index: number): number {
  return mix32((mix32((seed ^ 0x9e3779b9) >>> 0) ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
}
