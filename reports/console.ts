/**
 * The few lines a campaign prints when it ends, for cli/fuzz.ts to call: the rates, the verdict,
 * the largest groups with their hypothesis and one replay command each, and how many more the
 * report has. Bounded like summary.md, whatever the number of divergences.
 */
import type { CampaignResult } from '../harness/campaign-result.js';
import { ratesText } from './format.js';
import { groupSections, sectionCounts, verdictText } from './groups.js';
import { sectionVerdict, verdictCounts } from './whose-bug.js';

export interface ConsoleSummaryOptions {
  /** Groups (or, without groups, signatures) listed (default 5). */
  readonly top?: number;
}

/** Lines without a trailing newline; the caller adds the report's path. */
export function consoleSummary(r: CampaignResult, options: ConsoleSummaryOptions = {}): string[] {
  const top = options.top ?? 5;
  const g = groupSections(r);
  const lines = [`${ratesText(r)}${r.partial ? ' (partial run)' : ''}; seed ${r.seed}`];
  const suppressed = g.suppressed.reduce((n, s) => n + s.divergences.length, 0);
  lines.push(`${verdictText(g, r.unlocated?.count, r.testsRun).text}${suppressed ? `; ${g.suppressed.length} suppressed group${g.suppressed.length === 1 ? '' : 's'} (${suppressed} signature${suppressed === 1 ? '' : 's'}, listed in the report)` : ''}`);
  const counts = verdictCounts(r);
  if (counts) lines.push(`whose bug, by the host CPU as a third opinion: ${counts}`);
  let shown = 0;
  let total = 0;
  for (const s of g.active) {
    const units = s.kind === 'group' ? [s.divergences.find((d) => d.signature === s.group.analyzed) ?? s.divergences[0]!] : s.divergences;
    total += units.length;
    for (const d of units) {
      if (shown >= top) continue;
      shown++;
      lines.push(s.kind === 'group' ? `  ${s.group.id}  ${sectionCounts(s)}: ${s.group.hypothesis}` : `  ${d.count}× ${d.signature}`);
      const whose = s.kind === 'group' ? sectionVerdict(s.group, s.divergences) : d.whoseBug ? sectionVerdict(s.group, [d]) : '–';
      const why = (s.kind === 'group' ? s.group.whoseBug : undefined) ?? d.whoseBug;
      if (whose !== '–') lines.push(`      whose bug: ${whose}${why ? ` — ${why.reason.replace(/^no third opinion: /, '')}` : ''}`);
      lines.push(`      replay: ${d.replayCommand}`);
    }
  }
  if (total > shown) {
    const what = g.active.some((s) => s.kind === 'group') ? 'group' : 'signature';
    lines.push(`  …and ${total - shown} more ${what}${total - shown === 1 ? '' : 's'} in the report`);
  }
  return lines;
}
