import { encodeCase, type Case } from '../../corpus/case-schema.js';

/** The caller's failure check: true when the candidate still shows the same divergence. */
export type StillFails = (candidate: Case) => Promise<boolean>;

/**
 * The predicate as the minimizer uses it: counted, capped at a budget, and cached (the fixpoint
 * loops revisit candidates, and each real call runs two targets). Past the budget every
 * candidate is rejected, which makes every reduction step stop where it is; so it is past its deadline.
 */
export class BudgetedPredicate {
  private readonly cache = new Map<string, boolean>();
  calls = 0;
  exhausted = false;

  constructor(
    private readonly stillFails: StillFails,
    readonly budget: number,
    /** Date.now() past which every candidate is rejected too (a campaign's minimization budget). */
    readonly deadline = Infinity,
  ) {}

  async test(candidate: Case): Promise<boolean> {
    const key = JSON.stringify(encodeCase(candidate));
    const known = this.cache.get(key);
    if (known !== undefined) return known;
    if (this.calls >= this.budget || Date.now() >= this.deadline) {
      this.exhausted = true;
      return false;
    }
    this.calls++;
    const result = await this.stillFails(candidate);
    this.cache.set(key, result);
    return result;
  }

  /** Calls still allowed. */
  get remaining(): number {
    return Math.max(0, this.budget - this.calls);
  }
}
