import type { Case } from '../corpus/case-schema.js';
import type { LockstepResult } from './lockstep.js';
import { divergenceSignature } from './signature.js';

/**
 * A saved case's result against what the case expects:
 *   ok        matched, as expected
 *   known     diverged as declared (same signature, when the case names one)
 *   fixed     declared to diverge but now matches (update the case)
 *   diverged  an unexpected divergence, or a known one with a different signature
 */
export type Verdict = 'ok' | 'known' | 'fixed' | 'diverged';

export function judgeCase(c: Case, r: LockstepResult): { verdict: Verdict; signature?: string } {
  const expectDivergence = c.expected?.outcome === 'divergence';
  if (r.outcome === 'match') return { verdict: expectDivergence ? 'fixed' : 'ok' };
  const signature = divergenceSignature(r.divergence!);
  const known = expectDivergence && (!c.expected?.signature || c.expected.signature === signature);
  return { verdict: known ? 'known' : 'diverged', signature };
}
