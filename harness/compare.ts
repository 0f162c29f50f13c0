import type { MachineState } from '../contracts/machine-state.js';
import { GPR_NAMES, SEGMENT_NAMES } from '../contracts/machine-state.js';

/** One compared location whose values differ (after masking). */
export interface FieldDiff {
  /** e.g. `gpr.r13`, `rflags`, `seg.cs.attrs`, `sse.xmm[3]` */
  readonly path: string;
  readonly width: number;
  readonly expected: bigint;
  readonly actual: bigint;
}

export interface CompareOptions {
  /** RFLAGS bits to ignore (architecturally undefined for the instruction just run). */
  readonly flagMask?: bigint;
}

type Field = readonly [path: string, width: number, value: bigint];

/** Flatten a state into comparable fields. Optional parts are included only when present. */
export function stateFields(s: MachineState): Field[] {
  const out: Field[] = [];
  for (const n of GPR_NAMES) out.push([`gpr.${n}`, 64, s.gpr[n]]);
  out.push(['rip', 64, s.rip], ['rflags', 64, s.rflags]);
  for (const n of SEGMENT_NAMES) {
    const seg = s.seg[n];
    out.push([`seg.${n}.selector`, 16, BigInt(seg.selector)]);
    if (seg.base !== undefined) out.push([`seg.${n}.base`, 64, seg.base]);
    if (seg.limit !== undefined) out.push([`seg.${n}.limit`, 32, BigInt(seg.limit)]);
    if (seg.attrs !== undefined) out.push([`seg.${n}.attrs`, 32, BigInt(seg.attrs)]);
  }
  out.push(
    ['fsBase', 64, s.fsBase], ['gsBase', 64, s.gsBase], ['kernelGsBase', 64, s.kernelGsBase],
    ['cr0', 64, s.cr0], ['cr2', 64, s.cr2], ['cr3', 64, s.cr3], ['cr4', 64, s.cr4], ['cr8', 64, s.cr8], ['efer', 64, s.efer],
  );
  for (const t of ['gdtr', 'idtr'] as const) {
    const v = s[t];
    if (v) out.push([`${t}.base`, 64, v.base], [`${t}.limit`, 32, BigInt(v.limit)]);
  }
  if (s.fpu) {
    out.push(['fpu.fcw', 16, BigInt(s.fpu.fcw)], ['fpu.fsw', 16, BigInt(s.fpu.fsw)]);
    s.fpu.st.forEach((v, i) => out.push([`fpu.st[${i}]`, 80, v]));
    if (s.fpu.ftw !== undefined) out.push(['fpu.ftw', 8, BigInt(s.fpu.ftw)]);
  }
  if (s.sse) {
    out.push(['sse.mxcsr', 32, BigInt(s.sse.mxcsr)]);
    s.sse.xmm.forEach((v, i) => out.push([`sse.xmm[${i}]`, 128, v]));
  }
  return out;
}

/** Differences between two states; fields present on one side only are not compared. */
export function compareStates(expected: MachineState, actual: MachineState, options: CompareOptions = {}): FieldDiff[] {
  const a = new Map(stateFields(actual).map(([p, w, v]) => [p, [w, v] as const]));
  const diffs: FieldDiff[] = [];
  const mask = options.flagMask ?? 0n;
  for (const [path, width, ev] of stateFields(expected)) {
    const other = a.get(path);
    if (!other) continue;
    let e = ev;
    let v = other[1];
    if (path === 'rflags') {
      e &= ~mask;
      v &= ~mask;
    }
    if (e !== v) diffs.push({ path, width, expected: ev, actual: other[1] });
  }
  return diffs;
}

/** A run of differing bytes in a compared memory region. */
export interface MemoryDiff {
  readonly addr: bigint;
  readonly expected: Uint8Array;
  readonly actual: Uint8Array;
}

export function compareMemory(addr: bigint, expected: Uint8Array, actual: Uint8Array): MemoryDiff[] {
  const out: MemoryDiff[] = [];
  const n = Math.min(expected.length, actual.length);
  let i = 0;
  while (i < n) {
    if (expected[i] === actual[i]) {
      i++;
      continue;
    }
    const start = i;
    // merge runs separated by fewer than 8 equal bytes, so a differing qword is one diff
    let last = i;
    while (i < n && i - last < 8) {
      if (expected[i] !== actual[i]) last = i;
      i++;
    }
    out.push({ addr: addr + BigInt(start), expected: expected.slice(start, last + 1), actual: actual.slice(start, last + 1) });
    i = last + 1;
  }
  return out;
}

/** Bit ranges of a 64-bit value in the style of the seed notes: sign-extension, page frame, offset. */
const RANGES_64: ReadonlyArray<readonly [number, number]> = [[63, 48], [47, 12], [11, 0]];

export interface BitRangeRow {
  readonly bits: string;
  readonly expected: string;
  readonly actual: string;
  readonly status: 'ok' | 'WRONG';
}

/** XMM registers by 32-bit lane (the unit of PS and PD halves alike); x87 registers as sign+exponent and significand. */
const RANGES_128: ReadonlyArray<readonly [number, number]> = [[127, 96], [95, 64], [63, 32], [31, 0]];
const RANGES_80: ReadonlyArray<readonly [number, number]> = [[79, 64], [63, 0]];

export function bitRangeTable(diff: FieldDiff): BitRangeRow[] {
  const ranges: ReadonlyArray<readonly [number, number]> =
    diff.width === 64 ? RANGES_64 : diff.width === 128 ? RANGES_128 : diff.width === 80 ? RANGES_80 : [[diff.width - 1, 0]];
  return ranges.map(([hi, lo]) => {
    const mask = (1n << BigInt(hi - lo + 1)) - 1n;
    const e = (diff.expected >> BigInt(lo)) & mask;
    const a = (diff.actual >> BigInt(lo)) & mask;
    const digits = Math.ceil((hi - lo + 1) / 4);
    return {
      bits: `${hi}..${lo}`,
      expected: `0x${e.toString(16).padStart(digits, '0')}`,
      actual: `0x${a.toString(16).padStart(digits, '0')}`,
      status: e === a ? 'ok' : 'WRONG',
    };
  });
}

/** A 128-bit field's 32-bit lanes that differ: lane number (0 = bits 31..0), both values. */
export function differingLanes(diff: FieldDiff): Array<{ lane: number; expected: string; actual: string }> {
  const out: Array<{ lane: number; expected: string; actual: string }> = [];
  for (let lane = 0; lane < diff.width / 32; lane++) {
    const e = (diff.expected >> BigInt(32 * lane)) & 0xffffffffn;
    const a = (diff.actual >> BigInt(32 * lane)) & 0xffffffffn;
    if (e !== a) out.push({ lane, expected: `0x${e.toString(16).padStart(8, '0')}`, actual: `0x${a.toString(16).padStart(8, '0')}` });
  }
  return out;
}

/** Which bits differ, as a compact list of ranges ("63..48, 3"). */
export function differingBits(diff: FieldDiff): string {
  const x = diff.expected ^ diff.actual;
  const ranges: string[] = [];
  let bit = diff.width - 1;
  while (bit >= 0) {
    if ((x >> BigInt(bit)) & 1n) {
      const hi = bit;
      while (bit >= 0 && (x >> BigInt(bit)) & 1n) bit--;
      const lo = bit + 1;
      ranges.push(hi === lo ? `${hi}` : `${hi}..${lo}`);
    } else bit--;
  }
  return ranges.join(', ');
}

const FLAG_BITS: ReadonlyArray<readonly [string, number]> = [['CF', 0], ['PF', 2], ['AF', 4], ['ZF', 6], ['SF', 7], ['TF', 8], ['IF', 9], ['DF', 10], ['OF', 11]];

/** Names of RFLAGS bits set in `mask`, e.g. "AF OF". */
export function flagNames(mask: bigint): string {
  return FLAG_BITS.filter(([, b]) => (mask >> BigInt(b)) & 1n).map(([n]) => n).join(' ');
}
