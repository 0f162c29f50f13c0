import path from 'node:path';
import type { CampaignResult, DivergenceReport } from '../harness/campaign-result.js';

/** Groups (or, without groups, signatures) printed on the console; the report has all of them. */
export const CONSOLE_TOP = 8;

const n = (x: number) => x.toLocaleString('en-US');
const s1 = (x: number) => x.toFixed(1);

/** "12,345 tests in 7.0 s of testing (1,764/s); 10.8 s wall (2.1 s start-up, 3.0 s minimizing)" */
export function rateLine(r: CampaignResult): string {
  const testing = r.testingSeconds ?? r.seconds;
  const rate = testing > 0 ? r.testsRun / testing : 0;
  const parts = [r.startupSeconds !== undefined ? `${s1(r.startupSeconds)} s start-up` : '', r.minimizeSeconds !== undefined ? `${s1(r.minimizeSeconds)} s minimizing` : '']
    .filter(Boolean)
    .join(', ');
  return `${n(r.testsRun)} tests in ${s1(testing)} s of testing (${n(Math.round(rate))}/s); ${s1(r.seconds)} s wall${parts ? ` (${parts})` : ''}`;
}

/** The run's closing lines: rates, counts, the top root-cause groups (or signatures), where the report is. */
export function campaignSummary(r: CampaignResult, seed: number, reportDir: string): string {
  const open = r.divergences.filter((d) => !d.suppressed);
  const known = r.divergences.filter((d) => d.suppressed);
  const openGroups = r.groups.filter((g) => !g.suppressed);
  const knownGroups = r.groups.filter((g) => g.suppressed);
  const cases = open.reduce((k, d) => k + d.count, 0) + (r.unlocated?.count ?? 0);
  const what = openGroups.length
    ? `${openGroups.length} root cause(s) (${open.length} signature(s))`
    : `${open.length} distinct divergence(s)`;
  const lines = [
    `difftest: ${rateLine(r)}; ${what} in ${n(cases)} divergent case(s)` +
      `${r.unlocated?.count ? ` (${n(r.unlocated.count)} not located)` : ''}` +
      `${known.length ? ` (+${known.length} suppressed)` : ''}${r.partial ? ' (partial run)' : ''}; seed ${seed}`,
  ];
  if (openGroups.length) {
    for (const g of openGroups.slice(0, CONSOLE_TOP)) {
      lines.push(`  ${g.id} ${n(g.cases)}× ${g.hypothesis} [${g.signatures.length} signature(s)]`);
      const rep = open.find((d) => d.signature === g.analyzed) ?? open.find((d) => g.signatures.includes(d.signature));
      if (rep) lines.push(`     replay: ${rep.replayCommand}`);
    }
    if (openGroups.length > CONSOLE_TOP) lines.push(`  …and ${openGroups.length - CONSOLE_TOP} more root cause(s) in the report`);
  } else {
    const top = [...open].sort((a, b) => b.count - a.count);
    for (const d of top.slice(0, CONSOLE_TOP)) lines.push(`  ${d.count}× ${d.signature}`, `     replay: ${d.replayCommand}`);
    if (top.length > CONSOLE_TOP) lines.push(`  …and ${top.length - CONSOLE_TOP} more in the report`);
  }
  if (known.length) {
    const knownCases = known.reduce((k, d: DivergenceReport) => k + d.count, 0);
    lines.push(
      `  suppressed (known, listed in the report with their reasons): ${n(knownCases)} case(s) in ${known.length} signature(s)` +
        `${knownGroups.length ? `, ${knownGroups.length} root cause(s)` : ''}`,
    );
  }
  if (r.unlocated?.count && r.unlocated.file) {
    lines.push(`  divergent cases not located (sampled): node bin/difftest.mjs replay ${path.relative(process.cwd(), r.unlocated.file)}`);
  }
  lines.push(`difftest: report ${path.join(path.relative(process.cwd(), reportDir) || '.', 'index.html')} (also summary.md, result.json, junit.xml)`);
  return `${lines.join('\n')}\n`;
}
