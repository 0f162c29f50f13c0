/**
 * How a campaign's time budget splits. `--seconds N` bounds the whole run: testing gets N minus
 * the minimization budget, minimization (shrinking and analysing the divergences found) gets the
 * rest; start-up before the first worker is ready and writing the report come on top (seconds
 * each). With `--count` alone, testing runs until the count is done and minimization has its own
 * budget (DEFAULT_COUNTED_MINIMIZE_SECONDS unless --minimize-seconds says otherwise).
 */
export interface CampaignBudget {
  /** Seconds of testing (undefined: run until the count is done). */
  readonly testingSeconds?: number;
  /** Seconds of minimization after testing (0: none). */
  readonly minimizeSeconds: number;
}

/** A quarter of --seconds goes to minimization by default, at least 3 s (or half of a shorter run), at most 5 min. */
export const MINIMIZE_SHARE = 0.25;
export const MIN_MINIMIZE_SECONDS = 3;
export const MAX_DEFAULT_MINIMIZE_SECONDS = 300;
export const DEFAULT_COUNTED_MINIMIZE_SECONDS = 120;

export class BudgetError extends Error {
  override readonly name = 'BudgetError';
}

export function splitBudget(options: { seconds?: number; minimizeSeconds?: number; minimize: boolean }): CampaignBudget {
  const { seconds, minimizeSeconds, minimize } = options;
  if (!minimize) return { testingSeconds: seconds, minimizeSeconds: 0 };
  if (seconds === undefined) return { minimizeSeconds: minimizeSeconds ?? DEFAULT_COUNTED_MINIMIZE_SECONDS };
  if (minimizeSeconds !== undefined) {
    if (minimizeSeconds >= seconds) {
      throw new BudgetError(`--minimize-seconds ${minimizeSeconds} leaves no testing time in --seconds ${seconds}; make it smaller than --seconds (it is part of that budget)`);
    }
    return { testingSeconds: seconds - minimizeSeconds, minimizeSeconds };
  }
  const m = Math.min(MAX_DEFAULT_MINIMIZE_SECONDS, Math.max(Math.min(MIN_MINIMIZE_SECONDS, seconds / 2), seconds * MINIMIZE_SHARE));
  return { testingSeconds: seconds - m, minimizeSeconds: m };
}

/** One line for the run's header: "7 s testing + 3 s minimizing". */
export function describeBudget(b: CampaignBudget, count?: number): string {
  const testing = b.testingSeconds !== undefined ? `${fmt(b.testingSeconds)} s testing` : `${count} cases`;
  return b.minimizeSeconds > 0 ? `${testing} + up to ${fmt(b.minimizeSeconds)} s minimizing` : testing;
}

const fmt = (s: number) => (Number.isInteger(s) ? String(s) : s.toFixed(1));
