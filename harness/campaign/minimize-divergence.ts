import { caseCodeBits, type Case } from '../../corpus/case-schema.js';
import { LAYOUT } from '../../contracts/test-machine.js';
import { decodeAll } from '../asm/decode.js';
import type { Divergence, LockstepRunner } from '../lockstep.js';
import { minimizeCase } from '../minimize/minimize.js';
import { divergenceSignature } from '../signature.js';
import { isolateDivergence, type Isolation } from '../analyze/isolate.js';
import { shrinkWithFastCheck } from './fast-check-shrink.js';
import type { WorkerConfig } from './protocol.js';

export interface MinimizedDivergence {
  readonly case: Case;
  readonly divergence: Divergence;
  readonly fromInstructions: number;
  readonly toInstructions: number;
  readonly seconds: number;
  readonly steps: readonly string[];
}

export const instructionCount = (c: Case): number => decodeAll(c.code, LAYOUT.code, caseCodeBits(c)).length;

export interface MinimizeDivergenceOptions {
  /** Most predicate runs (default 600). */
  readonly budget?: number;
  /** Date.now() by which to return the smallest case reached so far. */
  readonly deadline?: number;
  /**
   * The divergent instruction isolated already (harness/analyze/isolate.ts), or null when it was
   * tried and does not diverge alone; undefined: try it here (one run).
   */
  readonly isolation?: Isolation | null;
}

/** The divergent instruction alone when it diverges the same way by itself (one run; ddmin would take dozens). */
async function isolatedStart(runner: LockstepRunner, c: Case, d: Divergence, options: MinimizeDivergenceOptions): Promise<Isolation | undefined> {
  const isolation = options.isolation === undefined ? (await isolateDivergence(runner, c, d, { deadline: options.deadline })).isolation : options.isolation;
  return isolation?.sameSignature ? isolation : undefined;
}

/**
 * Shrink a diverging case while it keeps the same signature (so the minimizer cannot wander
 * off to a different bug), starting from its divergent instruction alone when that suffices,
 * then run the result once more in step mode for the full record.
 */
export async function minimizeDivergence(
  runner: LockstepRunner,
  c: Case,
  d: Divergence,
  signature: string,
  options: MinimizeDivergenceOptions = {},
): Promise<MinimizedDivergence | undefined> {
  const t0 = performance.now();
  const stillFails = async (candidate: Case) => {
    const r = await runner.run(candidate, { mode: 'block' });
    return r.outcome === 'divergence' && divergenceSignature(r.divergence!) === signature;
  };
  const isolated = await isolatedStart(runner, c, d, options);
  const start = isolated ?? { case: c, divergence: d };
  const min = await minimizeCase(start.case, stillFails, { budget: options.budget ?? 600, divergenceRip: start.divergence.rip, deadline: options.deadline });
  const final = await runner.run(min.case, { mode: 'step' });
  if (final.outcome !== 'divergence') return undefined; // flaky: keep the original
  return {
    case: { ...min.case, id: `${c.id}-min` },
    divergence: final.divergence!,
    fromInstructions: instructionCount(c),
    toInstructions: instructionCount(min.case),
    seconds: (performance.now() - t0) / 1000,
    steps: isolated ? ['the divergent instruction alone, from the reference state before it', ...min.steps] : min.steps,
  };
}

/**
 * A divergence in generated case `index`: its divergent instruction alone when that diverges the
 * same way (else fast-check's shrinker on the generated value, shrinkWithFastCheck), then
 * minimizeDivergence on the bytes. Sizes and time count from the case as generated.
 */
export async function minimizeGeneratedDivergence(
  runner: LockstepRunner,
  generation: { config: Pick<WorkerConfig, 'seed' | 'families' | 'length' | 'raw'>; index: number },
  c: Case,
  d: Divergence,
  signature: string,
  options: Omit<MinimizeDivergenceOptions, 'budget'> = {},
): Promise<MinimizedDivergence | undefined> {
  const t0 = performance.now();
  const isolated = await isolatedStart(runner, c, d, options);
  let start = { case: c, divergence: d };
  let shrunk: Awaited<ReturnType<typeof shrinkWithFastCheck>>;
  if (!isolated) {
    const keepsSignature = async (candidate: Case) => {
      const x = await runner.run(candidate, { mode: 'block' });
      return x.outcome === 'divergence' && divergenceSignature(x.divergence!) === signature;
    };
    shrunk = await shrinkWithFastCheck(generation.config, generation.index, keepsSignature, 80, options.deadline);
    if (shrunk && shrunk.case !== c) {
      const again = await runner.run(shrunk.case, { mode: 'block' });
      if (again.outcome === 'divergence' && divergenceSignature(again.divergence!) === signature) start = { case: shrunk.case, divergence: again.divergence! };
    }
  }
  const min = await minimizeDivergence(runner, start.case, start.divergence, signature, {
    deadline: options.deadline,
    isolation: isolated ?? (start.case === c ? null : undefined),
  });
  if (!min) return undefined;
  const steps = shrunk ? [`fast-check shrink: ${shrunk.runs} run(s)`, ...min.steps] : min.steps;
  return { ...min, case: { ...min.case, id: `${c.id}-min` }, fromInstructions: instructionCount(c), seconds: (performance.now() - t0) / 1000, steps };
}
