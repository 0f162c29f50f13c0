/**
 * `index.html`: self-contained (inline CSS and script, no external resources) so it opens from
 * disk, and small for thousands of divergences: the groups and one summary row per signature
 * are HTML; each divergence's details are a compact JSON record rendered by html-client.js when
 * its row is opened. Every piece of data in the HTML goes through `esc`; the JSON through
 * `embedJson`, and the client escapes what it renders.
 */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { CampaignResult, DivergenceReport } from '../harness/campaign-result.js';
import {
  PARTIAL_NOTE, coverageHeadline, coverageView, differingFieldsText, divergentInstruction, fieldTags, headerRows,
  instructionLabel, instructionRef, mnemonicOf,
} from './format.js';
import { GROUPING_TEXT, groupSections, sectionCounts, verdictText, type GroupSection } from './groups.js';
import { detailData, embedJson } from './html-data.js';
import { CSS } from './html-style.js';
import { replayNote, usesReportDir } from './paths.js';
import { verdictWords, whoseBugLine } from './whose-bug.js';

/** The browser script, inlined: a page opened from disk cannot load side files with fetch(). */
const CLIENT = readFileSync(new URL('./html-client.js', import.meta.url), 'utf8');

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const code = (s: string) => `<code>${esc(s)}</code>`;
const n = (x: number) => x.toLocaleString('en-US');

function table(head: string[], rows: string[][], rowClass: (i: number) => string = () => '', cls = ''): string {
  const th = head.map((h) => `<th>${esc(h)}</th>`).join('');
  const body = rows.map((r, i) => `<tr${rowClass(i) ? ` class="${rowClass(i)}"` : ''}>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

export interface HtmlOptions {
  /** The report folder as seen from where it was written (`reports/runs/<run>`), for the replay note. */
  readonly writtenTo?: string;
}

/** One summary row per signature (`d<index in result.divergences>`); `data-*` are what the script filters and sorts on. */
function signatureRow(d: DivergenceReport, i: number, grouping: boolean, whose: boolean): string {
  const ins = divergentInstruction(d);
  const where = ins ? `${instructionLabel(d.index, d.program.length)}: ${code(ins.text)}` : esc(instructionRef(d));
  return (
    `<tr id="d${i}" data-m="${esc(mnemonicOf(d))}" data-f="${esc(fieldTags(d).join(' '))}" data-c="${d.count}">` +
    `<td><button type="button">▸</button></td><td>${code(d.signature)}</td><td>${where}</td>` +
    `<td>${esc(differingFieldsText(d))}</td><td>${d.count}</td>${grouping ? `<td>${d.grouping ?? '–'}</td>` : ''}` +
    (whose ? `<td${d.whoseBug ? ` title="${esc(whoseBugLine(d.whoseBug))}"` : ''}>${d.whoseBug ? esc(verdictWords(d.whoseBug)) : '–'}</td>` : '') +
    '</tr>'
  );
}

function groupBody(s: GroupSection, index: Map<DivergenceReport, number>): string {
  const g = s.group;
  const out: string[] = [];
  if (s.suppressedReason) out.push(`<p><b>Suppressed:</b> ${esc(s.suppressedReason)}</p>`);
  else if (s.divergences[0]?.suppressed) {
    out.push(`<p><b>Suppressed</b>, each for its own reason:</p><ul>${s.divergences.map((d) => `<li>${code(d.signature)}: ${esc(d.suppressed?.reason ?? '')}</li>`).join('')}</ul>`);
  }
  if (s.kind === 'group') {
    const facts = [
      `Necessary features: ${g.necessary.length ? g.necessary.map((f) => `<span class="chip">${esc(f)}</span>`).join('') : 'none found'}`,
      `merged on ${code(g.key)}`,
    ];
    const analyzed = s.divergences.find((d) => d.signature === g.analyzed);
    if (analyzed) facts.push(`inferred on <a href="#d${index.get(analyzed)}">${code(analyzed.signature)}</a>`);
    else facts.push('no signature of it was analyzed in time');
    out.push(`<p>${facts.join('; ')}</p>`);
    if (g.whoseBug) out.push(`<p class="whose"><b>Whose bug:</b> ${esc(whoseBugLine(g.whoseBug).replace(/^whose bug: /, ''))}</p>`);
    if (g.experiments.length) {
      out.push(table(
        ['Feature flipped', 'Variant', 'Outcome'],
        g.experiments.map((e) => [esc(e.feature), esc(e.change), esc(e.outcome)]),
        (i) => (g.experiments[i]!.outcome === 'agrees' ? 'agrees' : ''),
      ));
    }
  }
  // results from before grouping have no "grouped as" to show
  const grouping = s.divergences.some((d) => d.grouping !== undefined);
  // results from before the third opinion (or where it was not asked for) have no verdicts
  const whose = s.divergences.some((d) => d.whoseBug !== undefined);
  const rows = s.divergences.map((d) => signatureRow(d, index.get(d)!, grouping, whose));
  const head = ['', 'Signature', 'First divergent instruction', 'Differs', 'Cases', ...(grouping ? ['Grouped as'] : []), ...(whose ? ['Whose bug'] : [])];
  out.push(`<table class="sigs"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table>`);
  return out.join('\n');
}

function groupSection(s: GroupSection, order: number, open: boolean, index: Map<DivergenceReport, number>): string {
  const g = s.group;
  const id = s.suppressedReason !== undefined || s.divergences[0]?.suppressed ? `suppressed-${g.id}` : `group-${g.id}`;
  const title = s.kind === 'ungrouped' ? '<span class="gid">No group</span>' : `<span class="gid">${esc(g.id)}</span>`;
  return (
    `<details class="group${s.divergences[0]?.suppressed ? ' suppressed' : ''}" id="${esc(id)}" data-g="${esc(g.id)}" data-c="${s.cases}" data-n="${s.divergences.length}" data-o="${order}"${open ? ' open' : ''}>\n` +
    `<summary>${title} <span class="hyp">${esc(g.hypothesis)}</span> <span class="meta">— ${esc(sectionCounts(s))}</span></summary>\n` +
    `<div class="gbody">\n${groupBody(s, index)}\n</div></details>`
  );
}

function options(values: Map<string, number>, label: (v: string) => string = (v) => v): string {
  return [...values].map(([v, c]) => `<option value="${esc(v)}">${esc(label(v))} (${n(c)})</option>`).join('');
}

function tally(xs: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return new Map([...m].sort((a, b) => a[0].localeCompare(b[0], 'en', { numeric: true })));
}

/** Filters and sorts; hidden until the script runs (without it they could do nothing). */
function controls(r: CampaignResult, sections: readonly GroupSection[]): string {
  const mnemonics = tally(r.divergences.map(mnemonicOf));
  const fields = tally(r.divergences.flatMap(fieldTags));
  const groups = new Map<string, number>();
  for (const s of sections) groups.set(s.group.id, (groups.get(s.group.id) ?? 0) + s.divergences.length);
  return `<div class="controls" id="controls" hidden>
<label>Instruction <select id="f-m"><option value="">all</option>${options(mnemonics)}</select></label>
<label>Field <select id="f-f"><option value="">all</option>${options(fields)}</select></label>
<label>Group <select id="f-g"><option value="">all</option>${options(groups)}</select></label>
<label>Search <input id="f-q" type="search" placeholder="text in a row"></label>
<label>Signatures by <select id="sort"><option value="c">cases</option><option value="s">signature</option><option value="m">instruction</option><option value="f">field</option></select></label>
<label>Groups by <select id="gsort"><option value="c">cases</option><option value="n">signatures</option><option value="o">rank</option></select></label>
<button id="open-all" type="button">expand all</button><button id="close-all" type="button">collapse all</button>
<span id="shown" class="meta"></span>
</div>`;
}

const GROUPING_LEGEND = `Grouped as: ${Object.entries(GROUPING_TEXT).map(([k, v]) => `<b>${k}</b>: ${esc(v)}`).join('; ')}. `;
const OPEN_HINT = 'Open a row (▸) for its program, bit-level diff, states and replay command; #all at the end of the address opens every one.';

function campaign(r: CampaignResult): string {
  const out: string[] = [];
  const cov = coverageView(r);
  out.push(`<h2>Coverage: ${esc(coverageHeadline(cov))}</h2>`);
  if (cov.missing.length) out.push(`<p>Not exercised (${n(cov.missing.length)}):</p><ul class="rows">${cov.missing.map((c) => `<li>${code(c)}</li>`).join('')}</ul>`);
  else if (cov.total > 0) out.push('<p>Every generatable row was exercised.</p>');
  if (cov.exercised.length) out.push(`<details><summary>Exercised rows (${n(cov.exercised.length)}), with how many generated instructions</summary><ul class="rows">${cov.exercised.map((c) => `<li>${code(c.row)} <span class="muted">×${c.count}</span></li>`).join('')}</ul></details>`);

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

/** Details past this size are embedded gzipped (smaller reports stay plain JSON, readable and greppable). */
export const GZIP_DETAILS_FROM = 64 * 1024;

/** The details for html-client.js, as JSON or, when large, gzip in base64 (about a third of the size). */
function detailScript(r: CampaignResult): string {
  const json = embedJson(detailData(r));
  if (json.length < GZIP_DETAILS_FROM) return `<script type="application/json" id="difftest-data">${json}</script>`;
  const packed = gzipSync(json, { level: 9 }).toString('base64');
  return `<script type="application/octet-stream" id="difftest-data" data-encoding="gzip+base64">${packed}</script>`;
}

export function renderHtml(r: CampaignResult, opts: HtmlOptions = {}): string {
  const g = groupSections(r);
  const index = new Map(r.divergences.map((d, i) => [d, i]));
  const verdict = verdictText(g, r.unlocated?.count, r.testsRun);
  const suppressedSigs = g.suppressed.reduce((s, x) => s + x.divergences.length, 0);
  const body: string[] = [];
  body.push(`<h1>difftest report ${code(r.runId)}${r.partial ? ' (PARTIAL)' : ''}</h1>`);
  if (r.partial) body.push(`<p class="partial">${esc(PARTIAL_NOTE)}</p>`);
  body.push(
    `<p><span class="verdict ${verdict.pass ? 'pass' : 'fail'}">${esc(verdict.text)}</span> <span class="meta">` +
      `${g.suppressed.length} suppressed group${g.suppressed.length === 1 ? '' : 's'} (${suppressedSigs} signature${suppressedSigs === 1 ? '' : 's'}), ` +
      `${r.oracleCrashes.length} oracle crash${r.oracleCrashes.length === 1 ? '' : 'es'}</span></p>`,
  );
  const mono = new Set(['Run', 'Seed', 'Command']);
  body.push(`<table class="facts">${headerRows(r).map((h) => `<tr><th>${esc(h.label)}</th><td>${mono.has(h.label) ? code(h.value) : esc(h.value)}</td></tr>`).join('\n')}</table>`);
  if (usesReportDir(r)) {
    body.push(`<p class="note">${esc(replayNote(opts.writtenTo))}<span id="replay-here" hidden><br>Opened from disk: the commands shown use this page's folder, <code></code>; run them from a difftest checkout.</span></p>`);
  }
  body.push(controls(r, [...g.active, ...g.suppressed]));
  body.push('<noscript><p class="note">Filters and each divergence\'s details need JavaScript; summary.md and result.json have the same data.</p></noscript>');
  const grouped = g.active.filter((s) => s.kind === 'group').length;
  body.push(grouped || g.active.length === 0 ? `<h2>Root-cause groups (${grouped})</h2>` : `<h2>Divergences (${g.active[0]!.divergences.length}; not grouped by root cause)</h2>`);
  if (g.active.length) {
    body.push(`<p class="meta">${r.divergences.some((d) => d.grouping !== undefined) ? GROUPING_LEGEND : ''}${OPEN_HINT}</p>`);
    body.push(`<div class="groups">\n${g.active.map((s, i) => groupSection(s, i, i === 0, index)).join('\n')}\n</div>`);
  } else body.push('<p>none</p>');
  body.push(`<h2>Suppressed groups (${g.suppressed.length})</h2>`);
  if (g.suppressed.length) {
    body.push('<p class="meta">Accepted via the suppressions file; not failures, listed so nothing is hidden.</p>');
    body.push(`<div class="groups">\n${g.suppressed.map((s, i) => groupSection(s, i, false, index)).join('\n')}\n</div>`);
  } else body.push('<p>none</p>');
  body.push(campaign(r));
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
</main>
${detailScript(r)}
<script>${CLIENT}</script>
</body>
</html>
`;
}
