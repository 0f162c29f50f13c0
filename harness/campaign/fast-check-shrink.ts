import fc from 'fast-check';
import type { Case } from '../../corpus/case-schema.js';
import { programArbitrary } from '../generate/program.js';
import { codeBitsOf, modeOfFamilies, parseFamilies } from '../generate/row-catalog.js';
import { initAssembler } from '../asm/assembler.js';
import { assembleProgram, encodeRawProgram } from '../generate/to-case.js';
import { BudgetedPredicate, type StillFails } from '../minimize/budgeted-predicate.js';
import { caseSeed, type WorkerConfig } from './protocol.js';

export interface FastCheckShrink {
  /** The smallest program fast-check's shrinker reached that still fails (the original if none smaller). */
  readonly case: Case;
  /** Predicate runs spent (each a lockstep run of both targets). */
  readonly runs: number;
}

/**
 * The first minimization stage: replay case `index` as fast-check generated it (same seed, the
 * shrinkable arbitrary that `fastProgramArbitrary` mirrors) and let fast-check's own shrinker
 * work on the generated *value* — fewer instructions, simpler operands, registers and memory
 * toward the arbitraries' small values — before ddmin and the x86 steps work on bytes.
 * Undefined when the replayed first value does not fail (it is then not the campaign's case).
 */
export async function shrinkWithFastCheck(
  config: Pick<WorkerConfig, 'seed' | 'families' | 'length' | 'raw'>,
  index: number,
  stillFails: StillFails,
  budget = 80,
  deadline = Infinity,
): Promise<FastCheckShrink | undefined> {
  const encoder = config.raw ? 'raw' : 'keystone';
  const families = config.families?.length ? parseFamilies(config.families) : undefined;
  // the system family's cases come from templates, not from a fast-check program: ddmin and the x86 steps shrink them
  if (families?.includes('system')) return undefined;
  const arbitrary = programArbitrary({ families, length: [config.length[0], config.length[1]], encoder });
  // 32- and 16-bit programs are assembled by keystone in their mode
  const mode = modeOfFamilies(families);
  const ks = mode !== 'long64' ? await initAssembler(codeBitsOf(mode)) : undefined;
  const id = `${config.seed}-${index}`;
  // past the budget every candidate "passes", so the shrinker stops descending at once
  const predicate = new BudgetedPredicate(stillFails, budget, deadline);
  let smallest: Case | undefined;
  let first = true;
  await fc.check(
    fc.asyncProperty(arbitrary, async (program) => {
      const out = encoder === 'raw' ? encodeRawProgram(program, id) : assembleProgram(program, id, ks);
      const wasFirst = first;
      first = false;
      if (!out.ok) return true;
      const fails = await predicate.test(out.case);
      // fast-check only descends into failing candidates, so the last failure is the smallest
      if (fails) smallest = out.case;
      else if (wasFirst) smallest = undefined;
      return !fails;
    }),
    {
      seed: caseSeed(config.seed, index),
      numRuns: 1,
      // the shrinker would otherwise go on proposing (and assembling) candidates the predicate rejects
      ...(deadline !== Infinity ? { interruptAfterTimeLimit: Math.max(1, deadline - Date.now()) } : {}),
    },
  );
  return smallest ? { case: smallest, runs: predicate.calls } : undefined;
}
