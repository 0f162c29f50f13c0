/**
 * What an explore run produced, as plain JSON (result.json): the parameters that reproduce it,
 * both sides' versions, the coverage of the space walked, and the disagreement groups.
 */
import type { FindingGroup } from './findings.js';
import type { ExploreOutcome, SeedCoverage } from './explorer.js';
import type { TunnelOptions } from './tunnel.js';

export interface ExploreParameters {
  readonly cpu: string;
  readonly maps: readonly string[];
  readonly classes: readonly string[];
  /** `from-to` opcode range, hex, when given. */
  readonly opcodes?: string;
  readonly seconds: number;
  readonly workers: number;
  readonly batch: number;
  readonly tunnel: Required<TunnelOptions>;
}

export interface CoverageTotals {
  readonly seeds: number;
  /** Seeds whose every opcode walk finished. */
  readonly seedsComplete: number;
  /** Opcode walks (one per opcode value per seed): finished, and in the space selected. */
  readonly walksDone: number;
  readonly walksTotal: number;
  /** Byte values after the opcode tried directly, and skipped through by the walk. */
  readonly tailTried: number;
  readonly tailSkipped: number;
}

export interface MapCoverage extends CoverageTotals {
  readonly map: string;
  readonly candidates: number;
}

export interface ExploreResult {
  readonly tool: 'difftest explore';
  /** The command line that reproduces the run (the walk is deterministic). */
  readonly command: string;
  readonly parameters: ExploreParameters;
  readonly qemu: { readonly implementation: string; readonly cpuModel: string };
  readonly emulator: { readonly implementation: string; readonly cpuModel: string };
  readonly startedAt: string;
  /** Wall time of the walk (QEMU start-up and the report excluded), and of the whole run. */
  readonly walkSeconds: number;
  readonly wallSeconds: number;
  readonly candidates: number;
  readonly discarded: number;
  readonly batches: number;
  readonly interrupted: boolean;
  readonly timing: ExploreOutcome['timing'];
  readonly coverage: { readonly totals: CoverageTotals; readonly byMap: MapCoverage[]; readonly seeds: SeedCoverage[] };
  readonly disagreements: number;
  readonly maskedAgreements: number;
  readonly masked: Record<string, number>;
  readonly groups: FindingGroup[];
  /** Candidates QEMU died on (each found by bisecting the batch, then skipped), with what it said. */
  readonly oracleCrashes: ExploreOutcome['oracleCrashes'];
  /** Workers that gave up, and why (their part of the space was left to the others). */
  readonly workerErrors: readonly string[];
}

function totalsOf(seeds: readonly SeedCoverage[]): CoverageTotals {
  return {
    seeds: seeds.length,
    seedsComplete: seeds.filter((s) => s.opcodesDone === s.opcodesInSeed).length,
    walksDone: seeds.reduce((a, s) => a + s.opcodesDone, 0),
    walksTotal: seeds.reduce((a, s) => a + s.opcodesInSeed, 0),
    tailTried: seeds.reduce((a, s) => a + s.counts.tailTried, 0),
    tailSkipped: seeds.reduce((a, s) => a + s.counts.tailSkipped, 0),
  };
}

export function coverageOf(seeds: readonly SeedCoverage[]): ExploreResult['coverage'] {
  const maps = [...new Set(seeds.map((s) => s.map))];
  return {
    totals: totalsOf(seeds),
    byMap: maps.map((map) => {
      const of = seeds.filter((s) => s.map === map);
      return { map, ...totalsOf(of), candidates: of.reduce((a, s) => a + s.counts.candidates, 0) };
    }),
    seeds: [...seeds],
  };
}

/** "87.5%" of walks finished. */
export function coveragePercent(t: CoverageTotals): string {
  return t.walksTotal === 0 ? '0%' : `${((100 * t.walksDone) / t.walksTotal).toFixed(1)}%`;
}
