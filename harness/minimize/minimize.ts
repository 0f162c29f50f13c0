/**
 * Minimize a failing case: the smallest code and initial state that still shows the same
 * divergence. Target-independent: everything about "still fails" (running the targets, checking
 * that the divergence keeps its signature so the search cannot wander to a different bug) is the
 * caller's predicate; this module only proposes candidates and keeps the ones that fail.
 *
 * Order: cut after the divergent instruction → ddmin over instructions → drop initial registers
 * (ddmin) → x86-aware rewrites to a greedy fixpoint → register and RFLAGS bits → memory. A round
 * that changed anything is followed by another one (a rewrite can make an instruction
 * droppable, dropping one can free a register), until a round changes nothing or the budget ends.
 */
import type { Case } from '../../corpus/case-schema.js';
import { BudgetedPredicate, type StillFails } from './budgeted-predicate.js';
import { ddmin } from './ddmin.js';
import { instructionIndexAt, caseInstructions, truncateAfter, withInstructions } from './instructions.js';
import { reduceMemory, reduceRegisterSet, reduceRegisterValues, type AppliedStep } from './state-reduction.js';
import { instructionCandidates, stateCandidates, type Candidate } from './x86-steps.js';

export type { StillFails } from './budgeted-predicate.js';

export interface MinimizeProgress {
  /** The step just applied. */
  readonly step: string;
  /** Predicate calls so far. */
  readonly calls: number;
  readonly instructions: number;
  readonly codeBytes: number;
}

export interface MinimizeOptions {
  /** Most predicate calls to spend (default 1000); the best case so far is returned when it runs out. */
  readonly budget?: number;
  /** Date.now() at which to stop and return the best case so far (default: none). */
  readonly deadline?: number;
  /** Address of the first divergent instruction, when known: the case is cut right after it first. */
  readonly divergenceRip?: bigint;
  /** Called after every applied step. */
  readonly onProgress?: (progress: MinimizeProgress) => void;
}

export interface MinimizeResult {
  readonly case: Case;
  /** Every applied step, in order. */
  readonly steps: string[];
  /** Predicate calls made (cached repeats not counted). */
  readonly calls: number;
  readonly seconds: number;
  /** The budget ran out: the case is smaller, but maybe not minimal. */
  readonly budgetExhausted: boolean;
}

export class NotFailingError extends Error {
  override readonly name = 'NotFailingError';
}

const DEFAULT_BUDGET = 1000;
/** Rounds are repeated while they change something; each round shrinks the case, so this is only a guard. */
const MAX_ROUNDS = 10;

export async function minimizeCase(original: Case, stillFails: StillFails, options: MinimizeOptions = {}): Promise<MinimizeResult> {
  const started = performance.now();
  const predicate = new BudgetedPredicate(stillFails, options.budget ?? DEFAULT_BUDGET, options.deadline);
  if (!(await predicate.test(original))) {
    throw new NotFailingError(`case ${original.id} does not fail the predicate to begin with; nothing to minimize (a flaky divergence?)`);
  }
  let current = original;
  const steps: string[] = [];
  const apply = (next: Case, step: string): void => {
    current = next;
    steps.push(step);
    options.onProgress?.({ step, calls: predicate.calls, instructions: caseInstructions(next).length, codeBytes: next.code.length });
  };
  const applyAll = (applied: AppliedStep[]): boolean => {
    for (const a of applied) apply(a.case, a.step);
    return applied.length > 0;
  };

  await truncate(current, predicate, options.divergenceRip, apply);
  for (let round = 0; round < MAX_ROUNDS && !predicate.exhausted; round++) {
    let changed = await dropInstructions(current, predicate, apply);
    changed = applyAll(await reduceRegisterSet(current, predicate)) || changed;
    changed = (await greedyFixpoint(() => current, predicate, apply)) || changed;
    changed = applyAll(await reduceRegisterValues(current, predicate)) || changed;
    changed = applyAll(await reduceMemory(current, predicate)) || changed;
    if (!changed) break;
  }
  return { case: current, steps, calls: predicate.calls, seconds: (performance.now() - started) / 1000, budgetExhausted: predicate.exhausted };
}

type Apply = (next: Case, step: string) => void;

/** Cut the code right after the divergent instruction; without its address, binary-search the shortest failing prefix. */
async function truncate(c: Case, predicate: BudgetedPredicate, divergenceRip: bigint | undefined, apply: Apply): Promise<void> {
  const instructions = caseInstructions(c);
  if (divergenceRip !== undefined) {
    // Already ending at the divergent instruction: nothing to cut, nothing to search.
    if (instructionIndexAt(instructions, divergenceRip) === instructions.length - 1) return;
    const cut = truncateAfter(c, divergenceRip);
    if (cut && (await predicate.test(cut))) {
      apply(cut, `truncate after the divergent instruction: ${instructions.length} → ${caseInstructions(cut).length} instructions`);
      return;
    }
  }
  // Not every predicate is monotone in the prefix length, but every accepted prefix is checked.
  // (A prefix keeps the case's reset prologue, `keep`, whole.)
  let lo = Math.min(instructions.length, (c.keep ?? 0) + 1);
  let hi = instructions.length;
  let best: Case | undefined;
  while (lo < hi && !predicate.exhausted) {
    const mid = Math.floor((lo + hi) / 2);
    const prefix = withInstructions(c, instructions.slice(0, mid));
    if (prefix && (await predicate.test(prefix))) {
      hi = mid;
      best = prefix;
    } else lo = mid + 1;
  }
  if (best) apply(best, `truncate to the shortest failing prefix: ${instructions.length} → ${hi} instructions`);
}

/**
 * ddmin over the instructions; relative fields are re-aimed for every subset. What resets state a
 * gdb stub cannot stays: the case's `keep` prologue (the system family's MSRs, debug registers,
 * XCR0), and a leading FNINIT (the x87 family's: the x87 tags); without it a case would depend on
 * what QEMU ran before.
 */
async function dropInstructions(c: Case, predicate: BudgetedPredicate, apply: Apply): Promise<boolean> {
  const all = caseInstructions(c);
  const kept = c.keep ? all.slice(0, c.keep) : all[0] && all[0].mnemonic === 'fninit' ? [all[0]] : [];
  const instructions = all.slice(kept.length);
  if (instructions.length < 2) return false;
  const r = await ddmin(
    instructions,
    async (subset) => {
      const candidate = withInstructions(c, [...kept, ...subset]);
      return candidate !== undefined && (await predicate.test(candidate));
    },
    { budget: predicate.remaining },
  );
  if (r.items.length === instructions.length) return false;
  const reduced = withInstructions(c, [...kept, ...r.items]);
  if (!reduced) return false;
  apply(reduced, `ddmin over instructions: ${instructions.length} → ${r.items.length} (${r.calls} tests)`);
  return true;
}

/** Lazily, so that the first accepted candidate spares building the rest. */
function* allCandidates(c: Case): Generator<Candidate> {
  yield* instructionCandidates(c);
  yield* stateCandidates(c);
}

/** Apply the first x86 step that still fails, regenerate the steps, repeat until none applies. */
async function greedyFixpoint(current: () => Case, predicate: BudgetedPredicate, apply: Apply): Promise<boolean> {
  let changed = false;
  for (;;) {
    const c = current();
    let accepted: Candidate | undefined;
    for (const candidate of allCandidates(c)) {
      if (predicate.exhausted) return changed;
      if (await predicate.test(candidate.case)) {
        accepted = candidate;
        break;
      }
    }
    if (!accepted) return changed;
    apply(accepted.case, accepted.step);
    changed = true;
  }
}
