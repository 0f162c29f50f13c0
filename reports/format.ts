/**
 * Shared, renderer-independent view of a campaign result: every report format (Markdown, HTML,
 * JUnit) renders these rows, so they all say the same thing. Nothing here escapes text; each
 * renderer escapes for its own syntax.
 */
import type { CampaignResult, DivergenceReport } from '../harness/campaign-result.js';
import { bitRangeTable, differingBits, differingLanes, flagNames, type BitRangeRow, type FieldDiff } from '../harness/compare.js';
import { GPR_NAMES, type MachineState } from '../contracts/machine-state.js';
import { MUTANT_DESCRIPTIONS } from '../emulator/mutants.js';
import { thirdOpinionText } from './whose-bug.js';

/** `0x` + hex, zero-padded to the field width (64 bits → 16 digits). */
export function hexWidth(v: bigint, width = 64): string {
  return `0x${v.toString(16).padStart(Math.ceil(width / 4), '0')}`;
}

/** Bytes as spaced lowercase hex: `4c 03 2d ef ff 00 00`. */
export function spacedBytes(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}

/** `gpr.r13` → `R13`, `rflags` → `RFLAGS`, `seg.cs.base` → `CS.base`, `sse.xmm[3]` → `XMM3`. */
export function fieldLabel(path: string): string {
  if (path.startsWith('gpr.')) return path.slice(4).toUpperCase();
  if (path.startsWith('seg.')) {
    const [, seg, part] = path.split('.');
    return `${seg!.toUpperCase()}.${part}`;
  }
  const xmm = /^sse\.xmm\[(\d+)\]$/.exec(path);
  if (xmm) return `XMM${xmm[1]}`;
  // physical x87 registers (MachineState's order): R(i) is ST((i - TOP) & 7) and MMi
  const st = /^fpu\.st\[(\d+)\]$/.exec(path);
  if (st) return `x87 R${st[1]}`;
  const named: Record<string, string> = { 'fpu.fcw': 'FCW', 'fpu.fsw': 'FSW', 'fpu.ftw': 'FTW', 'sse.mxcsr': 'MXCSR' };
  if (named[path]) return named[path];
  if (['rip', 'rflags', 'efer'].includes(path) || /^cr\d$/.test(path)) return path.toUpperCase();
  return path;
}

/** A count as people read it: `12,400`. */
export function countText(n: number): string {
  return n.toLocaleString('en-US');
}

/** `1,531` for rates of 100/s and more, `12.5` below. */
function rate(n: number): string {
  return n >= 100 ? countText(Math.round(n)) : n.toFixed(1);
}

/** Seconds spent testing: `testingSeconds` when the campaign measured it, else the wall time. */
function testingTime(r: CampaignResult): number {
  return r.testingSeconds ?? r.seconds;
}

/** Tests per second of testing (testsRun / testingSeconds), start-up and minimization left out. */
export function testsPerSecond(r: CampaignResult): string {
  const s = testingTime(r);
  return s > 0 ? rate(r.testsRun / s) : 'n/a';
}

/**
 * The run's rates and times in one line, the testing rate first and the wall time beside it:
 * `12,400 tests in 8.1 s of testing (1,531/s); 10.9 s wall: 0.7 s start-up, 1.9 s minimizing`.
 * Results from before `testingSeconds` existed say what their rate includes.
 */
export function ratesText(r: CampaignResult): string {
  const tests = `${countText(r.testsRun)} test${r.testsRun === 1 ? '' : 's'}`;
  if (r.testingSeconds === undefined) {
    return `${tests} in ${r.seconds.toFixed(1)} s wall (${testsPerSecond(r)}/s, start-up and minimizing included)`;
  }
  const parts = [
    ...(r.startupSeconds !== undefined ? [`${r.startupSeconds.toFixed(1)} s start-up`] : []),
    ...(r.minimizeSeconds !== undefined ? [`${r.minimizeSeconds.toFixed(1)} s minimizing`] : []),
  ];
  return `${tests} in ${r.testingSeconds.toFixed(1)} s of testing (${testsPerSecond(r)}/s); ${r.seconds.toFixed(1)} s wall${parts.length ? `: ${parts.join(', ')}` : ''}`;
}

/** Planted bugs switched on, each with what it does when the emulator knows it. */
export function mutantsText(r: CampaignResult): string {
  if (r.dut.mutants.length === 0) return 'none';
  const known: Readonly<Record<string, string>> = MUTANT_DESCRIPTIONS;
  return r.dut.mutants.map((m) => (known[m] ? `${m} (${known[m]})` : m)).join('; ');
}

/** `emulator (difftest-x86 emulator 0.1.0), CPU model qemu64; planted bugs: rex-b-ignored (…)` */
export function systemUnderTestText(r: CampaignResult): string {
  const cpu = r.dut.cpuModel ? `, CPU model ${r.dut.cpuModel}` : '';
  const mutants = r.dut.mutants.length ? `; planted bugs switched on: ${mutantsText(r)}` : '; no planted bugs';
  return `${r.dut.name} (${r.dut.implementation})${cpu}${mutants}`;
}

const VECTORS: Record<number, string> = {
  0: '#DE', 1: '#DB', 2: 'NMI', 3: '#BP', 4: '#OF', 5: '#BR', 6: '#UD', 7: '#NM', 8: '#DF', 10: '#TS',
  11: '#NP', 12: '#SS', 13: '#GP', 14: '#PF', 16: '#MF', 17: '#AC', 18: '#MC', 19: '#XM', 20: '#VE', 21: '#CP',
};

/** `#PF`, or `vector 40` for a vector without a mnemonic. */
export function vectorName(vector: number): string {
  return VECTORS[vector] ?? `vector ${vector}`;
}

type Exception = NonNullable<DivergenceReport['expectedException']>;

/** `#PF (vector 14) error code 0x2, CR2 0x…, at RIP 0x…` */
export function describeException(e: Exception | undefined): string {
  if (!e) return 'none';
  const parts = [`${VECTORS[e.vector] ?? 'vector'} (vector ${e.vector})`];
  if (e.errorCode !== undefined) parts.push(`error code 0x${e.errorCode.toString(16)}`);
  if (e.cr2 !== undefined) parts.push(`CR2 ${hexWidth(e.cr2)}`);
  parts.push(`at RIP ${hexWidth(e.rip)}`);
  return parts.join(', ');
}

export interface HeaderRow {
  readonly label: string;
  readonly value: string;
}

export function headerRows(r: CampaignResult): HeaderRow[] {
  const rows: HeaderRow[] = [
    { label: 'Run', value: r.runId },
    { label: 'Seed', value: r.seed },
    { label: 'Command', value: r.command },
    { label: 'Oracle', value: `${r.oracle.implementation} (CPU model ${r.oracle.cpuModel})` },
    { label: 'System under test', value: systemUnderTestText(r) },
    { label: 'Tests', value: ratesText(r) },
    {
      label: 'Mode',
      value: r.batch
        ? `${r.mode}, guest-side batches of ${r.batch.size} (${countText(r.batch.screened)} cases settled by their batch records; the rest ran alone)`
        : r.mode,
    },
    { label: 'Workers', value: String(r.workers) },
    { label: 'Started / finished', value: `${r.startedAt} / ${r.finishedAt}` },
  ];
  if (r.unlocated && r.unlocated.count > 0) rows.push({ label: 'Unlocated', value: unlocatedText(r.unlocated) });
  if (r.locatedAfterTesting) rows.push({ label: 'Located after testing', value: `${countText(r.locatedAfterTesting)} of the cases saved unlocated during testing (step mode, in the minimization budget)` });
  const third = thirdOpinionText(r);
  if (third) rows.push({ label: 'Whose bug', value: third });
  return rows;
}

/** Divergent cases the campaign saw but did not locate in step mode (sampling), and where they are. */
export function unlocatedText(u: NonNullable<CampaignResult['unlocated']>): string {
  const where = u.file ? `, saved in ${u.file}` : '';
  return `${countText(u.count)} divergent case${u.count === 1 ? '' : 's'} not located (the batch saw them diverge; locating in step mode was sampled and the budget ran out)${where}`;
}

export const PARTIAL_NOTE = 'PARTIAL: the campaign was interrupted or cut short; counts cover only the tests that ran.';

export function divergentInstruction(d: DivergenceReport): DivergenceReport['program'][number] | undefined {
  return d.program[d.index];
}

/**
 * `instruction 3 of 10`: instructions are numbered from 1, as a person counts, everywhere a
 * report or the console names one. `index` is 0-based (DivergenceReport.index, Divergence.index).
 */
export function instructionLabel(index: number, total: number): string {
  return `instruction ${index + 1} of ${total}`;
}

/** `instruction 2 of 2 (add r13, [rip+0xffef] @ 0x000000000001000a)`. Plain text. */
export function instructionRef(d: DivergenceReport): string {
  const label = instructionLabel(d.index, d.program.length);
  const ins = divergentInstruction(d);
  return ins ? `${label} (${ins.text} @ ${hexWidth(ins.address)})` : `${label} (not in the program)`;
}

const PREFIX_WORDS = new Set(['lock', 'rep', 'repe', 'repz', 'repne', 'repnz', 'data16', 'o16', 'o32', 'o64', 'a16', 'a32', 'xacquire', 'xrelease', 'bnd', 'notrack']);

/** The divergent instruction's mnemonic, prefixes skipped (`lock add` → `add`); the signature's when it has none. */
export function mnemonicOf(d: DivergenceReport): string {
  const words = (divergentInstruction(d)?.text ?? d.signature).toLowerCase().split(/\s+/).filter(Boolean);
  return words.find((w) => !PREFIX_WORDS.has(w)) ?? words[0] ?? '?';
}

/**
 * What a divergence differs in, as filter tags: `GPR` (which register varies with the case, as
 * in signatures), `XMM`, each flag by name (`CF`), `memory`, `exception`, else the field (`CR2`).
 */
export function fieldTags(d: DivergenceReport): string[] {
  const tags = new Set<string>();
  for (const f of d.diffs) {
    if (f.path.startsWith('gpr.')) tags.add('GPR');
    else if (f.path.startsWith('sse.xmm')) tags.add('XMM');
    else if (f.path === 'rflags') {
      const names = flagNames((f.expected ^ f.actual) & NAMED_FLAGS_MASK);
      for (const n of names ? names.split(' ') : []) tags.add(n);
      if ((f.expected ^ f.actual) & ~NAMED_FLAGS_MASK) tags.add('RFLAGS');
    } else tags.add(fieldLabel(f.path));
  }
  if (d.memoryDiffs.length) tags.add('memory');
  if (d.expectedException?.vector !== d.actualException?.vector) tags.add('exception');
  return [...tags];
}

export interface ProgramRow {
  readonly n: number;
  readonly address: string;
  readonly bytes: string;
  readonly text: string;
  readonly divergent: boolean;
}

export function programRows(d: DivergenceReport): ProgramRow[] {
  return d.program.map((ins, i) => ({
    n: i + 1,
    address: hexWidth(ins.address),
    bytes: spacedBytes(ins.bytes),
    text: ins.text,
    divergent: i === d.index,
  }));
}

export interface RegisterDiffView {
  readonly label: string;
  readonly path: string;
  readonly width: number;
  readonly expected: string;
  readonly actual: string;
  /** Per hex digit of `expected`/`actual` (after `0x`): does any of its bits differ? */
  readonly digitDiffers: boolean[];
  /** Exact differing bits (expected XOR actual), e.g. `63..61, 59..55, 44`. */
  readonly bits: string;
  /** Highest..lowest differing bit, e.g. `63..44`: the one-glance extent. */
  readonly span: string;
  readonly rows: BitRangeRow[];
}

export function digitMask(diff: FieldDiff): boolean[] {
  const digits = Math.ceil(diff.width / 4);
  const x = diff.expected ^ diff.actual;
  return Array.from({ length: digits }, (_, i) => ((x >> BigInt((digits - 1 - i) * 4)) & 0xfn) !== 0n);
}

/** `63..44`: from the highest to the lowest differing bit (a single bit: `7`). */
export function bitSpan(diff: FieldDiff): string {
  const x = diff.expected ^ diff.actual;
  if (x === 0n) return '';
  const hi = x.toString(2).length - 1;
  let lo = 0;
  while (((x >> BigInt(lo)) & 1n) === 0n) lo++;
  return hi === lo ? `${hi}` : `${hi}..${lo}`;
}

/** Every differing field except RFLAGS (which is shown by flag name). */
export function registerDiffs(d: DivergenceReport): RegisterDiffView[] {
  return d.diffs
    .filter((f) => f.path !== 'rflags')
    .map((f) => ({
      label: fieldLabel(f.path),
      path: f.path,
      width: f.width,
      expected: hexWidth(f.expected, f.width),
      actual: hexWidth(f.actual, f.width),
      digitDiffers: digitMask(f),
      bits: differingBits(f),
      span: bitSpan(f),
      rows: bitRangeTable(f),
    }));
}

const NAMED_FLAGS_MASK = 0xfd5n; // CF PF AF ZF SF TF IF DF OF

export interface FlagDiffView {
  readonly expected: string;
  readonly actual: string;
  /** One row per named flag that differs. */
  readonly flags: { name: string; expected: 0 | 1; actual: 0 | 1 }[];
  /** Differing bits that have no name in `flagNames` (reserved, AC, ID, …). */
  readonly otherBits: string;
}

export function flagDiff(d: DivergenceReport): FlagDiffView | undefined {
  const f = d.diffs.find((x) => x.path === 'rflags');
  if (!f) return undefined;
  const x = f.expected ^ f.actual;
  const names = flagNames(x & NAMED_FLAGS_MASK);
  const flags = names === '' ? [] : names.split(' ').map((name) => {
    const bit = FLAG_BIT[name]!;
    return { name, expected: Number((f.expected >> bit) & 1n) as 0 | 1, actual: Number((f.actual >> bit) & 1n) as 0 | 1 };
  });
  const other = x & ~NAMED_FLAGS_MASK;
  return {
    expected: `${hexWidth(f.expected, 32)} [${flagNames(f.expected) || '-'}]`,
    actual: `${hexWidth(f.actual, 32)} [${flagNames(f.actual) || '-'}]`,
    flags,
    otherBits: other === 0n ? '' : differingBits({ ...f, expected: f.expected & other, actual: f.actual & other }),
  };
}

const FLAG_BIT: Record<string, bigint> = { CF: 0n, PF: 2n, AF: 4n, ZF: 6n, SF: 7n, TF: 8n, IF: 9n, DF: 10n, OF: 11n };

/** Masked flags at the divergent instruction, and which of them really differed (and were ignored). */
export function maskedFlagsText(d: DivergenceReport): string {
  if (d.flagMask === 0n) return 'none';
  const ignored = (d.expected.rflags ^ d.actual.rflags) & d.flagMask;
  const base = flagNames(d.flagMask) || hexWidth(d.flagMask, 32);
  return ignored === 0n ? `${base} (no masked flag differed)` : `${base} (differed and ignored: ${flagNames(ignored) || hexWidth(ignored, 32)})`;
}

export interface MemoryLine {
  readonly addr: string;
  readonly expected: string[];
  readonly actual: string[];
  readonly differs: boolean[];
}

/** A memory diff as hex-dump lines of up to 16 bytes, byte-wise marked. */
export function memoryLines(m: DivergenceReport['memoryDiffs'][number]): MemoryLine[] {
  const n = Math.max(m.expected.length, m.actual.length);
  const byte = (b: Uint8Array, i: number) => (i < b.length ? b[i]!.toString(16).padStart(2, '0') : '--');
  const lines: MemoryLine[] = [];
  for (let off = 0; off < n; off += 16) {
    const idx = Array.from({ length: Math.min(16, n - off) }, (_, k) => off + k);
    lines.push({
      addr: hexWidth(m.addr + BigInt(off)),
      expected: idx.map((i) => byte(m.expected, i)),
      actual: idx.map((i) => byte(m.actual, i)),
      differs: idx.map((i) => m.expected[i] !== m.actual[i]),
    });
  }
  return lines;
}

/** Initial registers worth showing: non-zero GPRs, RIP, RFLAGS, non-zero bases. */
export function initialRegisters(s: MachineState): HeaderRow[] {
  const rows: HeaderRow[] = [];
  for (const n of GPR_NAMES) if (s.gpr[n] !== 0n) rows.push({ label: n.toUpperCase(), value: hexWidth(s.gpr[n]) });
  rows.push({ label: 'RIP', value: hexWidth(s.rip) }, { label: 'RFLAGS', value: `${hexWidth(s.rflags, 32)} [${flagNames(s.rflags) || '-'}]` });
  for (const n of ['fsBase', 'gsBase', 'kernelGsBase'] as const) if (s[n] !== 0n) rows.push({ label: n, value: hexWidth(s[n]) });
  return rows;
}

function fieldParts(d: DivergenceReport, withValues: boolean): string[] {
  const parts = registerDiffs(d).map((r) => {
    // an XMM register by its differing 32-bit lanes: `XMM3 lanes 2, 0 differ (lane 2: expected 0x…, actual 0x…; …)`
    if (r.width === 128) {
      const lanes = differingLanes(d.diffs.find((f) => f.path === r.path)!).reverse();
      const which = `lane${lanes.length > 1 ? 's' : ''} ${lanes.map((l) => l.lane).join(', ')}`;
      return withValues
        ? `${r.label} differs in ${which} (${lanes.map((l) => `lane ${l.lane}: expected ${l.expected}, actual ${l.actual}`).join('; ')})`
        : `${r.label} ${which}`;
    }
    return withValues ? `${r.label} differs in bits ${r.span} (expected ${r.expected}, actual ${r.actual})` : `${r.label} bits ${r.span}`;
  });
  const fl = flagDiff(d);
  if (fl) parts.push(`RFLAGS ${[...fl.flags.map((f) => `${f.name} ${f.expected}→${f.actual}`), ...(fl.otherBits ? [`bits ${fl.otherBits}`] : [])].join(', ')}`);
  for (const m of d.memoryDiffs) parts.push(`memory ${hexWidth(m.addr)} (${Math.max(m.expected.length, m.actual.length)} bytes)`);
  const ee = d.expectedException;
  const ae = d.actualException;
  if (ee || ae) {
    const same = ee && ae && ee.vector === ae.vector && ee.errorCode === ae.errorCode && ee.cr2 === ae.cr2 && ee.rip === ae.rip;
    if (!same) parts.push(`exception (expected ${describeException(ee)}; actual ${describeException(ae)})`);
  }
  return parts;
}

/** Differing fields in one line: `R13 bits 63..32; RFLAGS SF 1→0; memory 0x… (8 bytes)`. */
export function differingFieldsText(d: DivergenceReport): string {
  const parts = fieldParts(d, false);
  return parts.length ? parts.join('; ') : 'no field differences recorded';
}

/**
 * The one-glance headline: which instruction, which register, which bits, both values.
 * e.g. `#2 add r13, [rip+0xffef] @ 0x…1000a: R13 differs in bits 63..32 (expected 0x…, actual 0x…); …`
 */
export function headline(d: DivergenceReport): string {
  return `${instructionRef(d)}: ${headlineBody(d)}`;
}

/** The headline without the instruction reference (for renderers that format the instruction). */
export function headlineBody(d: DivergenceReport): string {
  const parts = fieldParts(d, true);
  return parts.length ? parts.join('; ') : 'no field differences recorded';
}

export interface CoverageView {
  readonly exercised: { row: string; count: number }[];
  /** Generatable rows no case exercised: what to look at first. */
  readonly missing: string[];
  readonly total: number;
}

/**
 * Exercised rows, and the rows not exercised: `coverageMissing` as the campaign lists them, or
 * (results from before it existed) the rows listed with count 0.
 */
export function coverageView(r: CampaignResult): CoverageView {
  const exercised = r.coverage.filter((c) => c.count > 0).sort((a, b) => a.row.localeCompare(b.row));
  const zero = r.coverage.filter((c) => c.count === 0).map((c) => c.row);
  const missing = [...new Set([...r.coverageMissing, ...zero])].sort();
  return { exercised, missing, total: Math.max(r.coverageTotalRows, exercised.length + missing.length) };
}

/** `552 of 589 opcode-table rows exercised (93.7%)` */
export function coverageHeadline(c: CoverageView): string {
  return `${countText(c.exercised.length)} of ${countText(c.total)} opcode-table rows exercised (${percent(c.exercised.length, c.total)})`;
}

export function percent(n: number, total: number): string {
  return total > 0 ? `${((100 * n) / total).toFixed(1)}%` : 'n/a';
}
