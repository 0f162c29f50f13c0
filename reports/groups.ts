/**
 * Divergences by root-cause group, as every report format presents them: the groups that fail
 * the run, largest first, then the suppressed ones. Results without groups (written before
 * grouping existed, the regression corpus, `difftest minimize`) get stand-in sections, so old
 * results still render.
 */
import type { CampaignResult, DivergenceReport, RootCauseGroup } from '../harness/campaign-result.js';

export interface GroupSection {
  /** The group, or a stand-in (`kind: 'ungrouped'`) for divergences that name none. */
  readonly group: RootCauseGroup;
  readonly kind: 'group' | 'ungrouped';
  /** Its divergences in this section (active or suppressed ones), most cases first. */
  readonly divergences: DivergenceReport[];
  /** Generated cases over those divergences. */
  readonly cases: number;
  /** Why the section is accepted: the group's reason, or its divergences' when they agree. */
  readonly suppressedReason?: string;
}

export interface GroupedDivergences {
  /** Sections that fail the run, most cases first. */
  readonly active: GroupSection[];
  readonly suppressed: GroupSection[];
}

export const UNGROUPED_ID = 'ungrouped';

function standIn(divergences: readonly DivergenceReport[]): RootCauseGroup {
  return {
    id: UNGROUPED_ID,
    key: '',
    hypothesis: 'no root-cause group: each signature stands alone',
    necessary: [],
    experiments: [],
    signatures: divergences.map((d) => d.signature),
    cases: divergences.reduce((s, d) => s + d.count, 0),
  };
}

const byCases = (a: DivergenceReport, b: DivergenceReport) => b.count - a.count || a.signature.localeCompare(b.signature);

/** `G2` before `G10`. */
export function compareGroupIds(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

function sections(r: CampaignResult, divergences: readonly DivergenceReport[], suppressed: boolean): GroupSection[] {
  const known = new Map(r.groups.map((g) => [g.id, g]));
  const members = new Map<string, DivergenceReport[]>();
  for (const d of divergences) {
    const id = d.group !== undefined && known.has(d.group) ? d.group : UNGROUPED_ID;
    members.set(id, [...(members.get(id) ?? []), d]);
  }
  const out: GroupSection[] = [];
  for (const [id, list] of members) {
    list.sort(byCases);
    const group = known.get(id) ?? standIn(list);
    const reasons = new Set(list.map((d) => d.suppressed?.reason).filter((x): x is string => x !== undefined));
    out.push({
      group,
      kind: id === UNGROUPED_ID ? 'ungrouped' : 'group',
      divergences: list,
      cases: list.reduce((s, d) => s + d.count, 0),
      suppressedReason: suppressed ? group.suppressed?.reason ?? (reasons.size === 1 ? [...reasons][0] : undefined) : undefined,
    });
  }
  // largest first; the stand-in last, since its signatures share nothing
  return out.sort((a, b) => Number(a.kind === 'ungrouped') - Number(b.kind === 'ungrouped') || b.cases - a.cases || compareGroupIds(a.group.id, b.group.id));
}

/** A divergence's section follows its own suppression: a group can have both kinds. */
export function groupSections(r: CampaignResult): GroupedDivergences {
  return {
    active: sections(r, r.divergences.filter((d) => !d.suppressed), false),
    suppressed: sections(r, r.divergences.filter((d) => d.suppressed), true),
  };
}

/** `1,555 cases, 234 signatures` */
export function sectionCounts(s: GroupSection): string {
  const n = s.divergences.length;
  return `${s.cases.toLocaleString('en-US')} case${s.cases === 1 ? '' : 's'}, ${n.toLocaleString('en-US')} signature${n === 1 ? '' : 's'}`;
}

/** What the grouping column says: how a signature joined its group. */
export const GROUPING_TEXT: Readonly<Record<NonNullable<DivergenceReport['grouping']>, string>> = {
  analyzed: 'its own case was minimized and experimented on',
  hypothesis: "its divergent instruction has the group's necessary features (not re-run)",
  unanalyzed: 'no hypothesis covered it before the minimization budget ran out',
};

const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

/**
 * The run's verdict in words: `FAIL: 38 root-cause groups (990 signatures, 12,345 cases)`, with
 * signatures in no group counted as their own (`; 3 signatures in no group`); `PASS: no divergences`
 * (only when no case diverged unlocated either).
 */
export function verdictText(g: GroupedDivergences, unlocated = 0, testsRun?: number): { pass: boolean; text: string } {
  // nothing compared is no pass (a run interrupted during start-up)
  if (testsRun === 0 && g.active.length === 0 && unlocated === 0) return { pass: false, text: 'NO TESTS RAN: nothing was compared' };
  if (g.active.length === 0) {
    // a case the batch saw diverge but nobody located may be anything, a new bug included
    if (unlocated > 0) return { pass: false, text: `FAIL: no divergence located, but ${plural(unlocated, 'case')} diverged unlocated (replay them)` };
    return { pass: true, text: 'PASS: no divergences' };
  }
  const grouped = g.active.filter((s) => s.kind === 'group');
  const loose = g.active.find((s) => s.kind === 'ungrouped');
  const cases = g.active.reduce((n, s) => n + s.cases, 0);
  if (grouped.length === 0) {
    return { pass: false, text: `FAIL: ${plural(loose!.divergences.length, 'distinct divergence')} (${plural(cases, 'case')})` };
  }
  const signatures = grouped.reduce((n, s) => n + s.divergences.length, 0);
  const tail = loose ? `; ${plural(loose.divergences.length, 'signature')} in no group` : '';
  return { pass: false, text: `FAIL: ${plural(grouped.length, 'root-cause group')} (${plural(signatures, 'signature')}, ${plural(cases, 'case')})${tail}` };
}
