/** `junit.xml`: one testsuite, a testcase per root-cause group (see renderJunit). */
import type { CampaignResult, DivergenceReport } from '../harness/campaign-result.js';
import { differingFieldsText, headline, instructionRef, systemUnderTestText } from './format.js';
import { groupSections, type GroupSection } from './groups.js';
import { sectionVerdict, verdictWords, whoseBugLine } from './whose-bug.js';

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

/** The testcases a section becomes: one per root-cause group, one per signature in no group. */
function units(sections: readonly GroupSection[]): { section: GroupSection; d?: DivergenceReport }[] {
  return sections.flatMap((section) => (section.kind === 'group' ? [{ section }] : section.divergences.map((d) => ({ section, d }))));
}

export function junitCounts(r: CampaignResult): JunitCounts {
  const g = groupSections(r);
  const failures = units(g.active).length;
  const skipped = units(g.suppressed).length;
  return { tests: failures + skipped + r.oracleCrashes.length + 1, failures, errors: r.oracleCrashes.length, skipped };
}

const plural = (n: number, one: string) => `${n.toLocaleString('en-US')} ${one}${n === 1 ? '' : 's'}`;

/** A stable test name: what the group is merged on (its id is its rank in this run, not its identity). */
function groupTestName(s: GroupSection): string {
  return s.group.key || s.group.hypothesis;
}

function signatureLine(d: DivergenceReport): string {
  return `${d.count}× ${d.signature}: ${instructionRef(d)}`;
}

function groupFailure(s: GroupSection): string {
  const g = s.group;
  const analyzed = s.divergences.find((d) => d.signature === g.analyzed) ?? s.divergences[0]!;
  const whose = sectionVerdict(g, s.divergences);
  const message = `${g.id}: ${g.hypothesis} (${plural(s.divergences.length, 'signature')}, ${plural(s.cases, 'case')})${whose !== '–' ? `; whose bug: ${whose}` : ''}`;
  const body = [
    message,
    ...(g.whoseBug ? [whoseBugLine(g.whoseBug)] : []),
    g.necessary.length ? `Necessary features: ${g.necessary.join(', ')}` : 'Necessary features: none found (not analyzed)',
    ...g.experiments.map((e) => `  ${e.feature}: ${e.change} → ${e.outcome}`),
    '',
    `${analyzed.signature === g.analyzed ? 'Analyzed' : 'Commonest'}: ${headline(analyzed)}`,
    `Case ${analyzed.caseId}${analyzed.caseFile ? ` (${analyzed.caseFile})` : ''}${analyzed.seed ? `, seed ${analyzed.seed}` : ''}`,
    `Replay: ${analyzed.replayCommand}`,
    '',
    'Signatures:',
    ...s.divergences.map((d) => `  ${signatureLine(d)}${d.whoseBug ? ` (${verdictWords(d.whoseBug)})` : ''}`),
  ].join('\n');
  return `      <failure${attrs({ type: 'divergence', message })}>${xmlText(body)}</failure>`;
}

function signatureFailure(d: DivergenceReport): string {
  const whose = d.whoseBug ? ` Whose bug: ${verdictWords(d.whoseBug)}.` : '';
  const message = `${instructionRef(d)} diverges: ${differingFieldsText(d)}. ${plural(d.count, 'case')} hit this signature.${whose} Replay: ${d.replayCommand}`;
  const body = `${headline(d)}${d.whoseBug ? `\n${whoseBugLine(d.whoseBug)}` : ''}\n\nCase ${d.caseId}${d.caseFile ? ` (${d.caseFile})` : ''}${d.seed ? `, seed ${d.seed}` : ''}\nReplay: ${d.replayCommand}`;
  return `      <failure${attrs({ type: 'divergence', message })}>${xmlText(body)}</failure>`;
}

function testcase(classname: string, name: string, inner: string): string {
  return `    <testcase${attrs({ classname, name })}>\n${inner}\n    </testcase>`;
}

/**
 * `junit.xml`: one failing testcase per root-cause group (message: the hypothesis and how many
 * signatures and cases; body: its experiments, analyzed case and every signature), one per
 * signature in no group, suppressed groups as skipped, oracle crashes as errors, and one passing
 * testcase for the tests that agreed.
 */
export function renderJunit(r: CampaignResult): string {
  const g = groupSections(r);
  const counts = junitCounts(r);
  const cases: string[] = [];
  for (const { section, d } of units(g.active)) {
    cases.push(d ? testcase('difftest.divergence', d.signature, signatureFailure(d)) : testcase('difftest.group', groupTestName(section), groupFailure(section)));
  }
  const divergent = r.divergences.reduce((s, d) => s + d.count, 0);
  const clean = Math.max(0, r.testsRun - divergent - r.oracleCrashes.length);
  cases.push(`    <testcase${attrs({ classname: 'difftest.campaign', name: `${clean} non-divergent tests (seed ${r.seed})`, time: r.seconds.toFixed(3) })}/>`);
  for (const c of r.oracleCrashes) {
    cases.push(testcase('difftest.oracle-crash', c.caseId, `      <error${attrs({ type: 'oracle-crash', message: c.message })}>${xmlText(c.message)}</error>`));
  }
  for (const { section, d } of units(g.suppressed)) {
    const reason = d?.suppressed?.reason ?? section.suppressedReason ?? 'several reasons';
    const what = d ? '' : ` (${plural(section.divergences.length, 'signature')}, ${plural(section.cases, 'case')}: ${section.divergences.map((x) => x.signature).join('; ')})`;
    cases.push(testcase(d ? 'difftest.suppressed' : 'difftest.suppressed-group', d ? d.signature : groupTestName(section), `      <skipped${attrs({ message: `suppressed: ${reason}${what}` })}/>`));
  }
  const props = [
    ['runId', r.runId], ['seed', r.seed], ['command', r.command], ['mode', r.mode], ['workers', String(r.workers)],
    ['oracle', `${r.oracle.implementation} (${r.oracle.cpuModel})`], ['dut', systemUnderTestText(r)],
    ['testsRun', String(r.testsRun)], ['testingSeconds', String(r.testingSeconds ?? r.seconds)], ['partial', String(r.partial)],
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
