/**
 * `junit.xml`: one testsuite. One failing testcase per distinct divergence signature, one
 * passing testcase for the non-divergent tests, oracle crashes as `<error>`, suppressed
 * divergences as `<skipped>` with their reason.
 */
import type { CampaignResult } from '../harness/campaign-result.js';
import { differingFieldsText, headline, instructionRef, splitDivergences } from './format.js';

/** Escape for XML text and attribute values; drop characters XML 1.0 cannot carry. */
export function xmlEsc(s: string): string {
  return s
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\r/g, '&#13;')
    .replace(/\n/g, '&#10;');
}

/** Text content: like `xmlEsc` but keeps newlines readable. */
function xmlText(s: string): string {
  return xmlEsc(s).replace(/&#10;/g, '\n').replace(/&#13;/g, '');
}

const attrs = (o: Record<string, string | number>) =>
  Object.entries(o).map(([k, v]) => ` ${k}="${xmlEsc(String(v))}"`).join('');

export interface JunitCounts {
  readonly tests: number;
  readonly failures: number;
  readonly errors: number;
  readonly skipped: number;
}

export function junitCounts(r: CampaignResult): JunitCounts {
  const { active, suppressed } = splitDivergences(r);
  return { tests: active.length + suppressed.length + r.oracleCrashes.length + 1, failures: active.length, errors: r.oracleCrashes.length, skipped: suppressed.length };
}

export function renderJunit(r: CampaignResult): string {
  const { active, suppressed } = splitDivergences(r);
  const counts = junitCounts(r);
  const cases: string[] = [];
  for (const d of active) {
    const paragraph = `${instructionRef(d)} diverges: ${differingFieldsText(d)}. ${d.count} case${d.count > 1 ? 's' : ''} hit this signature. Replay: ${d.replayCommand}`;
    cases.push(
      `    <testcase${attrs({ classname: 'difftest.divergence', name: d.signature })}>\n` +
        `      <failure${attrs({ type: 'divergence', message: paragraph })}>${xmlText(`${headline(d)}\n\nCase ${d.caseId}${d.caseFile ? ` (${d.caseFile})` : ''}${d.seed ? `, seed ${d.seed}` : ''}\nReplay: ${d.replayCommand}`)}</failure>\n` +
        '    </testcase>',
    );
  }
  const divergent = r.divergences.reduce((s, d) => s + d.count, 0);
  const clean = Math.max(0, r.testsRun - divergent - r.oracleCrashes.length);
  cases.push(`    <testcase${attrs({ classname: 'difftest.campaign', name: `${clean} non-divergent tests (seed ${r.seed})`, time: r.seconds.toFixed(3) })}/>`);
  for (const c of r.oracleCrashes) {
    cases.push(
      `    <testcase${attrs({ classname: 'difftest.oracle-crash', name: c.caseId })}>\n` +
        `      <error${attrs({ type: 'oracle-crash', message: c.message })}>${xmlText(c.message)}</error>\n` +
        '    </testcase>',
    );
  }
  for (const d of suppressed) {
    cases.push(
      `    <testcase${attrs({ classname: 'difftest.suppressed', name: d.signature })}>\n` +
        `      <skipped${attrs({ message: `suppressed: ${d.suppressed!.reason}` })}/>\n` +
        '    </testcase>',
    );
  }
  const props = [
    ['runId', r.runId], ['seed', r.seed], ['command', r.command], ['mode', r.mode], ['workers', String(r.workers)],
    ['oracle', `${r.oracle.implementation} (${r.oracle.cpuModel})`], ['dut', `${r.dut.name} (${r.dut.implementation})`],
    ['testsRun', String(r.testsRun)], ['partial', String(r.partial)],
  ].map(([name, value]) => `      <property${attrs({ name: name!, value: value! })}/>`);
  const suite = attrs({
    name: `difftest ${r.runId}`, tests: counts.tests, failures: counts.failures, errors: counts.errors, skipped: counts.skipped,
    time: r.seconds.toFixed(3), timestamp: r.startedAt,
  });
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites${attrs({ name: 'difftest', tests: counts.tests, failures: counts.failures, errors: counts.errors, skipped: counts.skipped, time: r.seconds.toFixed(3) })}>
  <testsuite${suite}>
    <properties>
${props.join('\n')}
    </properties>
${cases.join('\n')}
  </testsuite>
</testsuites>
`;
}
