import { fieldLabel } from '../../../reports/format.js';
import { mdCode, mdFence, mdText } from '../../../reports/markdown.js';
import { GPR_NAMES, type MachineState } from '../../../contracts/machine-state.js';
import { describeBisection, type BootResult } from './boot-result.js';

/** `report.md` of a boot lockstep: the first mismatch on top, explained; then how the run went. */

const h64 = (v: bigint) => `0x${v.toString(16).padStart(16, '0')}`;
const spaced = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

type Walk = NonNullable<NonNullable<BootResult['mismatch']>['pageWalks']>[number]['qemu'];

/** How a walk ended, with the physical address when it reached a page. */
export function walkEnd(w: Walk): string {
  return w.phys !== undefined ? `${w.end} at phys 0x${w.phys.toString(16)} (CR3 0x${w.cr3.toString(16)})` : `${w.end} (CR3 0x${w.cr3.toString(16)})`;
}

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function statesBlock(before: MachineState, expected: MachineState, actual: MachineState): string {
  const rows: string[] = [`${'register'.padEnd(10)} ${'before'.padEnd(18)} ${'QEMU after'.padEnd(18)} ${'emulator after'.padEnd(18)}`];
  const line = (name: string, b: bigint, e: bigint, a: bigint) =>
    rows.push(`${name.padEnd(10)} ${h64(b)} ${h64(e)} ${h64(a)}${e !== a ? '  <-- differs' : ''}`);
  for (const g of GPR_NAMES) line(g.toUpperCase(), before.gpr[g], expected.gpr[g], actual.gpr[g]);
  line('RIP', before.rip, expected.rip, actual.rip);
  line('RFLAGS', before.rflags, expected.rflags, actual.rflags);
  for (const c of ['cr0', 'cr2', 'cr3', 'cr4', 'efer'] as const) line(c.toUpperCase(), before[c], expected[c], actual[c]);
  line('FS.base', before.fsBase, expected.fsBase, actual.fsBase);
  line('GS.base', before.gsBase, expected.gsBase, actual.gsBase);
  line('KGS.base', before.kernelGsBase, expected.kernelGsBase, actual.kernelGsBase);
  return mdFence(rows.join('\n'));
}

const CHANNEL_TEXT: Record<BootResult['channel'], string> = {
  gdb: "per-instruction single steps over QEMU's gdb stub",
  log: "QEMU's per-instruction register trace; memory compared at checkpoints",
  block: "QEMU's register trace at translation-block ends; memory compared at checkpoints; a difference located on the log channel",
};

/** What the run's channel compared: with a second QEMU as the DUT, the block channel compares at checkpoints only. */
export function channelText(r: BootResult): string {
  const pair = r.dut.startsWith('qemu');
  if (pair && r.channel === 'block') return 'both QEMUs run freely to the same exact instruction counts, where registers, descriptor caches and all of RAM are compared';
  return CHANNEL_TEXT[r.channel];
}

export function renderBootMarkdown(r: BootResult): string {
  const out: string[] = [];
  const m = r.mismatch;
  const headline = m
    ? `First mismatch after ${r.result.compared.toLocaleString('en-US')} matching instructions, at ${m.location}`
    : r.result.end === 'error'
      ? `Boot lockstep stopped by an error after ${r.result.compared.toLocaleString('en-US')} matching instructions`
      : `No mismatch in ${r.result.compared.toLocaleString('en-US')} instructions (${r.result.end})`;
  out.push(`# difftest boot: ${mdText(headline)}`, '');
  out.push(table(['', ''], [
    ['Kernel', mdText(r.kernel.version)],
    ['QEMU', mdText(`${r.qemu.version}, -cpu ${r.qemu.cpu}, -m ${r.qemu.memoryMiB}M, ${r.qemu.icountMode}`)],
    ['Command line', mdCode(r.qemu.append)],
    ['System under test', mdText(`${r.dut}${r.mutants.length ? ` with planted bug(s) ${r.mutants.join(', ')}` : ''}`)],
    ['Start', mdText(`--from ${r.from.spec}: ${r.from.location} at QEMU instruction ${r.from.icount.toLocaleString('en-US')}`)],
    ['Channel', mdText(`${r.channel} (${channelText(r)}), ${Math.round(r.timings.instructionsPerSecond).toLocaleString('en-US')} compared instructions/s`)],
    ['End', mdText(`${r.result.end} at ${r.result.endLocation} (QEMU instruction ${r.result.icountEnd.toLocaleString('en-US')})${r.result.error ? `: ${r.result.error}` : ''}`)],
    ['Covered', mdText(`${r.result.compared.toLocaleString('en-US')} compared instructions = ${(r.result.icountEnd - r.result.icountStart).toLocaleString('en-US')} QEMU instructions (a REP run to its end counts once here, each iteration there)`)],
  ]));
  out.push('');
  if (m) {
    out.push(`## The mismatch`, '');
    out.push(`**Instruction #${m.index.toLocaleString('en-US')}** after the start (QEMU had retired ${m.icount.toLocaleString('en-US')} instructions since reset once it ran), **${mdText(m.location)}** (${mdCode(h64(m.rip))}):`, '');
    out.push(mdFence(`${h64(m.rip)}  ${spaced(m.bytes).padEnd(30)}  ${m.text}`, 'x86asm'), '');
    for (const e of m.explanation) out.push(`- ${mdText(e)}`);
    if (m.explanation.length) out.push('');
    if (m.diffs.length) {
      out.push('### What differs', '');
      for (const d of m.diffs) {
        out.push(`**${mdText(fieldLabel(d.path))}**: QEMU ${mdCode(d.expected)}, emulator ${mdCode(d.actual)} (bits ${mdText(d.differingBits)} differ)`, '');
        out.push(table(['bits', 'QEMU', 'emulator', ''], d.ranges.map((x) => [x.bits, mdCode(x.expected), mdCode(x.actual), x.status])), '');
      }
    }
    if (m.memory.length) {
      out.push('### Memory that differs', '');
      const lines = m.memory.flatMap((x) => [
        `phys ${h64(x.phys)}${x.lin !== undefined ? ` (virt ${h64(x.lin)})` : ''}  [${x.source}]`,
        `  QEMU      ${spaced(x.expected)}`,
        `  emulator  ${spaced(x.actual)}`,
        ...(x.lastEmulatorWriter ? [`  last written by the emulator at ${x.lastEmulatorWriter}`] : []),
      ]);
      out.push(mdFence(lines.join('\n')), '');
    }
    if (m.devices.length) out.push('### Device accesses that differ', '', ...m.devices.map((d) => `- ${mdText(d)}`), '');
    const b = r.memoryBisection;
    if (b) {
      const { heading, text } = describeBisection(b);
      out.push(`### ${heading}`, '', mdText(text), '');
      out.push(table(['channel', 'stretch', 'checkpoint every', 'result', 's'], b.levels.map((l) => [l.channel, `#${l.from.toLocaleString('en-US')}-#${l.to.toLocaleString('en-US')}`, l.channel === 'gdb' ? 'every write' : l.every.toLocaleString('en-US'), mdText(l.outcome), l.seconds.toFixed(1)])), '');
    }
    if (m.pageWalks?.length) {
      out.push('### Page walks', '');
      if (m.pageWalksNote) out.push(mdText(m.pageWalksNote), '');
      for (const w of m.pageWalks) {
        out.push(`**${mdCode(h64(w.address))}** (${mdText(w.why)}): QEMU ${mdText(walkEnd(w.qemu))}, emulator ${mdText(walkEnd(w.emulator))}`, '');
        const n = Math.max(w.qemu.levels.length, w.emulator.levels.length);
        const rows: string[][] = [];
        for (let i = 0; i < n; i++) {
          const q = w.qemu.levels[i];
          const e = w.emulator.levels[i];
          const same = q && e && q.value === e.value && q.entryAddr === e.entryAddr;
          rows.push([(q ?? e)!.name, q ? `${mdCode(h64(q.value))} at ${mdCode(h64(q.entryAddr))}` : '-', q ? mdText(q.flags) : '', e ? `${mdCode(h64(e.value))} at ${mdCode(h64(e.entryAddr))}` : '-', e ? mdText(e.flags) : '', same ? 'ok' : 'DIFFERS']);
        }
        out.push(table(['entry', 'QEMU', 'flags', 'emulator', 'flags', ''], rows), '');
      }
    }
    out.push('### Where the value came from', '');
    if (!m.trace.length) out.push('No trace: the mismatching instruction is outside the remembered window.', '');
    for (const t of m.trace) {
      out.push(`**${mdText(t.summary)}**`, '');
      const lines: string[] = [];
      for (const s of t.steps) {
        lines.push(`#${s.index} ${s.location}: ${s.text}`);
        for (const i of s.inputs) {
          if (i.kind === 'address') {
            lines.push(`    computes ${i.what} = ${i.value}`);
            continue;
          }
          lines.push(`    reads ${i.what} = ${i.value}`);
          lines.push(`        last written by ${i.writer}`);
          if (i.note) lines.push(`        NOTE: ${i.note}`);
        }
      }
      out.push(mdFence(lines.join('\n')), '');
    }
    out.push('### Machine state around the instruction', '');
    out.push(statesBlock(m.before, m.expected, m.actual), '');
    out.push(`QEMU's step: ${mdText(m.qemuStop)}; the emulator's: ${mdText(m.emulatorStop)}. Undefined flags masked for this instruction: ${mdCode(`0x${m.flagMask.toString(16)}`)}.`, '');
  }
  out.push('## Reproduce', '');
  out.push(mdFence(r.reproduce.command, 'sh'));
  if (r.reproduce.nearby) out.push('', `Closer to the mismatch: ${mdCode(r.reproduce.nearby)}${r.reproduce.nearbyNote ? ` (${mdText(r.reproduce.nearbyNote)})` : ''}`);
  out.push('');
  const n = r.lastInstructions.length;
  if (n) {
    out.push(`## The last ${n} instructions`, '');
    out.push('Both machines executed these, in this order, and agreed after each but the last.', '');
    const rows = r.lastInstructions.map((l) => {
      const mark = m && l.index === m.index ? '>>' : '  ';
      const extra = [...l.followed.map((f) => `[follows QEMU: ${f}]`), ...l.devices].join(' ');
      return `${mark} #${String(l.index).padEnd(8)} ${h64(l.rip)}  ${l.location.padEnd(44)} ${l.text}${extra ? `   ${extra}` : ''}`;
    });
    out.push(mdFence(rows.join('\n'), 'x86asm'), '');
  }
  out.push('## How the run went', '');
  out.push(table(['', ''], [
    ['Assets', `${r.timings.assetsSeconds.toFixed(1)} s`],
    ['QEMU to the start point', `${r.timings.reachStartSeconds.toFixed(1)} s`],
    ['Snapshot (registers, MSRs, RAM)', `${r.timings.snapshot.registersMs.toFixed(0)} ms, ${r.timings.snapshot.msrsMs.toFixed(0)} ms, ${r.timings.snapshot.ramMs.toFixed(0)} ms`],
    ['Transplant into the emulator', `${r.timings.transplantMs.toFixed(0)} ms`],
    ['Lockstep', `${r.timings.lockstepSeconds.toFixed(1)} s for ${r.result.compared.toLocaleString('en-US')} instructions`],
  ]), '');
  out.push('### Transplant', '');
  out.push(`Read back from the emulator: ${r.transplant.stateDiffs.length ? `**${r.transplant.stateDiffs.length} fields differ** (${mdText(r.transplant.stateDiffs.join(', '))})` : 'every register, descriptor cache and table register equal to QEMU\'s'}; RAM: ${r.transplant.ramPagesDiffering ? `**${r.transplant.ramPagesDiffering} pages differ**` : 'all pages equal'}; MSRs loaded: ${mdText(r.transplant.msrsLoaded.join(', ') || 'none')}.`, '');
  for (const c of r.transplant.notCarried) out.push(`- Not carried: ${mdText(c)}`);
  out.push('');
  out.push('### Declared rules', '');
  out.push(table(['rule', 'applied', 'what it does'], r.rules.map((x) => [mdCode(x.name), String(x.count), mdText(x.description)])), '');
  if (r.maskedFlags.length) out.push(`Undefined flags that differed and were masked: ${mdText(r.maskedFlags.map((x) => `${x.mnemonic} ×${x.count}`).join(', '))}.`, '');
  if (r.checkpoints.length) {
    out.push('### Full-memory checkpoints', '');
    out.push(table(['after instruction', 'pages differing', 'system registers differing', 'ms'], r.checkpoints.map((c) => [c.index.toLocaleString('en-US'), String(c.pagesDiffering), mdText(c.systemDiffs.join(', ') || 'none'), c.ms.toFixed(0)])), '');
  }
  out.push('### Serial consoles', '');
  out.push(`QEMU's is in ${mdCode(r.serial.qemuFile)} (last line: ${mdCode(r.serial.qemuLastLine || '(empty)')}), the emulator's in ${mdCode(r.serial.emulatorFile)} (last line: ${mdCode(r.serial.emulatorLastLine || '(empty)')}).`, '');
  if (r.notes.length) out.push('### Notes', '', ...r.notes.map((x) => `- ${mdText(x)}`), '');
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n')}\n`;
}
