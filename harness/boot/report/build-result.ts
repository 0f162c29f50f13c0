import { bitRangeTable, differingBits } from '../../compare.js';
import { BOOT_RULES } from '../boot-rules.js';
import { describeAccess } from '../device-log.js';
import type { LockstepResult, Mismatch } from '../gdb-lockstep.js';
import type { SymbolTable } from '../symbols.js';
import type { ValueTrace } from '../trace.js';
import type { BootResult } from './boot-result.js';

/** Pieces of a BootResult computed from a lockstep result (the session supplies the rest). */

export function ruleRows(r: LockstepResult | undefined, probeInstructions: number): BootResult['rules'] {
  return BOOT_RULES.map((rule) => ({
    name: rule.name,
    description: rule.description,
    count: rule.name === 'msr-probe' ? probeInstructions : r?.rules.get(rule.name) ?? 0,
  }));
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

export function mismatchSection(
  m: Mismatch,
  symbols: SymbolTable,
  explanation: string[],
  trace: readonly ValueTrace[],
  lastWriter: (phys: number) => string | undefined,
): NonNullable<BootResult['mismatch']> {
  return {
    index: m.index,
    icount: m.icount,
    rip: m.rip,
    location: symbols.symbolize(m.rip),
    bytes: m.info.decoded.bytes,
    text: m.info.decoded.text,
    found: m.found,
    explanation,
    diffs: m.diffs.map((d) => ({
      path: d.path,
      width: d.width,
      expected: hex(d.expected),
      actual: hex(d.actual),
      differingBits: differingBits(d),
      ranges: bitRangeTable(d),
    })),
    memory: m.memory.map((x) => ({ phys: BigInt(x.phys), lin: x.lin, expected: x.expected, actual: x.actual, source: x.source, lastEmulatorWriter: lastWriter(x.phys) })),
    devices: [...m.devices],
    qemuStop: m.qemuStop.kind,
    emulatorStop: m.emulatorStop.kind === 'crash' ? `crash: ${m.emulatorStop.message}` : m.emulatorStop.kind,
    flagMask: m.flagMask,
    before: m.before,
    expected: m.expected,
    actual: m.actual,
    trace: trace.map((t) => ({
      value: t.value,
      summary: t.summary,
      steps: t.steps.map((s) => ({ index: s.index, rip: s.rip, location: s.location, text: s.text, inputs: s.inputs.map((i) => ({ ...i })) })),
    })),
  };
}

export function lastInstructions(r: LockstepResult, symbols: SymbolTable, n = 64): BootResult['lastInstructions'] {
  return r.history.lastN(r.lastIndex, n).map((x) => ({
    index: x.index,
    rip: x.rip,
    location: symbols.symbolize(x.rip),
    bytes: x.bytes,
    text: x.text,
    followed: [...x.followed],
    devices: x.devices.map(describeAccess),
  }));
}

/**
 * A start point closer to the mismatch than the run's own: the latest function entry executed
 * in the remembered window before it. QEMU stops at a symbol's first execution since reset, so
 * the suggestion is exact when that entry ran only once in the window and the window reaches back
 * to the start.
 */
export function nearbyStart(r: LockstepResult, m: Mismatch, symbols: SymbolTable): { symbol: string; note: string } | undefined {
  const window = r.history.lastN(m.index - 1, r.history.capacity);
  const complete = window.length > 0 && window[0]!.index === 0;
  const hits = new Map<bigint, number>();
  for (const x of window) hits.set(x.rip, (hits.get(x.rip) ?? 0) + 1);
  for (let i = window.length - 1; i >= 0; i--) {
    const x = window[i]!;
    const at = symbols.locate(x.rip);
    if (!at || at.offset !== 0n || at.alias) continue;
    const once = hits.get(x.rip) === 1;
    if (!once && i > 0) continue;
    const before = m.index - x.index;
    return {
      symbol: at.symbol.name,
      note: once && complete
        ? `${at.symbol.name} ran once in this lockstep, ${before} instructions before the mismatch; if it also ran before this run's start point, QEMU stops at that earlier call and the lockstep has further to go`
        : `${at.symbol.name} was entered ${before} instructions before the mismatch; QEMU stops at its first call since reset, which may be earlier`,
    };
  }
  return undefined;
}
