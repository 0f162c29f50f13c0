import path from 'node:path';
import type { CampaignResult } from '../harness/campaign-result.js';
import { consoleSummary } from '../reports/console.js';

/** Groups (or, without groups, signatures) printed on the console; the report has all of them. */
export const CONSOLE_TOP = 8;

/** The run's closing lines: rates, verdict, the largest root-cause groups, the unlocated cases, where the report is. */
export function campaignSummary(r: CampaignResult, reportDir: string): string {
  const lines = consoleSummary(r, { top: CONSOLE_TOP }).map((l, i) => (i === 0 ? `difftest: ${l}` : l));
  if (r.unlocated?.count && r.unlocated.file) {
    lines.push(`  ${r.unlocated.count.toLocaleString('en-US')} divergent case(s) not located (sampled; saved): node bin/difftest.mjs replay ${path.relative(process.cwd(), r.unlocated.file)}`);
  }
  lines.push(`difftest: report ${path.join(path.relative(process.cwd(), reportDir) || '.', 'index.html')} (also summary.md, result.json, junit.xml)`);
  return `${lines.join('\n')}\n`;
}
