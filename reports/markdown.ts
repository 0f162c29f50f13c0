/**
 * `summary.md`: the report for a terminal or a PR comment. Data is escaped for Markdown and
 * for the raw HTML that GitHub would otherwise interpret; listings go in fenced blocks.
 */
import type { CampaignResult, DivergenceReport } from '../harness/campaign-result.js';
import {
  PARTIAL_NOTE, coverageView, describeException, differingFieldsText, flagDiff, divergentInstruction, headerRows, headlineBody, hexWidth,
  initialRegisters, instructionRef, maskedFlagsText, memoryLines, percent, programRows, registerDiffs,
  spacedBytes, splitDivergences,
} from './format.js';

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

/** `#2 `add r13, [rip+0xffef]` @ 0x…` */
function mdInstr(d: DivergenceReport): string {
  const ins = divergentInstruction(d);
  return ins ? `#${d.index + 1} ${mdCode(ins.text)} @ ${hexWidth(ins.address)}` : mdText(instructionRef(d));
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

export function divergenceSection(d: DivergenceReport, n: number): string {
  const out: string[] = [];
  out.push(`### ${n}. ${mdCode(d.signature)}${d.count > 1 ? ` (${d.count} cases)` : ''}`);
  out.push(`**${mdInstr(d)}:** ${mdText(headlineBody(d))}`);
  const facts = [`- Case: ${mdCode(d.caseId)}${d.caseFile ? ` in ${mdCode(d.caseFile)}` : ''}${d.seed ? `, seed ${mdCode(d.seed)}` : ''}`];
  if (d.minimization) {
    const m = d.minimization;
    facts.push(`- Minimized: ${m.fromInstructions} → ${m.toInstructions} instructions in ${m.seconds.toFixed(1)} s`);
  }
  if (d.expectedException || d.actualException) {
    facts.push(`- Exception, expected (oracle): ${mdText(describeException(d.expectedException))}`);
    facts.push(`- Exception, actual (DUT): ${mdText(describeException(d.actualException))}`);
  }
  facts.push(`- Masked flags at this instruction: ${mdText(maskedFlagsText(d))}`);
  out.push(facts.join('\n'));
  out.push(`Program (minimized):\n\n${programBlock(d)}`);

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

function campaignSections(r: CampaignResult, suppressed: DivergenceReport[]): string {
  const out: string[] = [];
  const cov = coverageView(r);
  out.push(`## Coverage: ${cov.exercised.length} of ${cov.total} opcode-table rows exercised (${percent(cov.exercised.length, cov.total)})`);
  if (cov.exercised.length) out.push(cov.exercised.map((c) => `${mdCode(c.row)} ×${c.count}`).join(', '));
  if (cov.unexercised.length) out.push(`Not exercised: ${cov.unexercised.map(mdCode).join(', ')}`);

  out.push(`## Suppressed divergences (${suppressed.length})`);
  out.push(suppressed.length
    ? `Accepted via the suppressions file; not failures, listed so nothing is hidden.\n\n${table(['Signature', 'Count', 'Reason', 'Instruction', 'Replay'], suppressed.map((d) => [mdCode(d.signature), String(d.count), mdText(d.suppressed!.reason), mdInstr(d), mdCode(d.replayCommand)]))}`
    : 'none');

  out.push(`## Oracle crashes (${r.oracleCrashes.length})`);
  out.push(r.oracleCrashes.length ? table(['Case', 'Message'], r.oracleCrashes.map((c) => [mdCode(c.caseId), mdText(c.message)])) : 'none');

  out.push(`## Assembler rejects (${r.assemblerRejects.reduce((s, a) => s + a.count, 0)})`);
  out.push(r.assemblerRejects.length ? table(['Source', 'Reason', 'Count'], r.assemblerRejects.map((a) => [mdCode(a.source), mdText(a.reason), String(a.count)])) : 'none');

  out.push('## Masked (architecturally undefined) flags');
  out.push(r.maskedFlags.length ? table(['Mnemonic', 'Flags', 'Times they differed'], r.maskedFlags.map((m) => [mdCode(m.mnemonic), mdText(m.flags), String(m.count)])) : 'none');

  out.push('## Sync rules in force');
  out.push(r.syncRules.length ? table(['Rule', 'Description'], r.syncRules.map((s) => [mdCode(s.name), mdText(s.description)])) : 'none');
  return out.join('\n\n');
}

export function renderMarkdown(r: CampaignResult): string {
  const { active, suppressed } = splitDivergences(r);
  const out: string[] = [];
  out.push(`# difftest report ${mdCode(r.runId)}${r.partial ? ' (PARTIAL)' : ''}`);
  if (r.partial) out.push(`> **${PARTIAL_NOTE}**`);
  const cases = active.reduce((s, d) => s + d.count, 0);
  const verdict = active.length
    ? `**FAIL: ${active.length} distinct divergence${active.length > 1 ? 's' : ''}** (${cases} case${cases > 1 ? 's' : ''})`
    : '**PASS: no divergences**';
  out.push(`${verdict}, ${suppressed.length} suppressed, ${r.oracleCrashes.length} oracle crash${r.oracleCrashes.length === 1 ? '' : 'es'}`);
  out.push(table(['', ''], headerRows(r).map((h) => [`**${h.label}**`, h.label === 'Command' || h.label === 'Seed' || h.label === 'Run' ? mdCode(h.value) : mdText(h.value)])));

  out.push(`## Divergences (${active.length})`);
  if (active.length) {
    out.push(table(['#', 'Signature', 'Count', 'First divergent instruction', 'Differs'], active.map((d, i) => [String(i + 1), mdCode(d.signature), String(d.count), mdInstr(d), mdText(differingFieldsText(d))])));
    active.forEach((d, i) => out.push(divergenceSection(d, i + 1)));
  } else out.push('none');
  out.push(campaignSections(r, suppressed));
  return `${out.join('\n\n')}\n`;
}
