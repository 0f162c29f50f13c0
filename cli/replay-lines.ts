import type { ExceptionInfo } from '../contracts/test-machine.js';
import type { Verdict } from '../harness/expectation.js';
import type { LockstepResult } from '../harness/lockstep.js';
import { describeException } from '../reports/format.js';
import { describeDivergence } from './text-summary.js';

/** What replay prints for one case, and what its summary counts. */
export type ReplayLine =
  | {
      readonly kind: Verdict;
      readonly source: string;
      readonly result: LockstepResult;
      readonly signature?: string;
      readonly expectedSignature?: string;
      /** A divergence the case did not declare but the suppressions file lists: its reason. */
      readonly suppressed?: string;
    }
  | { readonly kind: 'unreadable'; readonly source: string; readonly message: string }
  | { readonly kind: 'error'; readonly source: string; readonly message: string };

const short = (e: ExceptionInfo | undefined) => (e ? describeException(e) : 'none');

/** How the run ended on the reference, with the exception it ended in (vector, error code, RIP). */
export function describeEnd(r: LockstepResult): string {
  const steps = r.steps >= 0 ? `, ${r.steps} step(s)` : '';
  switch (r.end) {
    case 'completed':
      return `completed${steps}`;
    case 'exception':
      return `exception ${short(r.exception)}${steps}`;
    case 'budget':
      return `instruction budget used up${steps}`;
    case 'triple-fault':
      return `triple fault${steps}`;
    case 'stopped':
      return `stopped${steps}`;
  }
}

/** For a divergence: the exception each target ended in, when either did. */
function divergenceExceptions(r: LockstepResult): string {
  const d = r.divergence;
  if (!d || (!d.expectedException && !d.actualException)) return '';
  return ` [exception: reference ${short(d.expectedException)}; DUT ${short(d.actualException)}]`;
}

/** A suppression's reason cut to its first clause ("QEMU 7.2 TCG bug"), for one line. */
export function shortReason(reason: string): string {
  const first = reason.split(/[:;(]/)[0]!.trim();
  return first.length > 80 ? `${first.slice(0, 79)}…` : first;
}

/** The lines for one case (the first names the verdict; a divergence adds its details below). */
export function formatReplayLine(l: ReplayLine): string {
  switch (l.kind) {
    case 'ok':
      return `ok         ${l.source} (${describeEnd(l.result)})`;
    case 'known':
      return `known      ${l.source}: ${l.signature}${divergenceExceptions(l.result)}${l.suppressed ? ` (suppressed: ${shortReason(l.suppressed)})` : ''}`;
    case 'fixed':
      return `FIXED      ${l.source}: no longer diverges (was: ${l.expectedSignature ?? 'divergence'}; now ${describeEnd(l.result)}); update its expected outcome`;
    case 'diverged':
      return `DIVERGENCE ${l.source}: ${l.signature}${divergenceExceptions(l.result)}\n${describeDivergence(l.result.divergence!, 4)}`;
    case 'unreadable':
      return l.message; // names its file (and line) itself
    case 'error':
      return `ERROR      ${l.source}: ${l.message.replace(/\s*\n\s*/g, ' ')}`;
  }
}

export interface ReplayTally {
  readonly total: number;
  readonly counts: Readonly<Record<ReplayLine['kind'], number>>;
  /** Divergent signatures (unexpected and known), most frequent first. */
  readonly signatures: ReadonlyArray<{ readonly signature: string; readonly count: number; readonly known: boolean }>;
}

export function tally(lines: readonly ReplayLine[]): ReplayTally {
  const counts: Record<ReplayLine['kind'], number> = { ok: 0, known: 0, fixed: 0, diverged: 0, unreadable: 0, error: 0 };
  const bySig = new Map<string, { signature: string; count: number; known: boolean }>();
  for (const l of lines) {
    counts[l.kind]++;
    if ((l.kind === 'diverged' || l.kind === 'known') && l.signature) {
      const key = `${l.kind}\u0000${l.signature}`;
      const e = bySig.get(key) ?? { signature: l.signature, count: 0, known: l.kind === 'known' };
      e.count++;
      bySig.set(key, e);
    }
  }
  const signatures = [...bySig.values()].sort((a, b) => b.count - a.count || Number(a.known) - Number(b.known) || a.signature.localeCompare(b.signature));
  return { total: lines.length, counts, signatures };
}

/** The closing summary: counts by verdict, then one line per divergent signature with its count. */
export function formatSummary(t: ReplayTally, notRun = 0): string {
  const c = t.counts;
  const parts = [
    `${c.ok} ok`,
    `${c.diverged} diverged`,
    c.known ? `${c.known} known divergence(s)` : '',
    c.fixed ? `${c.fixed} fixed (expected to diverge)` : '',
    c.error ? `${c.error} could not run` : '',
    c.unreadable ? `${c.unreadable} unreadable` : '',
    notRun ? `${notRun} not run` : '',
  ].filter(Boolean);
  const lines = [`difftest: ${t.total + notRun} case(s): ${parts.join(', ')}`];
  if (t.signatures.length) {
    lines.push('divergences by signature:');
    for (const s of t.signatures) lines.push(`  ${String(s.count).padStart(5)}× ${s.signature}${s.known ? ' (known)' : ''}`);
  }
  return lines.join('\n');
}

/** 2: a case could not be read or run (the run is incomplete); 1: a case did not behave as expected; 0 otherwise. */
export function replayExitCode(t: ReplayTally): number {
  if (t.counts.unreadable || t.counts.error) return 2;
  return t.counts.diverged || t.counts.fixed ? 1 : 0;
}
