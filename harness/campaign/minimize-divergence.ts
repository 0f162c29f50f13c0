import type { Case } from '../../corpus/case-schema.js';
import { LAYOUT } from '../../target/test-machine.js';
import { decodeAll } from '../asm/decode.js';
import type { Divergence, LockstepRunner } from '../lockstep.js';
import { minimizeCase } from '../minimize/minimize.js';
import { divergenceSignature } from '../signature.js';

export interface MinimizedDivergence {
  readonly case: Case;
  readonly divergence: Divergence;
  readonly fromInstructions: number;
  readonly toInstructions: number;
  readonly seconds: number;
  readonly steps: readonly string[];
}

const instructionCount = (c: Case) => decodeAll(c.code, LAYOUT.code).length;

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
): Promise<MinimizedDivergence | undefined> {
  const t0 = performance.now();
  const stillFails = async (candidate: Case) => {
    const r = await runner.run(candidate, { mode: 'block' });
    return r.outcome === 'divergence' && divergenceSignature(r.divergence!) === signature;
  };
  const min = await minimizeCase(c, stillFails, { budget, divergenceRip: d.rip });
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
