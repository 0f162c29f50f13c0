/**
 * The part of index.html that is rendered on demand: per divergence, a compact record (short
 * keys, hex without `0x` or padding where the browser can restore it) embedded once as JSON and
 * turned into HTML by html-client.js when its row is opened. What needs exact logic (flag names,
 * differing bits, exception names) is computed here, by the functions the other formats use.
 */
import type { CampaignResult, DivergenceReport } from '../harness/campaign-result.js';
import { GPR_NAMES, type MachineState } from '../contracts/machine-state.js';
import { bitSpan, describeException, flagDiff, hexWidth, maskedFlagsText } from './format.js';
import { differingBits, flagNames } from '../harness/compare.js';

const hex = (v: bigint) => v.toString(16);
const bytesHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** One divergence's detail record. Keys are short: there can be thousands of these in a page. */
export interface DetailRecord {
  /** case id, case file, seed */
  readonly c: string;
  readonly f?: string;
  readonly s?: string;
  /** address of the first instruction (hex) */
  readonly a: string;
  /** the program: per instruction, its bytes (hex) and text */
  readonly p: [string, string][];
  /** index of the divergent instruction (0-based) */
  readonly x: number;
  /** register diffs: label, width, expected and actual (hex, zero-padded to the width), bit extent, exact bits */
  readonly r: [string, number, string, string, string, string][];
  /** RFLAGS: expected and actual with flag names, differing named flags [name, expected, actual], other bits */
  readonly fl?: [string, string, [string, number, number][], string];
  /** memory diffs: address, expected bytes, actual bytes (hex) */
  readonly m?: [string, string, string][];
  /** exceptions, expected (oracle) and actual (DUT), described */
  readonly e?: [string, string];
  /** masked flags at the divergent instruction, when any were masked */
  readonly k?: string;
  /** initial GPRs in GPR_NAMES order (hex, '' for zero), RFLAGS described, other non-zero registers */
  readonly g: string[];
  readonly gf: string;
  readonly o?: [string, string][];
  /** GPRs before the divergent instruction that differ from the initial ones: [GPR_NAMES index, hex]; RFLAGS then */
  readonly bg?: [number, string][];
  readonly bf?: string;
  /** initial memory other than the program's own bytes: address, length, first 16 bytes (hex) */
  readonly im: [string, number, string][];
  /** the replay command without the prefix and suffix all commands share (DetailData.t) */
  readonly rp: string;
  /** minimization: instructions before, after, seconds */
  readonly mz?: [number, number, number];
}

export interface DetailData {
  /** Prefix and suffix every replay command has (e.g. `node bin/difftest.mjs replay ` and ` --inject x`). */
  readonly t: [string, string];
  /** GPR names, in the order of DetailRecord.g */
  readonly n: string[];
  /** One record per divergence, in result order (rows refer to them by index). */
  readonly d: DetailRecord[];
}

const rflagsText = (v: bigint) => `${hexWidth(v, 32)} [${flagNames(v) || '-'}]`;

function commonAffixes(commands: readonly string[]): [string, string] {
  if (commands.length === 0) return ['', ''];
  let pre = commands[0]!;
  let suf = commands[0]!;
  for (const c of commands) {
    while (!c.startsWith(pre)) pre = pre.slice(0, -1);
    while (!c.endsWith(suf)) suf = suf.slice(1);
  }
  const shortest = Math.min(...commands.map((c) => c.length));
  if (pre.length + suf.length > shortest) suf = suf.slice(pre.length + suf.length - shortest);
  return [pre, suf];
}

function otherRegisters(s: MachineState): [string, string][] {
  const out: [string, string][] = [];
  for (const n of ['fsBase', 'gsBase', 'kernelGsBase'] as const) if (s[n] !== 0n) out.push([n, hex(s[n])]);
  return out;
}

function record(d: DivergenceReport, affixes: [string, string]): DetailRecord {
  const program = d.program.map((i): [string, string] => [bytesHex(i.bytes), i.text]);
  const programBytes = program.map((p) => p[0]).join('');
  const start = d.program[0]?.address ?? d.initial.rip;
  const fl = flagDiff(d);
  const before = GPR_NAMES.flatMap((n, i): [number, string][] => (d.before.gpr[n] !== d.initial.gpr[n] ? [[i, hex(d.before.gpr[n])]] : []));
  const other = otherRegisters(d.initial);
  return {
    c: d.caseId,
    ...(d.caseFile !== undefined && { f: d.caseFile }),
    ...(d.seed !== undefined && { s: d.seed }),
    a: hex(start),
    p: program,
    x: d.index,
    r: d.diffs
      .filter((f) => f.path !== 'rflags')
      .map((f) => [f.path.startsWith('gpr.') ? f.path.slice(4).toUpperCase() : f.path, f.width, hexWidth(f.expected, f.width).slice(2), hexWidth(f.actual, f.width).slice(2), bitSpan(f), differingBits(f)]),
    ...(fl && { fl: [fl.expected, fl.actual, fl.flags.map((x): [string, number, number] => [x.name, x.expected, x.actual]), fl.otherBits] }),
    ...(d.memoryDiffs.length > 0 && { m: d.memoryDiffs.map((m): [string, string, string] => [hex(m.addr), bytesHex(m.expected), bytesHex(m.actual)]) }),
    ...((d.expectedException || d.actualException) && { e: [describeException(d.expectedException), describeException(d.actualException)] }),
    ...(d.flagMask !== 0n && { k: maskedFlagsText(d) }),
    g: GPR_NAMES.map((n) => (d.initial.gpr[n] === 0n ? '' : hex(d.initial.gpr[n]))),
    gf: rflagsText(d.initial.rflags),
    ...(other.length > 0 && { o: other }),
    ...(before.length > 0 && { bg: before }),
    ...(d.before.rflags !== d.initial.rflags && { bf: rflagsText(d.before.rflags) }),
    // the program's own bytes are shown as the program
    im: d.initialMemory
      .filter((m) => !(m.addr === start && bytesHex(m.bytes) === programBytes))
      .map((m): [string, number, string] => [hex(m.addr), m.bytes.length, bytesHex(m.bytes.subarray(0, 16))]),
    rp: d.replayCommand.slice(affixes[0].length, d.replayCommand.length - affixes[1].length),
    ...(d.minimization && { mz: [d.minimization.fromInstructions, d.minimization.toInstructions, Math.round(d.minimization.seconds * 10) / 10] }),
  };
}

export function detailData(r: CampaignResult): DetailData {
  const affixes = commonAffixes(r.divergences.map((d) => d.replayCommand));
  return { t: affixes, n: GPR_NAMES.map((n) => n.toUpperCase()), d: r.divergences.map((d) => record(d, affixes)) };
}

/**
 * JSON for a `<script type="application/json">`: `<` escaped (no `</script>` can end it early,
 * no `<!--` can open a comment), U+2028/2029 escaped for old parsers.
 */
export function embedJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}
