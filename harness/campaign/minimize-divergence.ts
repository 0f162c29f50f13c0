import type { Case } from '../../corpus/case-schema.js';
import { LAYOUT } from '../../contracts/test-machine.js';
import { decodeAll } from '../asm/decode.js';
import type { Divergence, LockstepRunner } from '../lockstep.js';
import { minimizeCase } from '../minimize/minimize.js';
import { divergenceSignature } from '../signature.js';
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

export const instructionCount = (c: Case): number => decodeAll(c.code, LAYOUT.code).length;

/**
 * Shrink a diverging case while it keeps the same signature (so the minimizer cannot wander
 * off to a different bug), then run the result once more in step mode for the full record.
 */
export async function minimizeDivergence(
  runner: LockstepRunner,
  c: Case,
  d: Divergence,
  signature: string,
  budget = 600,
  deadline = Infinity,
): Promise<MinimizedDivergence | undefined> {
  const t0 = performance.now();
  const stillFails = async (candidate: Case) => {
    const r = await runner.run(candidate, { mode: 'block' });
    return r.outcome === 'divergence' && divergenceSignature(r.divergence!) === signature;
  };
  const min = await minimizeCase(c, stillFails, { budget, divergenceRip: d.rip, deadline });
  const final = await runner.run(min.case, { mode: 'step' });
  if (final.outcome !== 'divergence') return undefined; // flaky: keep the original
  return {
    case: { ...min.case, id: `${c.id}-min` },
    divergence: final.divergence!,
    fromInstructions: instructionCount(c),
    toInstructions: instructionCount(min.case),
    seconds: (performance.now() - t0) / 1000,
    steps: min.steps,
  };
}

/**
 * A divergence in generated case `index`: fast-check's shrinker on the generated value first
 * (shrinkWithFastCheck), then minimizeDivergence on the bytes. Sizes and time count from the
 * case as generated.
 */
export async function minimizeGeneratedDivergence(
  runner: LockstepRunner,
  generation: { config: Pick<WorkerConfig, 'seed' | 'families' | 'length' | 'raw'>; index: number },
  c: Case,
  d: Divergence,
  signature: string,
  /** Date.now() by which to return the smallest case reached so far. */
  deadline = Infinity,
): Promise<MinimizedDivergence | undefined> {
  const t0 = performance.now();
  const keepsSignature = async (candidate: Case) => {
    const x = await runner.run(candidate, { mode: 'block' });
    return x.outcome === 'divergence' && divergenceSignature(x.divergence!) === signature;
  };
  let start = { case: c, divergence: d };
  const shrunk = await shrinkWithFastCheck(generation.config, generation.index, keepsSignature, 80, deadline);
  if (shrunk && shrunk.case !== c) {
    const again = await runner.run(shrunk.case, { mode: 'block' });
    if (again.outcome === 'divergence' && divergenceSignature(again.divergence!) === signature) start = { case: shrunk.case, divergence: again.divergence! };
  }
  const min = await minimizeDivergence(runner, start.case, start.divergence, signature, 600, deadline);
  if (!min) return undefined;
  const steps = shrunk ? [`fast-check shrink: ${shrunk.runs} run(s)`, ...min.steps] : min.steps;
  return { ...min, case: { ...min.case, id: `${c.id}-min` }, fromInstructions: instructionCount(c), seconds: (performance.now() - t0) / 1000, steps };
}
