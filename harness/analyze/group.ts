/**
 * Root-cause groups over a campaign's signatures (pure: nothing runs here). A signature joins:
 *   - the suppression entry that matches it, when it is a known divergence (one QEMU bug is one
 *     suppressed group however many forms it shows up in);
 *   - else the group of the hypothesis inferred on its own case (`analyzed`), or of a hypothesis
 *     whose necessary features its divergent instruction has (`hypothesis`), the most specific
 *     one first; hypotheses with the same key are one group (see groupKey for a mnemonic that
 *     could not be tested);
 *   - else a group of its own (`unanalyzed`: no hypothesis covered it before the budget ran out).
 */
import { suppressionFor, type Suppressions } from '../../corpus/suppressions.js';
import type { DivergenceReport, RootCauseGroup } from '../campaign-result.js';
import { describeHypothesis, fieldChanges, hypothesisKey, listOf, matchesHypothesis, type Hypothesis } from './hypothesis.js';

type Grouping = NonNullable<DivergenceReport['grouping']>;

/**
 * The hypothesis a report belongs to: its own signature's; else, among those it matches, one
 * whose features it has and with which it shares a differing field (the most features first);
 * else one keyed on exactly its fields; else one whose features it has whatever differs. So a
 * generic hypothesis ("memory operand", found where a fault pushed RFLAGS) does not take an ADD
 * whose AF is wrong away from the hypothesis keyed on that AF.
 */
export function hypothesisFor(report: DivergenceReport, hypotheses: readonly Hypothesis[]): Hypothesis | undefined {
  const own = hypotheses.find((h) => h.signature === report.signature);
  if (own) return own;
  const fields = new Set(fieldChanges(report).map(fieldClass));
  const rank = (h: Hypothesis): number => {
    if (h.necessary.length === 0) return 1;
    return h.fields.some((f) => fields.has(fieldClass(f))) ? 2 + h.necessary.length : 0;
  };
  let best: Hypothesis | undefined;
  for (const h of hypotheses) {
    if ((!best || rank(h) > rank(best)) && matchesHypothesis(h, report)) best = h;
  }
  return best;
}

/** A differing field without its direction: `rflags.AF 1→0` → `rflags.AF`. */
const fieldClass = (field: string): string => field.replace(/ \d→\d$/, '');

/**
 * The group a hypothesis belongs to: its key — unless its mnemonic is in the key only because no
 * sibling row could test it (IMUL r, r/m, imm8 has none) and another hypothesis has the same key
 * without it: "IMUL + REX.B" then joins "REX.B", since nothing showed the mnemonic mattered.
 */
export function groupKey(h: Hypothesis, hypotheses: readonly Hypothesis[]): string {
  if (h.mnemonicTest !== 'no-sibling') return h.key;
  const rest = h.necessary.filter((f) => f.kind !== 'mnemonic');
  if (rest.length === 0) return h.key;
  const reduced = hypothesisKey(rest, h.fields);
  return hypotheses.some((x) => x !== h && x.key === reduced) ? reduced : h.key;
}

/** The suppression entry (its signature pattern) and reason that cover a report, if any. */
function suppressionOf(report: DivergenceReport, suppressions: Suppressions | undefined): { pattern: string; reason: string } | undefined {
  for (const entry of suppressions?.suppressions ?? []) {
    const reason = suppressionFor({ format: 'difftest-suppressions/1', suppressions: [entry] }, report.signature);
    if (reason !== undefined) return { pattern: entry.signature, reason };
  }
  return report.suppressed ? { pattern: report.suppressed.reason, reason: report.suppressed.reason } : undefined;
}

/** Unsuppressed reports no hypothesis covers, most cases first: what to analyze next. */
export function uncovered(reports: readonly DivergenceReport[], hypotheses: readonly Hypothesis[], suppressions?: Suppressions): DivergenceReport[] {
  return reports
    .filter((r) => !suppressionOf(r, suppressions) && !hypotheses.some((h) => matchesHypothesis(h, r)))
    .sort((a, b) => b.count - a.count);
}

interface Draft {
  readonly key: string;
  readonly members: DivergenceReport[];
  readonly hypothesis?: Hypothesis;
  readonly suppressed?: { pattern: string; reason: string };
}

/** First word of a signature's form: its mnemonic (`ADD r/m64, r64 reg :: gpr` → `ADD`). */
const mnemonicOf = (signature: string): string => signature.split(/[\s:]/)[0] ?? signature;

function draftGroups(reports: readonly DivergenceReport[], hypotheses: readonly Hypothesis[], suppressions?: Suppressions): Draft[] {
  const drafts = new Map<string, Draft>();
  const add = (key: string, member: DivergenceReport, extra: Omit<Draft, 'key' | 'members'>) => {
    let d = drafts.get(key);
    if (!d) drafts.set(key, (d = { key, members: [], ...extra }));
    d.members.push(member);
  };
  for (const report of reports) {
    const known = suppressionOf(report, suppressions);
    if (known) {
      add(`suppressed: ${known.pattern}`, report, { suppressed: known });
      continue;
    }
    const h = hypothesisFor(report, hypotheses);
    if (h) {
      const key = groupKey(h, hypotheses);
      // the hypothesis whose own key that is speaks for the group (the first, when several)
      add(key, report, { hypothesis: hypotheses.find((x) => x.key === key) ?? h });
    } else add(`unanalyzed: ${report.signature}`, report, {});
  }
  return [...drafts.values()];
}

function toGroup(d: Draft): Omit<RootCauseGroup, 'id'> {
  const members = [...d.members].sort((a, b) => b.count - a.count);
  const signatures = members.map((m) => m.signature);
  const cases = members.reduce((n, m) => n + m.count, 0);
  const mnemonics = [...new Set(signatures.map(mnemonicOf))];
  if (d.suppressed) {
    return {
      key: d.key,
      hypothesis: `known divergence, suppressed by ${d.suppressed.pattern}: ${d.suppressed.reason} (${listOf(mnemonics)})`,
      necessary: [], experiments: [], signatures, cases, suppressed: { reason: d.suppressed.reason },
    };
  }
  const h = d.hypothesis;
  if (!h) {
    const fields = fieldChanges(members[0]!).join(', ');
    return { key: d.key, hypothesis: `not analyzed (the analysis budget ran out first): ${fields} after ${listOf(mnemonics)}`, necessary: [], experiments: [], signatures, cases };
  }
  return {
    key: d.key,
    hypothesis: describeHypothesis(h, mnemonics),
    necessary: h.necessary.map((f) => f.name),
    experiments: [...h.experiments],
    signatures,
    cases,
    analyzed: h.signature,
  };
}

/** Groups over `reports`, G1 the one with the most cases. */
export function groupDivergences(reports: readonly DivergenceReport[], hypotheses: readonly Hypothesis[], suppressions?: Suppressions): RootCauseGroup[] {
  return draftGroups(reports, hypotheses, suppressions)
    .map(toGroup)
    .sort((a, b) => b.cases - a.cases || a.key.localeCompare(b.key))
    .map((g, i) => ({ id: `G${i + 1}`, ...g }));
}

/**
 * The reports with `group` and `grouping` filled in from `groups` (groupDivergences' result).
 * A suppressed report gets its group and no `grouping` (it was never meant to be analyzed).
 */
export function annotateReports(reports: readonly DivergenceReport[], groups: readonly RootCauseGroup[], hypotheses: readonly Hypothesis[]): DivergenceReport[] {
  const groupOf = new Map<string, RootCauseGroup>();
  for (const g of groups) for (const s of g.signatures) groupOf.set(s, g);
  return reports.map((r) => {
    const g = groupOf.get(r.signature);
    if (!g) return r;
    const grouping: Grouping | undefined = g.suppressed
      ? undefined
      : hypotheses.some((h) => h.signature === r.signature)
        ? 'analyzed'
        : g.analyzed !== undefined
          ? 'hypothesis'
          : 'unanalyzed';
    return { ...r, group: g.id, grouping };
  });
}
