/**
 * `summary.md`: the report for a terminal or a PR comment. Data is escaped for Markdown and
 * for the raw HTML that GitHub would otherwise interpret; listings go in fenced blocks.
 */
import type { CampaignResult, DivergenceReport } from '../harness/campaign-result.js';
import {
  PARTIAL_NOTE, coverageHeadline, coverageView, describeException, differingFieldsText, divergentInstruction, flagDiff, headerRows,
  headlineBody, hexWidth, initialRegisters, instructionLabel, instructionRef, maskedFlagsText, memoryLines, programRows, registerDiffs,
  spacedBytes,
} from './format.js';
import { groupSections, sectionCounts, verdictText, type GroupSection } from './groups.js';
import { REPORT_DIR_VAR, replayNote, shellQuote, usesReportDir } from './paths.js';
import { sectionVerdict, verdictWords, whoseBugLine } from './whose-bug.js';

/** Inline text: backslash-escape Markdown punctuation and entity-escape HTML. Safe in table cells. */
export function mdText(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([\\`*_|])/g, '\\$1')
    .replace(/\r?\n/g, ' ');
}

/** Inline code span; `|` escaped so it can sit in a table cell. */
export function mdCode(s: string): string {
  const flat = s.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
  const ticks = '`'.repeat((flat.match(/`+/g) ?? []).reduce((m, t) => Math.max(m, t.length), 0) + 1);
  const pad = flat.startsWith('`') || flat.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${flat}${pad}${ticks}`;
}

/** Fenced block whose fence is longer than any backtick run inside. */
export function mdFence(body: string, lang = ''): string {
  const longest = (body.match(/`+/g) ?? []).reduce((m, t) => Math.max(m, t.length), 0);
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${lang}\n${body}\n${fence}`;
}

/** `instruction 2 of 2 (`add r13, [rip+0xffef]` @ 0x…)`; without the address in tables. */
function mdInstr(d: DivergenceReport, withAddress = true): string {
  const ins = divergentInstruction(d);
  if (!ins) return mdText(instructionRef(d));
  return `${instructionLabel(d.index, d.program.length)} (${mdCode(ins.text)}${withAddress ? ` @ ${hexWidth(ins.address)}` : ''})`;
}

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function programBlock(d: DivergenceReport): string {
  const rows = programRows(d);
  const bw = Math.max(5, ...rows.map((r) => r.bytes.length));
  const lines = [`   ${pad('#', 3)} ${pad('address', 18)}  ${pad('bytes', bw)}  instruction`];
  for (const r of rows) {
    const mark = r.divergent ? '>> ' : '   ';
    lines.push(`${mark}${pad(String(r.n), 3)} ${r.address}  ${pad(r.bytes, bw)}  ${r.text}${r.divergent ? '   <-- diverges' : ''}`);
  }
  return mdFence(lines.join('\n'), 'x86asm');
}

function memoryBlock(d: DivergenceReport): string {
  const out: string[] = [];
  for (const m of d.memoryDiffs) {
    for (const l of memoryLines(m)) {
      out.push(`${l.addr}  expected ${l.expected.join(' ')}`);
      out.push(`${' '.repeat(18)}  actual   ${l.actual.join(' ')}`);
      out.push(`${' '.repeat(18)}           ${l.differs.map((x) => (x ? '^^' : '  ')).join(' ').trimEnd()}`);
    }
  }
  return mdFence(out.join('\n'));
}

/** One divergence in full: headline, program, bit-range tables, flags, memory, initial state, replay. */
export function divergenceSection(d: DivergenceReport, title: string): string {
  const out: string[] = [];
  out.push(`### ${title}${mdCode(d.signature)}${d.count > 1 ? ` (${d.count} cases)` : ''}`);
  out.push(`**${mdInstr(d)}:** ${mdText(headlineBody(d))}`);
  const facts = [`- Case: ${mdCode(d.caseId)}${d.caseFile ? ` in ${mdCode(d.caseFile)}` : ''}${d.seed ? `, seed ${mdCode(d.seed)}` : ''}`];
  if (d.minimization) {
    const m = d.minimization;
    facts.push(`- Minimized: ${m.fromInstructions} → ${m.toInstructions} instruction${m.toInstructions === 1 ? '' : 's'} in ${m.seconds.toFixed(1)} s`);
  }
  if (d.expectedException || d.actualException) {
    facts.push(`- Exception, expected (oracle): ${mdText(describeException(d.expectedException))}`);
    facts.push(`- Exception, actual (DUT): ${mdText(describeException(d.actualException))}`);
  }
  facts.push(`- Masked flags at this instruction: ${mdText(maskedFlagsText(d))}`);
  if (d.whoseBug) facts.push(`- Whose bug: **${mdText(verdictWords(d.whoseBug))}** — ${mdText(whoseBugLine(d.whoseBug).replace(/^whose bug: [^—]*— /, ''))}`);
  out.push(facts.join('\n'));
  out.push(`Program${d.minimization ? ' (minimized)' : ' (as generated)'}:\n\n${programBlock(d)}`);

  for (const r of registerDiffs(d)) {
    out.push(`#### ${mdText(r.label)}: bits ${r.span} differ\n\nDiffering bits (expected XOR actual): ${r.bits}`);
    const marks = `${' '.repeat(11)}${r.digitDiffers.map((x) => (x ? '^' : ' ')).join('')}`.trimEnd();
    out.push(mdFence(`expected ${r.expected}\nactual   ${r.actual}\n${marks}`));
    out.push(table(['Bits', 'Expected', 'Actual', 'Status'], r.rows.map((row) => [row.bits, mdCode(row.expected), mdCode(row.actual), row.status === 'WRONG' ? '**WRONG**' : 'ok'])));
  }
  const fl = flagDiff(d);
  if (fl) {
    out.push(`#### RFLAGS\n\nexpected ${mdCode(fl.expected)}, actual ${mdCode(fl.actual)}`);
    const rows = fl.flags.map((f) => [f.name, String(f.expected), String(f.actual), '**WRONG**']);
    if (fl.otherBits) rows.push([`bits ${fl.otherBits}`, '', '', '**WRONG**']);
    out.push(table(['Flag', 'Expected', 'Actual', 'Status'], rows));
  }
  if (d.memoryDiffs.length) out.push(`#### Memory\n\n${memoryBlock(d)}`);

  const regs = initialRegisters(d.initial).map((r) => `${pad(r.label, 6)} ${r.value}`);
  const mem = d.initialMemory.map((m) => `[${hexWidth(m.addr)}] ${m.bytes.length} bytes: ${spacedBytes(m.bytes.subarray(0, 16))}${m.bytes.length > 16 ? ' …' : ''}`);
  out.push(`Initial state (non-zero registers; memory):\n\n${mdFence([...regs, ...mem].join('\n'))}`);
  out.push(`Replay:\n\n${mdFence(d.replayCommand, 'sh')}`);
  return out.join('\n\n');
}

export interface MarkdownOptions {
  /** Groups listed with their hypothesis (default 10); the rest are counted. */
  readonly topGroups?: number;
  /** Groups whose signatures are tabled (default 5), and rows per table (default 5). */
  readonly tabledGroups?: number;
  readonly signaturesPerGroup?: number;
  /** Groups whose analyzed divergence is shown in full (default 3). */
  readonly detailedGroups?: number;
  /** The report folder as seen from where it was written (`reports/runs/<run>`), for the replay note. */
  readonly writtenTo?: string;
}

const LIST_CAP = 100;

/** `…and 28 more groups in the report (index.html).` */
function more(n: number, what: string): string {
  return `…and ${n.toLocaleString('en-US')} more ${what} in the report (index.html).`;
}

function groupName(s: GroupSection): string {
  return s.kind === 'ungrouped' ? '(no group)' : `**${mdText(s.group.id)}**`;
}

function groupTable(sections: readonly GroupSection[], top: number): string {
  const rows = sections.slice(0, top).map((s) => [
    groupName(s),
    s.cases.toLocaleString('en-US'),
    s.divergences.length.toLocaleString('en-US'),
    mdText(s.group.hypothesis),
    s.group.necessary.length ? s.group.necessary.map(mdCode).join(', ') : '–',
    mdText(sectionVerdict(s.group, s.divergences)),
  ]);
  const out = [table(['Group', 'Cases', 'Signatures', 'Hypothesis', 'Necessary features', 'Whose bug'], rows)];
  if (sections.length > top) out.push(more(sections.length - top, 'groups'));
  return out.join('\n\n');
}

function suppressedTable(sections: readonly GroupSection[], top: number): string {
  const rows = sections.slice(0, top).map((s) => [
    groupName(s),
    s.cases.toLocaleString('en-US'),
    s.divergences.length.toLocaleString('en-US'),
    mdText(s.suppressedReason ?? 'several reasons (see the report)'),
    mdText(sectionVerdict(s.group, s.divergences)),
  ]);
  const out = ['Accepted via the suppressions file; not failures, listed so nothing is hidden.', table(['Group', 'Cases', 'Signatures', 'Reason', 'Whose bug'], rows)];
  if (sections.length > top) out.push(more(sections.length - top, 'suppressed groups'));
  return out.join('\n\n');
}

/** A section's commonest signatures; with a heading naming the group unless they are the whole list. */
function signatureTable(s: GroupSection, rows: number, heading: boolean): string {
  const head = heading ? `### ${s.kind === 'ungrouped' ? 'Signatures in no group' : `${mdText(s.group.id)}: ${mdText(s.group.hypothesis)}`} (${mdText(sectionCounts(s))})\n\n` : '';
  const shown = s.divergences.slice(0, rows);
  const grouping = shown.some((d) => d.grouping !== undefined);
  const whose = shown.some((d) => d.whoseBug !== undefined);
  const body = table(
    ['Signature', 'Cases', 'First divergent instruction', 'Differs', ...(grouping ? ['Grouped as'] : []), ...(whose ? ['Whose bug'] : [])],
    shown.map((d) => [
      mdCode(d.signature), String(d.count), mdInstr(d, false), mdText(differingFieldsText(d)), ...(grouping ? [d.grouping ?? '–'] : []),
      ...(whose ? [d.whoseBug ? mdText(verdictWords(d.whoseBug)) : '–'] : []),
    ]),
  );
  const tail = s.divergences.length > rows ? `\n\n${more(s.divergences.length - rows, s.kind === 'ungrouped' ? 'signatures in no group' : `signatures of ${s.group.id}`)}` : '';
  return `${head}${body}${tail}`;
}

/** The divergences shown in full: each top group's analyzed one (or its commonest); loose signatures fill the rest. */
function detailed(sections: readonly GroupSection[], n: number): { d: DivergenceReport; title: string }[] {
  const out: { d: DivergenceReport; title: string }[] = [];
  for (const s of sections) {
    if (out.length >= n) break;
    if (s.kind === 'ungrouped') {
      for (const d of s.divergences.slice(0, n - out.length)) out.push({ d, title: '' });
    } else {
      const d = s.divergences.find((x) => x.signature === s.group.analyzed) ?? s.divergences[0]!;
      out.push({ d, title: `${mdText(s.group.id)}${d.signature === s.group.analyzed ? ' (analyzed)' : ''}: ` });
    }
  }
  return out;
}

function replaySection(r: CampaignResult, writtenTo: string | undefined): string {
  if (!usesReportDir(r)) return '';
  const set = `export ${REPORT_DIR_VAR}=${writtenTo ? shellQuote(writtenTo) : 'path/to/the/report'}`;
  return `## Replaying\n\n${mdText(replayNote(writtenTo))}\n\n${mdFence(set, 'sh')}`;
}

function campaignSections(r: CampaignResult): string {
  const out: string[] = [];
  const cov = coverageView(r);
  out.push(`## Coverage: ${mdText(coverageHeadline(cov))}`);
  if (cov.missing.length) {
    const shown = cov.missing.slice(0, LIST_CAP).map(mdCode).join(', ');
    out.push(`Not exercised (${cov.missing.length}): ${shown}${cov.missing.length > LIST_CAP ? `, ${more(cov.missing.length - LIST_CAP, 'rows')}` : ''}`);
  } else if (cov.total > 0) out.push('Every generatable row was exercised.');

  const crashes = r.oracleCrashes;
  out.push(`## Oracle crashes (${crashes.length})`);
  out.push(crashes.length ? table(['Case', 'Message'], crashes.slice(0, 20).map((c) => [mdCode(c.caseId), mdText(c.message)])) + (crashes.length > 20 ? `\n\n${more(crashes.length - 20, 'crashes')}` : '') : 'none');

  out.push(`## Assembler rejects (${r.assemblerRejects.reduce((s, a) => s + a.count, 0)})`);
  out.push(r.assemblerRejects.length ? table(['Source', 'Reason', 'Count'], r.assemblerRejects.map((a) => [mdCode(a.source), mdText(a.reason), String(a.count)])) : 'none');

  out.push('## Masked (architecturally undefined) flags');
  out.push(r.maskedFlags.length ? table(['Mnemonic', 'Flags', 'Times they differed'], r.maskedFlags.map((m) => [mdCode(m.mnemonic), mdText(m.flags), String(m.count)])) : 'none');

  out.push('## Sync rules in force');
  out.push(r.syncRules.length ? table(['Rule', 'Description'], r.syncRules.map((s) => [mdCode(s.name), mdText(s.description)])) : 'none');
  return out.join('\n\n');
}

/**
 * `summary.md`, also posted as a PR comment (GitHub keeps 65,536 characters): bounded whatever
 * the number of divergences. Groups first, then the suppressed ones, then a few signatures of the
 * top groups and their analyzed cases in full; index.html has everything.
 */
export function renderMarkdown(r: CampaignResult, options: MarkdownOptions = {}): string {
  const top = options.topGroups ?? 10;
  const tabled = options.tabledGroups ?? 5;
  const perGroup = options.signaturesPerGroup ?? 5;
  const g = groupSections(r);
  const out: string[] = [];
  out.push(`# difftest report ${mdCode(r.runId)}${r.partial ? ' (PARTIAL)' : ''}`);
  if (r.partial) out.push(`> **${PARTIAL_NOTE}**`);
  const verdict = verdictText(g, r.unlocated?.count, r.testsRun);
  const suppressedSigs = g.suppressed.reduce((n, s) => n + s.divergences.length, 0);
  const extra = [
    `${g.suppressed.length} suppressed group${g.suppressed.length === 1 ? '' : 's'} (${suppressedSigs} signature${suppressedSigs === 1 ? '' : 's'})`,
    `${r.oracleCrashes.length} oracle crash${r.oracleCrashes.length === 1 ? '' : 'es'}`,
    ...(r.unlocated?.count ? [`${r.unlocated.count.toLocaleString('en-US')} unlocated`] : []),
  ];
  out.push(`**${verdict.text}**; ${extra.join(', ')}`);
  const mono = new Set(['Command', 'Seed', 'Run']);
  out.push(table(['', ''], headerRows(r).map((h) => [`**${h.label}**`, mono.has(h.label) ? mdCode(h.value) : mdText(h.value)])));

  const grouped = g.active.filter((s) => s.kind === 'group').length;
  const signatures = (heading: boolean) => {
    for (const s of g.active.slice(0, tabled)) out.push(signatureTable(s, perGroup, heading));
  };
  if (grouped > 0 || g.active.length === 0) {
    out.push(`## Root-cause groups (${grouped})`);
    out.push(g.active.length ? groupTable(g.active, top) : 'none');
  } else {
    // a result without groups (older campaigns, `difftest minimize`): its signatures are the list
    out.push(`## Divergences (${g.active[0]!.divergences.length}; not grouped by root cause)`);
    signatures(false);
  }
  out.push(`## Suppressed groups (${g.suppressed.length})`);
  out.push(g.suppressed.length ? suppressedTable(g.suppressed, top) : 'none');
  if (grouped > 0) {
    const k = Math.min(tabled, g.active.length);
    out.push(`## Signatures of the top ${k} group${k === 1 ? '' : 's'}`);
    signatures(true);
  }
  if (g.active.length) {
    out.push(grouped > 0 ? '## Analyzed divergences in full' : '## In full');
    for (const { d, title } of detailed(g.active, options.detailedGroups ?? 3)) out.push(divergenceSection(d, title));
  }
  const replay = replaySection(r, options.writtenTo);
  if (replay) out.push(replay);
  out.push(campaignSections(r));
  return `${out.join('\n\n')}\n`;
}
