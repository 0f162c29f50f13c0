import { describe, expect, it } from 'vitest';
import { BudgetError, describeBudget, splitBudget } from './budget.js';

describe('splitBudget', () => {
  it('gives minimization a quarter of --seconds, at least 3 s (half of a shorter run), at most 5 min', () => {
    expect(splitBudget({ seconds: 60, minimize: true })).toEqual({ testingSeconds: 45, minimizeSeconds: 15 });
    expect(splitBudget({ seconds: 10, minimize: true })).toEqual({ testingSeconds: 7, minimizeSeconds: 3 });
    expect(splitBudget({ seconds: 4, minimize: true })).toEqual({ testingSeconds: 2, minimizeSeconds: 2 });
    expect(splitBudget({ seconds: 3600, minimize: true })).toEqual({ testingSeconds: 3300, minimizeSeconds: 300 });
  });

  it('takes --minimize-seconds out of --seconds, refusing one that leaves no testing time', () => {
    expect(splitBudget({ seconds: 10, minimizeSeconds: 1, minimize: true })).toEqual({ testingSeconds: 9, minimizeSeconds: 1 });
    expect(() => splitBudget({ seconds: 10, minimizeSeconds: 10, minimize: true })).toThrow(BudgetError);
  });

  it('gives all of --seconds to testing with --no-minimize, and a counted run its own minimization budget', () => {
    expect(splitBudget({ seconds: 10, minimize: false })).toEqual({ testingSeconds: 10, minimizeSeconds: 0 });
    expect(splitBudget({ minimize: true })).toEqual({ minimizeSeconds: 120 });
    expect(splitBudget({ minimizeSeconds: 5, minimize: true })).toEqual({ minimizeSeconds: 5 });
    expect(describeBudget(splitBudget({ seconds: 10, minimize: true }))).toBe('7 s testing + up to 3 s minimizing');
    expect(describeBudget(splitBudget({ minimize: false }), 300)).toBe('300 cases');
  });
});
