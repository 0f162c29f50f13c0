import type { GprName, MachineState } from '../../contracts/machine-state.js';
import type { Mismatch } from './gdb-lockstep.js';
import { instructionInfo, operandAddress } from './instruction-info.js';
import type { StepHistory, StepRecord } from './step-history.js';
import type { SymbolTable } from './symbols.js';

/**
 * Where a wrong value came from, traced backwards from the emulator's logs the way the seed
 * notes did by hand: the instruction that produced it, the registers and memory it read (with the
 * address iced-x86 computes for the operand beside the address the emulator actually read), and
 * for each input the instruction that last wrote it, a few levels back. Before the mismatching
 * instruction both machines agreed, so every input value shown is the same on both sides.
 */

export interface TraceInput {
  /** A register, memory read, or an address the instruction computes without reading it (LEA). */
  readonly kind: 'register' | 'memory' | 'address';
  /** `r13`, or `[0xffffffff82aa93b0] (8 bytes)`. */
  readonly what: string;
  readonly value: string;
  /** The instruction that last wrote it, or why there is none. */
  readonly writer: string;
  readonly writerIndex: number | undefined;
  readonly note?: string;
}

export interface TraceStep {
  readonly index: number;
  readonly rip: bigint;
  readonly location: string;
  readonly text: string;
  readonly inputs: readonly TraceInput[];
}

export interface ValueTrace {
  /** The differing value (`gpr.r13`, `rip`, `memory 0x3143480`). */
  readonly value: string;
  readonly summary: string;
  /** The producing instruction first, then the writers of its inputs, breadth first. */
  readonly steps: readonly TraceStep[];
}

const hex = (v: bigint | number) => `0x${v.toString(16)}`;

function leBytes(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

export interface TraceContext {
  readonly history: StepHistory;
  readonly symbols: SymbolTable;
  /** Reads memory as the machines held it when the trace is made (both agree on inputs). */
  readonly readVirtual: (addr: bigint, length: number) => Promise<Uint8Array | undefined>;
  /** Physical address of a linear one under the current page tables, or undefined. */
  readonly translate: (lin: bigint) => number | undefined;
}

function describeWriter(ctx: TraceContext, index: number | undefined, what: string): string {
  if (index === undefined) return `nothing since the start point (the ${what} as transplanted from QEMU)`;
  const r = ctx.history.get(index);
  if (!r) return `instruction #${index} (outside the remembered window)`;
  return `instruction #${index} at ${ctx.symbols.symbolize(r.rip)}: ${r.text}`;
}

/** The inputs of one recorded instruction, under the register state before it. */
async function inputsOf(ctx: TraceContext, r: StepRecord, before: MachineState | undefined): Promise<TraceInput[]> {
  const info = instructionInfo(r.rip, r.bytes);
  const out: TraceInput[] = [];
  for (const g of info.gprsRead) {
    const w = ctx.history.lastWriterOfRegister(g, r.index);
    out.push({
      kind: 'register',
      what: g,
      value: before ? hex(before.gpr[g]) : '(value not kept)',
      writer: describeWriter(ctx, w, 'register'),
      writerIndex: w,
    });
  }
  // An address computed without a memory access (LEA): iced's effective address.
  for (const m of info.memory.filter((x) => x.access === 'address')) {
    if (!before) continue;
    const ea = operandAddress(m, before);
    const parts = [m.base ? `${m.base} ${hex(before.gpr[m.base])}` : m.displacement !== 0n && !m.index ? 'the next instruction\'s RIP' : '', m.index ? `${m.index}*${m.scale}` : ''].filter(Boolean);
    out.push({
      kind: 'address',
      what: `the address ${/\[.*\]/.exec(r.text)?.[0] ?? 'operand'}`,
      value: `${hex(ea)} (iced-x86, from ${parts.join(' + ') || 'the displacement'})`,
      writer: '',
      writerIndex: undefined,
    });
  }
  // Memory read: the operand as iced computes it, and what the emulator actually read.
  const operandReads = info.memory.filter((m) => m.access !== 'write' && m.access !== 'address');
  for (const m of operandReads) {
    const lin = before ? operandAddress(m, before) : undefined;
    const phys = lin !== undefined ? ctx.translate(lin) : undefined;
    const bytes = lin !== undefined ? await ctx.readVirtual(lin, m.size) : undefined;
    const w = phys !== undefined ? ctx.history.lastWriterOf(phys, r.index) : undefined;
    const emulatorRead = r.reads.find((x) => x.size === m.size);
    let note: string | undefined;
    if (lin !== undefined && emulatorRead && emulatorRead.lin !== lin) {
      const got = await ctx.readVirtual(emulatorRead.lin, emulatorRead.size);
      note = `the emulator read ${emulatorRead.size} bytes at ${hex(emulatorRead.lin)} (${ctx.symbols.symbolize(emulatorRead.lin)}${got ? ` = ${hex(leBytes(got))}` : ''}), not at the operand's ${hex(lin)}`;
    }
    out.push({
      kind: 'memory',
      what: lin !== undefined ? `[${hex(lin)}] (${m.size} bytes${phys !== undefined ? `, phys ${hex(phys)}` : ''}; ${ctx.symbols.symbolize(lin)})` : `memory operand (${m.size} bytes)`,
      value: bytes ? hex(leBytes(bytes)) : '(unreadable)',
      writer: describeWriter(ctx, w, 'memory'),
      writerIndex: w,
      note,
    });
  }
  // Reads the emulator made that no operand explains (descriptor tables, stack of an IRET…).
  if (!operandReads.length) {
    for (const x of r.reads.slice(0, 4)) {
      const bytes = await ctx.readVirtual(x.lin, x.size);
      const phys = x.phys[0]?.addr;
      const w = phys !== undefined ? ctx.history.lastWriterOf(phys, r.index) : undefined;
      out.push({ kind: 'memory', what: `[${hex(x.lin)}] (${x.size} bytes, read by the emulator)`, value: bytes ? hex(leBytes(bytes)) : '(unreadable)', writer: describeWriter(ctx, w, 'memory'), writerIndex: w });
    }
  }
  return out;
}

/** Trace each differing value of a mismatch (writers' states come from the history while it keeps them). */
export async function traceMismatch(ctx: TraceContext, m: Mismatch, depth = 3): Promise<ValueTrace[]> {
  const traces: ValueTrace[] = [];
  const record = ctx.history.get(m.index);
  if (!record) return traces;
  const values = [
    ...m.diffs.map((d) => d.path),
    ...m.memory.map((x) => `memory phys ${hex(x.phys)}${x.lin !== undefined ? ` (${hex(x.lin)})` : ''}`),
  ];
  // Every value the mismatching instruction produced has the same inputs: one trace, naming them all.
  const produced = values.filter((v) => {
    const g = /^gpr\.(\w+)$/.exec(v)?.[1] as GprName | undefined;
    return !g || record.gprsWritten.includes(g);
  });
  const sideEffects = values.filter((v) => !produced.includes(v));
  const groups = [produced, ...(sideEffects.length ? [sideEffects] : [])].filter((g) => g.length);
  for (const group of groups) {
    const value = group.join(', ');
    const steps: TraceStep[] = [];
    const seen = new Set<number>();
    let frontier: Array<{ index: number; before: MachineState | undefined }> = [{ index: m.index, before: m.before }];
    for (let level = 0; level < depth && frontier.length; level++) {
      const next: typeof frontier = [];
      for (const f of frontier) {
        if (seen.has(f.index)) continue;
        seen.add(f.index);
        const r = ctx.history.get(f.index);
        if (!r) continue;
        const inputs = await inputsOf(ctx, r, f.before);
        steps.push({ index: r.index, rip: r.rip, location: ctx.symbols.symbolize(r.rip), text: r.text, inputs });
        for (const i of inputs) if (i.writerIndex !== undefined && next.length < 4) next.push({ index: i.writerIndex, before: ctx.history.stateBefore(i.writerIndex) });
      }
      frontier = next;
    }
    const how = group === produced ? 'produced by' : 'not outputs of this instruction per iced-x86 (side effects of'
    const close = group === produced ? '' : ')';
    traces.push({ value, summary: `${value}: ${how} #${m.index} at ${ctx.symbols.symbolize(m.rip)}: ${m.info.decoded.text}${close}`, steps });
  }
  return traces;
}
