import { GPR_NAMES, type MachineState } from '../../../contracts/machine-state.js';
import { fieldLabel } from '../../../reports/format.js';
import { CSS } from '../../../reports/html-style.js';
import { describeBisection, type BootResult } from './boot-result.js';
import { channelText, walkEnd } from './markdown.js';

/**
 * `report.html` of a boot lockstep: the same content as report.md, as one small static page (no
 * script): the mismatch on top with each differing register drawn bit by bit, the backward trace,
 * both states side by side, then the rules applied with their counts and how the run went.
 */

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const h64 = (v: bigint) => `0x${v.toString(16).padStart(16, '0')}`;
const spaced = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
const n = (x: number) => x.toLocaleString('en-US');

const PAGE_CSS = `
.bits{display:inline-grid;grid-template-columns:repeat(64,11px);gap:1px;margin:4px 0 2px}
.bits span{height:14px;font:9px/14px ui-monospace,monospace;text-align:center;background:#eef0f4;color:#555}
.bits span.one{background:#cfd6e4;color:#1d2330}.bits span.bad{background:#c62828;color:#fff}
.bitscale{display:grid;grid-template-columns:repeat(8,95px);font:10px ui-monospace,monospace;color:#777}
tr.differs td{background:#fde2e1}
ol.trace{margin:4px 0 12px;padding-left:20px}ol.trace li{margin:4px 0}
.in{margin-left:18px;color:#333}
`;

function table(head: string[], rows: string[][], cls = ''): string {
  return `<table${cls ? ` class="${cls}"` : ''}><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</table>`;
}

/** A register's 64 bits, high bit first, differing bits red (QEMU's value shown). */
function bitGrid(expected: string, actual: string, width: number): string {
  let e: bigint;
  let a: bigint;
  try {
    e = BigInt(expected);
    a = BigInt(actual);
  } catch {
    return '';
  }
  const cells: string[] = [];
  for (let i = width - 1; i >= 0; i--) {
    const eb = (e >> BigInt(i)) & 1n;
    const bad = eb !== ((a >> BigInt(i)) & 1n);
    cells.push(`<span class="${bad ? 'bad' : eb ? 'one' : ''}" title="bit ${i}: QEMU ${eb}, emulator ${(a >> BigInt(i)) & 1n}">${eb}</span>`);
  }
  const scale = width === 64 ? `<div class="bitscale">${[63, 55, 47, 39, 31, 23, 15, 7].map((b) => `<span>${b}</span>`).join('')}</div>` : '';
  return `<div>${scale}<div class="bits" style="grid-template-columns:repeat(${width},11px)">${cells.join('')}</div></div>`;
}

function states(before: MachineState, expected: MachineState, actual: MachineState): string {
  const rows: string[] = [];
  const line = (name: string, b: bigint, e: bigint, a: bigint) =>
    rows.push(`<tr${e !== a ? ' class="differs"' : ''}><th>${name}</th><td class="mono">${h64(b)}</td><td class="mono">${h64(e)}</td><td class="mono">${h64(a)}</td></tr>`);
  for (const g of GPR_NAMES) line(g.toUpperCase(), before.gpr[g], expected.gpr[g], actual.gpr[g]);
  line('RIP', before.rip, expected.rip, actual.rip);
  line('RFLAGS', before.rflags, expected.rflags, actual.rflags);
  for (const c of ['cr0', 'cr2', 'cr3', 'cr4', 'efer'] as const) line(c.toUpperCase(), before[c], expected[c], actual[c]);
  line('FS.base', before.fsBase, expected.fsBase, actual.fsBase);
  line('GS.base', before.gsBase, expected.gsBase, actual.gsBase);
  line('KGS.base', before.kernelGsBase, expected.kernelGsBase, actual.kernelGsBase);
  return `<table><tr><th>register</th><th>before</th><th>QEMU after</th><th>emulator after</th></tr>${rows.join('')}</table>`;
}

export function renderBootHtml(r: BootResult): string {
  const m = r.mismatch;
  const headline = m
    ? `First mismatch after ${n(r.result.compared)} matching instructions, at ${m.location}`
    : r.result.end === 'error'
      ? `Stopped by an error after ${n(r.result.compared)} matching instructions`
      : `No mismatch in ${n(r.result.compared)} instructions (${r.result.end})`;
  const out: string[] = [];
  out.push(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>difftest boot: ${esc(headline)}</title><style>${CSS}${PAGE_CSS}</style></head><body><main>`);
  out.push(`<h1>difftest boot</h1><div class="verdict ${m || r.result.end === 'error' ? 'fail' : 'pass'}">${esc(headline)}</div>`);
  out.push(table(['', ''], [
    ['Kernel', esc(r.kernel.version)],
    ['QEMU', esc(`${r.qemu.version}, -cpu ${r.qemu.cpu}, -m ${r.qemu.memoryMiB}M, ${r.qemu.icountMode}`)],
    ['System under test', esc(`${r.dut}${r.mutants.length ? ` with planted bug(s) ${r.mutants.join(', ')}` : ''}`)],
    ['Start', esc(`--from ${r.from.spec}: ${r.from.location} at QEMU instruction ${n(r.from.icount)}`)],
    ['Channel', esc(`${r.channel} (${channelText(r)}), ${n(Math.round(r.timings.instructionsPerSecond))} compared instructions/s`)],
    ['End', esc(`${r.result.end} at ${r.result.endLocation} (QEMU instruction ${n(r.result.icountEnd)})${r.result.error ? `: ${r.result.error}` : ''}`)],
  ], 'facts'));
  if (m) {
    out.push('<h2>The mismatch</h2>');
    out.push(`<p><b>Instruction #${n(m.index)}</b> after the start (QEMU instruction ${n(m.icount)}), <b>${esc(m.location)}</b>:</p>`);
    out.push(`<pre>${esc(`${h64(m.rip)}  ${spaced(m.bytes).padEnd(30)}  ${m.text}`)}</pre>`);
    if (m.explanation.length) out.push(`<ul>${m.explanation.map((e) => `<li>${esc(e)}</li>`).join('')}</ul>`);
    for (const d of m.diffs) {
      out.push(`<h4>${esc(fieldLabel(d.path))}: QEMU <code>${esc(d.expected)}</code>, emulator <code>${esc(d.actual)}</code> (bits ${esc(d.differingBits)})</h4>`);
      out.push(bitGrid(d.expected, d.actual, d.width));
      out.push(table(['bits', 'QEMU', 'emulator', ''], d.ranges.map((x) => [x.bits, `<code>${esc(x.expected)}</code>`, `<code>${esc(x.actual)}</code>`, x.status === 'WRONG' ? '<b>WRONG</b>' : 'ok'])));
    }
    if (m.memory.length) {
      out.push('<h4>Memory that differs</h4>');
      out.push(table(['address', 'QEMU', 'emulator', 'found by'], m.memory.map((x) => [
        `<code>phys ${h64(x.phys)}</code>${x.lin !== undefined ? `<br><code>virt ${h64(x.lin)}</code>` : ''}`,
        `<code>${spaced(x.expected)}</code>`, `<code>${spaced(x.actual)}</code>`,
        esc(`${x.source}${x.lastEmulatorWriter ? `; last written by the emulator at ${x.lastEmulatorWriter}` : ''}`),
      ])));
    }
    if (m.devices.length) out.push(`<h4>Device accesses that differ</h4><ul>${m.devices.map((d) => `<li>${esc(d)}</li>`).join('')}</ul>`);
    const b = r.memoryBisection;
    if (b) {
      const { heading, text } = describeBisection(b);
      out.push(`<h4>${esc(heading)}</h4><p>${esc(text)}</p>`);
      out.push(table(['channel', 'stretch', 'checkpoint every', 'result', 's'], b.levels.map((l) => [l.channel, `#${n(l.from)}-#${n(l.to)}`, l.channel === 'gdb' ? 'every write' : n(l.every), esc(l.outcome), l.seconds.toFixed(1)])));
    }
    if (m.pageWalks?.length) {
      out.push('<h4>Page walks</h4>');
      if (m.pageWalksNote) out.push(`<p>${esc(m.pageWalksNote)}</p>`);
      for (const w of m.pageWalks) {
        out.push(`<p><code>${h64(w.address)}</code> (${esc(w.why)}): QEMU ${esc(walkEnd(w.qemu))}; emulator ${esc(walkEnd(w.emulator))}</p>`);
        const rows: string[][] = [];
        for (let i = 0; i < Math.max(w.qemu.levels.length, w.emulator.levels.length); i++) {
          const q = w.qemu.levels[i];
          const e = w.emulator.levels[i];
          const same = q && e && q.value === e.value && q.entryAddr === e.entryAddr;
          rows.push([(q ?? e)!.name, q ? `<code>${h64(q.value)}</code> at <code>${h64(q.entryAddr)}</code>` : '-', q ? esc(q.flags) : '', e ? `<code>${h64(e.value)}</code> at <code>${h64(e.entryAddr)}</code>` : '-', e ? esc(e.flags) : '', same ? 'ok' : '<b>DIFFERS</b>']);
        }
        out.push(table(['entry', 'QEMU', 'flags', 'emulator', 'flags', ''], rows));
      }
    }
    out.push('<h2>Where the value came from</h2>');
    if (!m.trace.length) out.push('<p>No trace: the mismatching instruction is outside the remembered window.</p>');
    for (const t of m.trace) {
      out.push(`<h4>${esc(t.summary)}</h4><ol class="trace">`);
      for (const s of t.steps) {
        const inputs = s.inputs.map((i) => i.kind === 'address'
          ? `<div class="in">computes ${esc(i.what)} = <code>${esc(i.value)}</code></div>`
          : `<div class="in">reads ${esc(i.what)} = <code>${esc(i.value)}</code><br>&nbsp;&nbsp;last written by ${esc(i.writer)}${i.note ? `<br>&nbsp;&nbsp;<b>note:</b> ${esc(i.note)}` : ''}</div>`);
        out.push(`<li><code>#${s.index}</code> ${esc(s.location)}: <code>${esc(s.text)}</code>${inputs.join('')}</li>`);
      }
      out.push('</ol>');
    }
    out.push('<h2>Both states</h2>', states(m.before, m.expected, m.actual));
    out.push(`<p>QEMU's step: ${esc(m.qemuStop)}; the emulator's: ${esc(m.emulatorStop)}. Undefined flags masked: <code>0x${m.flagMask.toString(16)}</code>.</p>`);
  }
  out.push('<h2>Reproduce</h2>', `<pre>${esc(r.reproduce.command)}</pre>`);
  if (r.reproduce.nearby) out.push(`<p>Closer to the mismatch: <code>${esc(r.reproduce.nearby)}</code>${r.reproduce.nearbyNote ? ` (${esc(r.reproduce.nearbyNote)})` : ''}</p>`);
  if (r.lastInstructions.length) {
    out.push(`<details><summary><b>The last ${r.lastInstructions.length} instructions</b> (both machines ran these and agreed after each but the mismatching one)</summary>`);
    out.push(`<pre>${r.lastInstructions.map((l) => esc(`${m && l.index === m.index ? '>>' : '  '} #${String(l.index).padEnd(8)} ${h64(l.rip)}  ${l.location.padEnd(44)} ${l.text}${[...l.followed.map((f) => ` [follows QEMU: ${f}]`), ...l.devices.map((d) => ` ${d}`)].join('')}`)).join('\n')}</pre></details>`);
  }
  out.push('<h2>Declared rules</h2>');
  out.push(table(['rule', 'applied', 'what it does'], r.rules.map((x) => [`<code>${esc(x.name)}</code>`, n(x.count), esc(x.description)])));
  if (r.maskedFlags.length) out.push(`<p>Undefined flags that differed and were masked: ${esc(r.maskedFlags.map((x) => `${x.mnemonic} ×${x.count}`).join(', '))}.</p>`);
  out.push('<h2>How the run went</h2>');
  out.push(table(['', ''], [
    ['QEMU to the start point', `${r.timings.reachStartSeconds.toFixed(1)} s`],
    ['Snapshot, transplant', `${((r.timings.snapshot.registersMs + r.timings.snapshot.msrsMs + r.timings.snapshot.ramMs) / 1000).toFixed(1)} s, ${r.timings.transplantMs.toFixed(0)} ms`],
    ['Lockstep', `${r.timings.lockstepSeconds.toFixed(1)} s`],
    ['Transplant read back', esc(`${r.transplant.stateDiffs.length ? `${r.transplant.stateDiffs.length} fields differ (${r.transplant.stateDiffs.join(', ')})` : 'all fields equal'}; ${r.transplant.ramPagesDiffering ? `${r.transplant.ramPagesDiffering} pages differ` : 'all pages equal'}`)],
    ['Not carried', esc(r.transplant.notCarried.join('; ') || 'nothing')],
    ['Checkpoints', esc(r.checkpoints.map((c) => `#${n(c.index)}: ${c.pagesDiffering} pages, ${c.systemDiffs.join(', ') || 'no system register'} differing`).join('; ') || 'none')],
    ['Serial consoles', esc(`${r.serial.qemuFile} (last: ${r.serial.qemuLastLine || 'empty'}), ${r.serial.emulatorFile} (last: ${r.serial.emulatorLastLine || 'empty'})`)],
  ], 'facts'));
  if (r.notes.length) out.push(`<div class="note"><ul>${r.notes.map((x) => `<li>${esc(x)}</li>`).join('')}</ul></div>`);
  out.push('</main></body></html>\n');
  return out.join('\n');
}
