/**
 * `index.html`: the same content as summary.md, self-contained (inline CSS, no scripts, no
 * external resources) so it opens from disk. Every piece of data goes through `esc`.
 */
import type { CampaignResult, DivergenceReport } from '../harness/campaign-result.js';
import {
  PARTIAL_NOTE, coverageView, describeException, differingFieldsText, flagDiff, divergentInstruction, headerRows, headlineBody, hexWidth,
  initialRegisters, instructionRef, maskedFlagsText, memoryLines, percent, programRows, registerDiffs,
  spacedBytes, type RegisterDiffView,
} from './format.js';

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:1100px;margin:0 auto;padding:20px 28px 60px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d5d9e0;padding-bottom:4px}
h3{font-size:16px;margin:0 0 6px}h4{font-size:14px;margin:14px 0 4px}
code,pre,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12.5px}
pre{background:#fff;border:1px solid #d5d9e0;border-radius:4px;padding:8px 10px;overflow-x:auto;margin:4px 0}
table{border-collapse:collapse;margin:4px 0 8px;background:#fff}
th,td{border:1px solid #d5d9e0;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eef0f4;font-weight:600}
.verdict{display:inline-block;padding:4px 10px;border-radius:4px;font-weight:700;margin:6px 0}
.fail{background:#fde2e1;color:#a11}.pass{background:#dff5e3;color:#175c26}
.partial{background:#fff3cd;border:1px solid #e0c060;padding:8px 12px;border-radius:4px;font-weight:600}
.card{background:#fff;border:1px solid #d5d9e0;border-left:5px solid #c62828;border-radius:4px;padding:12px 16px;margin:14px 0}
.card.suppressed{border-left-color:#8a8f99}
.headline{font-weight:600;color:#a11;margin:4px 0 8px}.headline code{color:#1d2330;background:#f1f2f5;padding:0 3px}
tr.wrong td{background:#fde2e1;color:#a11;font-weight:600}
.ok{color:#175c26;font-weight:600}
tr.divergent td{background:#fff1c2;font-weight:600}
.bit{color:#c62828;background:#fde2e1;font-weight:700}
.meta{color:#555}.muted{color:#777}
ul.rows{columns:3;margin:4px 0;padding-left:18px}
.replay{background:#1d2330;color:#e8eaef;border-color:#1d2330}
details summary{cursor:pointer;font-weight:600}
`;

function table(head: string[], rows: string[][], rowClass: (i: number) => string = () => ''): string {
  const th = head.map((h) => `<th>${esc(h)}</th>`).join('');
  const body = rows.map((r, i) => `<tr${rowClass(i) ? ` class="${rowClass(i)}"` : ''}>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const code = (s: string) => `<code>${esc(s)}</code>`;

/** `0x` + digits, the digits whose bits differ wrapped in `.bit`. */
function highlighted(value: string, differs: boolean[]): string {
  const digits = value.slice(2);
  return `0x${Array.from(digits, (c, i) => (differs[i] ? `<span class="bit">${esc(c)}</span>` : esc(c))).join('')}`;
}

function registerBlock(r: RegisterDiffView): string {
  const rows = r.rows.map((row) => [esc(row.bits), code(row.expected), code(row.actual), row.status === 'WRONG' ? 'WRONG' : '<span class="ok">ok</span>']);
  return `<h4>${esc(r.label)}: bits ${esc(r.span)} differ <span class="meta">(exactly: ${esc(r.bits)})</span></h4>
<pre>expected ${highlighted(r.expected, r.digitDiffers)}
actual   ${highlighted(r.actual, r.digitDiffers)}</pre>
${table(['Bits', 'Expected', 'Actual', 'Status'], rows, (i) => (r.rows[i]!.status === 'WRONG' ? 'wrong' : 'ok'))}`;
}

function programTable(d: DivergenceReport): string {
  const rows = programRows(d);
  return table(
    ['#', 'Address', 'Bytes', 'Instruction', ''],
    rows.map((r) => [String(r.n), code(r.address), code(r.bytes), code(r.text), r.divergent ? '◀ diverges' : '']),
    (i) => (rows[i]!.divergent ? 'divergent' : ''),
  );
}

function memoryBlock(d: DivergenceReport): string {
  const lines: string[] = [];
  for (const m of d.memoryDiffs) {
    for (const l of memoryLines(m)) {
      const cells = (bytes: string[]) => bytes.map((b, i) => (l.differs[i] ? `<span class="bit">${esc(b)}</span>` : esc(b))).join(' ');
      lines.push(`${esc(l.addr)}  expected ${cells(l.expected)}`);
      lines.push(`${' '.repeat(18)}  actual   ${cells(l.actual)}`);
    }
  }
  return `<h4>Memory</h4><pre>${lines.join('\n')}</pre>`;
}

function divergenceCard(d: DivergenceReport, n: number, id: string): string {
  const out: string[] = [];
  const cls = d.suppressed ? 'card suppressed' : 'card';
  out.push(`<section class="${cls}" id="${id}">`);
  out.push(`<h3>${n}. ${code(d.signature)}${d.count > 1 ? ` <span class="meta">(${d.count} cases)</span>` : ''}</h3>`);
  const ins = divergentInstruction(d);
  const ref = esc(instructionRef(d));
  out.push(`<p class="headline">${ref}: ${esc(headlineBody(d))}</p>`);
  if (d.suppressed) out.push(`<p><b>Suppressed:</b> ${esc(d.suppressed.reason)}</p>`);
  const facts = [`<li>Case ${code(d.caseId)}${d.caseFile ? ` in ${code(d.caseFile)}` : ''}${d.seed ? `, seed ${code(d.seed)}` : ''}</li>`];
  if (d.minimization) {
    const m = d.minimization;
    facts.push(`<li>Minimized: ${m.fromInstructions} → ${m.toInstructions} instructions in ${m.seconds.toFixed(1)} s</li>`);
  }
  if (d.expectedException || d.actualException) {
    facts.push(`<li>Exception, expected (oracle): ${esc(describeException(d.expectedException))}</li>`);
    facts.push(`<li>Exception, actual (DUT): ${esc(describeException(d.actualException))}</li>`);
  }
  facts.push(`<li>Masked flags at this instruction: ${esc(maskedFlagsText(d))}</li>`);
  out.push(`<ul>${facts.join('')}</ul>`);
  out.push(`<h4>Program (minimized)</h4>${programTable(d)}`);
  for (const r of registerDiffs(d)) out.push(registerBlock(r));
  const fl = flagDiff(d);
  if (fl) {
    const rows = fl.flags.map((f) => [esc(f.name), String(f.expected), String(f.actual), 'WRONG']);
    if (fl.otherBits) rows.push([`bits ${esc(fl.otherBits)}`, '', '', 'WRONG']);
    out.push(`<h4>RFLAGS</h4><p class="mono">expected ${esc(fl.expected)}<br>actual&nbsp;&nbsp; ${esc(fl.actual)}</p>
${table(['Flag', 'Expected', 'Actual', 'Status'], rows, () => 'wrong')}`);
  }
  if (d.memoryDiffs.length) out.push(memoryBlock(d));
  const regs = initialRegisters(d.initial).map((r) => `${r.label.padEnd(6)} ${r.value}`);
  const mem = d.initialMemory.map((m) => `[${hexWidth(m.addr)}] ${m.bytes.length} bytes: ${spacedBytes(m.bytes.subarray(0, 16))}${m.bytes.length > 16 ? ' …' : ''}`);
  out.push(`<h4>Initial state</h4><pre>${esc([...regs, ...mem].join('\n'))}</pre>`);
  out.push(`<h4>Replay</h4><pre class="replay">${esc(d.replayCommand)}</pre>`);
  out.push('</section>');
  return out.join('\n');
}

function campaign(r: CampaignResult, suppressed: DivergenceReport[]): string {
  const out: string[] = [];
  const cov = coverageView(r);
  out.push(`<h2>Coverage: ${cov.exercised.length} of ${cov.total} opcode-table rows exercised (${esc(percent(cov.exercised.length, cov.total))})</h2>`);
  if (cov.exercised.length) out.push(`<ul class="rows">${cov.exercised.map((c) => `<li>${code(c.row)} <span class="muted">×${c.count}</span></li>`).join('')}</ul>`);
  if (cov.missing.length) out.push(`<p>Not exercised:</p><ul class="rows">${cov.missing.map((c) => `<li>${code(c)}</li>`).join('')}</ul>`);

  out.push(`<h2>Suppressed divergences (${suppressed.length})</h2>`);
  if (suppressed.length) {
    out.push('<p class="meta">Accepted via the suppressions file; not failures, listed so nothing is hidden.</p>');
    out.push(table(['Signature', 'Count', 'Reason', 'Instruction'], suppressed.map((d, i) => [`<a href="#s${i + 1}">${code(d.signature)}</a>`, String(d.count), esc(d.suppressed!.reason), esc(instructionRef(d))])));
    out.push(`<details><summary>Details of suppressed divergences</summary>${suppressed.map((d, i) => divergenceCard(d, i + 1, `s${i + 1}`)).join('\n')}</details>`);
  } else out.push('<p>none</p>');

  out.push(`<h2>Oracle crashes (${r.oracleCrashes.length})</h2>`);
  out.push(r.oracleCrashes.length ? table(['Case', 'Message'], r.oracleCrashes.map((c) => [code(c.caseId), esc(c.message)])) : '<p>none</p>');
  out.push(`<h2>Assembler rejects (${r.assemblerRejects.reduce((s, a) => s + a.count, 0)})</h2>`);
  out.push(r.assemblerRejects.length ? table(['Source', 'Reason', 'Count'], r.assemblerRejects.map((a) => [code(a.source), esc(a.reason), String(a.count)])) : '<p>none</p>');
  out.push('<h2>Masked (architecturally undefined) flags</h2>');
  out.push(r.maskedFlags.length ? table(['Mnemonic', 'Flags', 'Times they differed'], r.maskedFlags.map((m) => [code(m.mnemonic), esc(m.flags), String(m.count)])) : '<p>none</p>');
  out.push('<h2>Sync rules in force</h2>');
  out.push(r.syncRules.length ? table(['Rule', 'Description'], r.syncRules.map((s) => [code(s.name), esc(s.description)])) : '<p>none</p>');
  return out.join('\n');
}

/** Transitional: the page is rewritten by root-cause group next. */
export function renderHtml(r: CampaignResult, _options: { writtenTo?: string } = {}): string {
  const active = r.divergences.filter((d) => !d.suppressed);
  const suppressed = r.divergences.filter((d) => d.suppressed);
  const cases = active.reduce((s, d) => s + d.count, 0);
  const verdict = active.length
    ? `<span class="verdict fail">FAIL: ${active.length} distinct divergence${active.length > 1 ? 's' : ''} (${cases} case${cases > 1 ? 's' : ''})</span>`
    : '<span class="verdict pass">PASS: no divergences</span>';
  const body: string[] = [];
  body.push(`<h1>difftest report ${code(r.runId)}${r.partial ? ' (PARTIAL)' : ''}</h1>`);
  if (r.partial) body.push(`<p class="partial">${esc(PARTIAL_NOTE)}</p>`);
  body.push(`<p>${verdict} <span class="meta">${suppressed.length} suppressed, ${r.oracleCrashes.length} oracle crash${r.oracleCrashes.length === 1 ? '' : 'es'}</span></p>`);
  const mono = new Set(['Run', 'Seed', 'Command']);
  body.push(`<table>${headerRows(r).map((h) => `<tr><th>${esc(h.label)}</th><td>${mono.has(h.label) ? code(h.value) : esc(h.value)}</td></tr>`).join('\n')}</table>`);
  body.push(`<h2>Divergences (${active.length})</h2>`);
  if (active.length) {
    body.push(table(['#', 'Signature', 'Count', 'First divergent instruction', 'Differs'], active.map((d, i) => [String(i + 1), `<a href="#d${i + 1}">${code(d.signature)}</a>`, String(d.count), esc(instructionRef(d)), esc(differingFieldsText(d))])));
    active.forEach((d, i) => body.push(divergenceCard(d, i + 1, `d${i + 1}`)));
  } else body.push('<p>none</p>');
  body.push(campaign(r, suppressed));
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>difftest report ${esc(r.runId)}</title>
<style>${CSS}</style>
</head>
<body><main>
${body.join('\n')}
</main></body>
</html>
`;
}
