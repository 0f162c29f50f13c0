/**
 * The explore run's report folder: result.json (everything, machine-readable) and summary.md
 * (coverage, then the disagreement groups by opcode map and prefix class, each with its count,
 * opcode bytes and an example encoding), plus the console's closing lines.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { coveragePercent, type ExploreResult } from '../harness/explore/explore-result.js';
import type { FindingGroup } from '../harness/explore/findings.js';

export const EXPLORE_REPORT_FILES = ['result.json', 'summary.md'] as const;

const n = (x: number) => x.toLocaleString('en-US');
const hex2 = (b: number) => b.toString(16).padStart(2, '0').toUpperCase();
/** Markdown table cell: no pipes or newlines. */
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** `F5 F7` or `00–3F, 80` for longer runs. */
export function opcodeList(opcodes: readonly number[]): string {
  const sorted = [...opcodes].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(j - i >= 2 ? `${hex2(sorted[i]!)}–${hex2(sorted[j]!)}` : sorted.slice(i, j + 1).map(hex2).join(' '));
    i = j + 1;
  }
  return parts.join(' ');
}

/** One line for a group: `VEX.0F38 C4.L0.W0.F3: QEMU executes, emulator #UD (fault; vector) ×896, opcodes F7; e.g. c4 e2 7a f7 00 sarx eax, [rax], eax`. */
export function groupLine(g: FindingGroup): string {
  const mnemonics = ` (${g.mnemonic})`;
  return `${g.map} ${g.prefixClass}: QEMU ${g.qemu}, emulator ${g.emulator} (${g.kind}: ${g.what}) ×${n(g.count)}, opcode${g.opcodes.length > 1 ? 's' : ''} ${opcodeList(g.opcodes)}${mnemonics}; e.g. ${g.example.bytes}  ${g.example.text}${g.hint ? `; ${g.hint}` : ''}`;
}

export function renderExploreMarkdown(r: ExploreResult): string {
  const t = r.coverage.totals;
  const tried = t.tailTried + t.tailSkipped === 0 ? 0 : (100 * t.tailTried) / (t.tailTried + t.tailSkipped);
  const lines: string[] = [
    '# difftest explore',
    '',
    `Reproduce: \`${r.command}\``,
    '',
    `QEMU ${r.qemu.implementation} (\`-cpu ${r.qemu.cpuModel}\`) against ${r.emulator.implementation} (model ${r.emulator.cpuModel}), ${r.startedAt}.`,
    `Parameters: maps ${r.parameters.maps.length ? r.parameters.maps.join(', ') : 'all'}; prefix classes ${r.parameters.classes.length ? r.parameters.classes.join(', ') : 'all'}` +
      `${r.parameters.opcodes ? `; opcodes ${r.parameters.opcodes}` : ''}; budget ${r.parameters.seconds} s; ${r.parameters.workers} worker(s); batch ${r.parameters.batch}; ` +
      `tunnel: skip after ${r.parameters.tunnel.sameBeforeSkip} equal outcomes, ${r.parameters.tunnel.nibbleSkips} nibble skips, first ${r.parameters.tunnel.fullBytes} bytes walked in full.`,
    '',
    '## Coverage',
    '',
    `${coveragePercent(t)} of the space walked: ${n(t.walksDone)} of ${n(t.walksTotal)} opcode rows (one per opcode value per map and prefix class) walked to their end, ` +
      `${t.seedsComplete} of ${t.seeds} map × prefix classes complete${r.interrupted ? ' (the walk was stopped before its end: budget or signal)' : ''}. ` +
      `${n(r.candidates)} candidates in ${r.walkSeconds.toFixed(1)} s (${n(Math.round(r.candidates / Math.max(r.walkSeconds, 1e-9)))}/s); ` +
      `past the opcode byte ${tried.toFixed(1)}% of the byte values were tried, the rest skipped through where outcomes and lengths stayed the same.`,
    '',
    '| map | classes (complete) | opcode rows walked | candidates | bytes tried / skipped |',
    '|---|---|---|---|---|',
    ...r.coverage.byMap.map((m) => `| ${m.map} | ${m.seeds} (${m.seedsComplete}) | ${n(m.walksDone)} / ${n(m.walksTotal)} | ${n(m.candidates)} | ${n(m.tailTried)} / ${n(m.tailSkipped)} |`),
    '',
    `Time: emulator and walk ${(r.timing.emulatorMs / 1000).toFixed(1)} s, QEMU batches ${(r.timing.oracleMs / 1000).toFixed(1)} s (${n(r.batches)} gdb round trips), comparing ${(r.timing.recordsMs / 1000).toFixed(1)} s; ` +
      `${n(r.discarded)} candidates run ahead and discarded after a misprediction.`,
    '',
    ...(r.oracleCrashes.length
      ? [
          '## QEMU crashes',
          '',
          `QEMU died on ${r.oracleCrashes.length} candidate(s) (each found by bisecting the batch it died in, then never sent again; the emulator's outcome is compared with "internal error" below):`,
          '',
          ...r.oracleCrashes.map((c) => `- \`${c.bytes}\` (${c.seed}): ${crashReason(c.message)}${c.presumedAlike ? `; ${n(c.presumedAlike)} candidate(s) of its form (any r/m, this one's later runs included) not sent, presumed to kill it as well` : ''}`),
          '',
        ]
      : []),
    ...(r.workerErrors.length ? ['## Workers that gave up', '', ...r.workerErrors.map((e) => `- ${e}`), ''] : []),
    '## Disagreements',
    '',
    `${n(r.disagreements)} candidates disagree, in ${r.groups.length} groups (by opcode map, prefix class, instruction, kind, each side's outcome and what differs). ` +
      `Kinds: **length** (one side needs more bytes than the other, or retires a different length), **fault** (a different exception, error code, CR2 or faulting RIP), ` +
      `**effect** (the same outcome, different registers, RFLAGS, selectors, data page or x87/SSE state).`,
    `Masked: ${n(r.maskedAgreements)} candidates agreed only after masking` +
      `${Object.keys(r.masked).length ? ` (${Object.entries(r.masked).map(([k, v]) => `${k} ×${n(v)}`).join(', ')})` : ''}: RFLAGS bits the SDM leaves undefined (iced-x86 flag info), RDTSC/RDTSCP/RDRAND/RDSEED results (declared sync rules).`,
    '',
  ];
  const maps = [...new Set(r.groups.map((g) => g.map))];
  for (const map of maps) {
    const groups = r.groups.filter((g) => g.map === map);
    lines.push(`### ${map} (${n(groups.reduce((a, g) => a + g.count, 0))})`, '');
    lines.push(
      '| prefix class | kind | QEMU | emulator | differs | count | opcodes (mnemonic) | example | disassembly (iced-x86) | example outcome, QEMU / emulator | CPU model says |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const g of groups) {
      const mnemonics = ` (${g.mnemonic})`;
      lines.push(
        `| ${cell(g.prefixClass)} | ${g.kind} | ${cell(g.qemu)} | ${cell(g.emulator)} | ${cell(g.what)} | ${n(g.count)} | ${opcodeList(g.opcodes)}${cell(mnemonics)} | \`${g.example.bytes}\` | \`${cell(g.example.text)}\` | ${cell(g.example.qemu)} / ${cell(g.example.emulator)} | ${cell(g.hint ?? '')} |`,
      );
    }
    lines.push('');
  }
  if (r.groups.length === 0) lines.push('None.', '');
  return `${lines.join('\n')}\n`;
}

export async function writeExploreReport(r: ExploreResult, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const json = path.join(dir, 'result.json');
  await writeFile(json, `${JSON.stringify(r, null, 2)}\n`);
  const md = path.join(dir, 'summary.md');
  await writeFile(md, renderExploreMarkdown(r));
  return [json, md];
}

/** What QEMU said when it died, without the per-process socket path. */
export function crashReason(message: string): string {
  const stderr = /QEMU stderr: (.*)$/.exec(message);
  return (stderr ? stderr[1]! : message).replace(/unix:\S+/g, 'unix:…').trim();
}

/** One console line per reason QEMU died, with the forms it died on. */
function crashSummary(r: ExploreResult, shown = 6): string[] {
  const byReason = new Map<string, string[]>();
  for (const c of r.oracleCrashes) {
    const reason = crashReason(c.message);
    byReason.set(reason, [...(byReason.get(reason) ?? []), c.bytes]);
  }
  return [...byReason].map(([reason, forms]) =>
    `difftest: QEMU died (${reason}) on ${forms.length} form(s): ${forms.slice(0, shown).join(', ')}${forms.length > shown ? ', …' : ''} (all in the report; each then skipped)`);
}

/** The console's closing lines. */
export function exploreConsoleSummary(r: ExploreResult, dir: string, top = 12): string {
  const t = r.coverage.totals;
  const lines = [
    `difftest: explored ${n(r.candidates)} candidates in ${r.walkSeconds.toFixed(1)} s (${n(Math.round(r.candidates / Math.max(r.walkSeconds, 1e-9)))}/s); coverage ${coveragePercent(t)} ` +
      `(${n(t.walksDone)} of ${n(t.walksTotal)} opcode rows, ${t.seedsComplete} of ${t.seeds} map × prefix classes complete)${r.interrupted ? '; stopped before the end (budget or signal)' : ''}`,
    ...crashSummary(r),
    ...r.workerErrors.map((e) => `difftest: a worker gave up: ${e}`),
    `difftest: ${n(r.disagreements)} disagreeing candidates in ${r.groups.length} groups${r.groups.length > top ? ` (largest ${top} below; all in the report)` : ''}`,
    ...r.groups.slice(0, top).map((g) => `  ${groupLine(g)}`),
    `difftest: report ${path.join(path.relative(process.cwd(), dir) || '.', 'summary.md')} (also result.json)`,
  ];
  return `${lines.join('\n')}\n`;
}
