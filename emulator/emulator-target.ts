import type { AddressSpace, ExecutionTarget, ReadStateOptions, StopReason, TargetInfo } from '../contracts/execution-target.js';
import { GPR_BY_ENCODING, SEGMENT_NAMES, type MachineState, type MemoryRegion, type Segment, type SegmentName } from '../contracts/machine-state.js';
import { type CpuModel, qemu64Model } from './cpu/cpu-model.js';
import { halvesToSigned } from './cpu/cpu.js';
import { MXCSR_DEFAULT, XMM_REGISTERS } from './cpu/sse-state.js';
import { fxsaveImage } from './exec/sse/state.js';
import { readDescriptor, setSegmentCache } from './cpu/segments.js';
import { Seg } from './decode/insn.js';
import { Machine } from './machine.js';

export interface EmulatorTargetOptions {
  /** Minimum RAM; reset grows it to cover every loaded region. Default 16 MiB. */
  readonly ramBytes?: number;
  readonly model?: CpuModel;
  /** RDTSC source (default: retired-instruction count, deterministic). */
  readonly tsc?: () => bigint;
}

const SEG_INDEX: Record<SegmentName, number> = { es: Seg.ES, cs: Seg.CS, ss: Seg.SS, ds: Seg.DS, fs: Seg.FS, gs: Seg.GS };

/**
 * The registers an in-process driver switches between many short runs on one CPU, without a
 * MachineState round trip (a new CPU, BigInts): harness/batch/native-batch.ts enters each case
 * of a batch this way. Numbers, not BigInts: 64-bit registers as 32-bit halves, RIP and segment
 * bases as signed linear addresses (exact for canonical ones).
 */
export interface CpuContext {
  /** GPRs in encoding order (RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8…R15), low half then high half: 32 entries. */
  readonly gpr: Uint32Array;
  /** Segment caches in Sreg encoding order (ES, CS, SS, DS, FS, GS); attributes as QEMU caches them (descriptor high dword & 0x00f0ff00). */
  readonly segSelector: Uint16Array;
  readonly segBase: Float64Array;
  readonly segLimit: Uint32Array;
  readonly segAttrs: Uint32Array;
  rip: number;
  rflags: number;
  /** CR2 as 32-bit halves [low, high]. */
  readonly cr2: Uint32Array;
}

function newCpuContext(): CpuContext {
  return {
    gpr: new Uint32Array(32),
    segSelector: new Uint16Array(6),
    segBase: new Float64Array(6),
    segLimit: new Uint32Array(6),
    segAttrs: new Uint32Array(6),
    rip: 0,
    rflags: 2,
    cr2: new Uint32Array(2),
  };
}

/** How EmulatorTarget.runToSync stopped (StopReason's kinds without the BigInt RIP: read the context). */
export type DirectStop = 'breakpoint' | 'limit' | 'halted' | 'triple-fault' | 'crash';
const DEFAULT_RAM = 16 << 20;

function toSigned(v: bigint): number {
  return Number(BigInt.asIntN(64, v));
}

function toU64(v: number): bigint {
  return BigInt.asUintN(64, BigInt(v));
}

/** The in-process emulator behind the ExecutionTarget seam. */
export class EmulatorTarget implements ExecutionTarget {
  readonly name = 'emulator';
  private machine: Machine;
  private readonly model: CpuModel;

  constructor(private readonly options: EmulatorTargetOptions = {}) {
    this.model = options.model ?? qemu64Model();
    this.machine = new Machine(options.ramBytes ?? DEFAULT_RAM, this.model);
  }

  info(): TargetInfo {
    return { implementation: 'difftest-emulator 0.1.0', cpuModel: this.model.name };
  }

  /** The machine behind the target (benchmarks and white-box tests). */
  get internals(): Machine {
    return this.machine;
  }

  async reset(state: MachineState, memory: readonly MemoryRegion[]): Promise<void> {
    let ram = this.options.ramBytes ?? DEFAULT_RAM;
    for (const r of memory) ram = Math.max(ram, Number(r.addr) + r.bytes.length);
    ram = Math.ceil(ram / 4096) * 4096;
    // Memory outside `memory` is kept (the ExecutionTarget contract): reuse the bus when it is big enough.
    const old = this.machine.bus;
    const m = new Machine(ram <= old.ramSize ? old : ram, this.model, this.machine);
    if (m.bus !== old) m.bus.ram.set(old.ram);
    this.machine = m;
    const c = m.cpu;
    for (const r of memory) m.bus.load(Number(r.addr), r.bytes);
    if (this.options.tsc) c.tscOverride = this.options.tsc;

    GPR_BY_ENCODING.forEach((name, i) => c.set64(i, state.gpr[name]));
    c.rip = toSigned(state.rip);
    c.setFlags(Number(state.rflags & 0x3fffffn));
    c.cr0 = Number(state.cr0 & 0xffffffffn);
    c.cr2Lo = Number(state.cr2 & 0xffffffffn);
    c.cr2Hi = Number((state.cr2 >> 32n) & 0xffffffffn);
    c.cr3 = Number(state.cr3 & 0x000ffffffffff000n) + Number(state.cr3 & 0xfffn);
    c.cr4 = Number(state.cr4 & 0xffffffffn);
    c.cr8 = Number(state.cr8 & 0xfn);
    c.efer = Number(state.efer & 0xffffn);
    c.gdtrBase = toSigned(state.gdtr?.base ?? 0n);
    c.gdtrLimit = state.gdtr?.limit ?? 0xffff;
    c.idtrBase = toSigned(state.idtr?.base ?? 0n);
    c.idtrLimit = state.idtr?.limit ?? 0xffff;
    if (state.tr) Object.assign(c.tr, this.systemSegment(state.tr, c.tr));
    if (state.ldtr) Object.assign(c.ldtr, this.systemSegment(state.ldtr, c.ldtr));
    c.kernelGsBase = toSigned(state.kernelGsBase);
    c.syncMmu();

    // CS first so the mode is known; SS sets CPL (from its DPL, as QEMU does).
    const cs = state.seg.cs;
    c.cpl = cs.selector & 3;
    for (const name of ['cs', 'ss', 'ds', 'es', 'fs', 'gs'] as const) this.loadCache(m, SEG_INDEX[name], state.seg[name]);
    if (state.seg.ss.attrs === undefined) c.cpl = cs.selector & 3;
    c.segBase[Seg.FS] = toSigned(state.fsBase);
    c.segBase[Seg.GS] = toSigned(state.gsBase);
    c.updateMode();
    this.loadFpu(state.fpu);
    // Without an SSE part, what a gdb target writes for one (GdbRemoteTarget's SSE_DEFAULT).
    c.sse.reset(state.sse?.mxcsr ?? MXCSR_DEFAULT);
    state.sse?.xmm.forEach((v, i) => c.sse.set(i, v));
  }

  /**
   * x87 state from a MachineState (physical registers, FSW with TOP). Without one, the values a
   * gdb target writes for a state without FPU (FCW 0x37F, FSW 0, registers 0); without a tag
   * word, all registers empty (QEMU's reset state: its gdb stub cannot set tags).
   */
  private loadFpu(fpu: MachineState['fpu']): void {
    const f = this.machine.cpu.fpu;
    f.fcw = fpu?.fcw ?? 0x37f;
    f.fsw = (fpu?.fsw ?? 0) & ~0x3800;
    f.top = ((fpu?.fsw ?? 0) >> 11) & 7;
    for (let r = 0; r < 8; r++) f.regs[r] = fpu?.st[r] ?? 0n;
    f.loadAbridgedTagWord(fpu?.ftw ?? 0);
  }

  private systemSegment(s: Segment, fallback: { selector: number; base: number; limit: number; attrs: number }) {
    return {
      selector: s.selector,
      base: s.base !== undefined ? toSigned(s.base) : fallback.base,
      limit: s.limit ?? fallback.limit,
      attrs: s.attrs ?? fallback.attrs,
    };
  }

  /** Segment cache from the state when given, else from the descriptor table (like a selector load). */
  private loadCache(m: Machine, seg: number, s: Segment): void {
    const c = m.cpu;
    if (s.base !== undefined && s.limit !== undefined && s.attrs !== undefined) {
      setSegmentCache(c, seg, s.selector, toSigned(s.base), s.limit, s.attrs);
      return;
    }
    if ((s.selector & ~3) === 0) {
      setSegmentCache(c, seg, s.selector, 0, 0, seg === Seg.SS ? (c.cpl << 13) >>> 0 : 0);
      return;
    }
    const d = readDescriptor(c, s.selector);
    setSegmentCache(c, seg, s.selector, s.base !== undefined ? toSigned(s.base) : d.base, s.limit ?? d.limit, s.attrs ?? d.attrs);
  }

  /**
   * x87 and SSE state as FXRSTOR of the image `fpu`/`sse` absent from a reset gives (FCW 0x37F,
   * FSW 0, every tag empty, ST0–7 and XMM0–15 zero, MXCSR 0x1F80), for a driver running many
   * cases on one CPU (harness/batch/native-batch.ts).
   */
  resetSimd(): void {
    this.loadFpu(undefined);
    this.machine.cpu.sse.reset(MXCSR_DEFAULT);
  }

  /** The first 416 bytes of the image FXSAVE would write over zeros now (exec/sse/state.ts fxsaveImage). */
  simdImage(out: DataView): void {
    fxsaveImage(this.machine.cpu, out);
  }

  /** A context to fill with saveContext (its initial values mean nothing). */
  newContext(): CpuContext {
    return newCpuContext();
  }

  /**
   * Load `ctx` into the CPU (GPRs, RIP, RFLAGS, CR2, segment caches; CPL from SS's DPL, as in
   * reset) and wake it if it halted. Everything else stays: control registers, descriptor tables,
   * x87, MSRs, the TSC, decoded code. For drivers that run many short pieces of code in a row.
   */
  loadContext(ctx: CpuContext): void {
    const c = this.machine.cpu;
    c.regs.set(ctx.gpr);
    c.rip = ctx.rip;
    c.setFlags(ctx.rflags & 0x3fffff);
    c.cr2Lo = ctx.cr2[0]!;
    c.cr2Hi = ctx.cr2[1]!;
    for (let s = 0; s < 6; s++) {
      c.segSel[s] = ctx.segSelector[s]!;
      c.segBase[s] = ctx.segBase[s]!;
      c.segLimit[s] = ctx.segLimit[s]!;
      c.segAttr[s] = ctx.segAttrs[s]!;
    }
    c.cpl = (ctx.segAttrs[Seg.SS]! >> 13) & 3;
    c.updateMode();
    c.halted = false;
  }

  /** The CPU's registers into `ctx` (the fields loadContext loads). */
  saveContext(ctx: CpuContext): void {
    const c = this.machine.cpu;
    ctx.gpr.set(c.regs);
    ctx.rip = c.rip;
    ctx.rflags = c.getFlags();
    ctx.cr2[0] = c.cr2Lo;
    ctx.cr2[1] = c.cr2Hi;
    for (let s = 0; s < 6; s++) {
      ctx.segSelector[s] = c.segSel[s]!;
      ctx.segBase[s] = c.segBase[s]!;
      ctx.segLimit[s] = c.segLimit[s]!;
      ctx.segAttrs[s] = c.segAttr[s]!;
    }
  }

  /**
   * RAM bytes [addr, addr+length) as a live view, for reading without a copy. Writing through it
   * would bypass the decoded-code invalidation: write with loadPhysical.
   */
  physicalView(addr: number, length: number): Uint8Array {
    const ram = this.machine.bus.ram;
    if (addr < 0 || addr + length > ram.length) throw new RangeError(`physical range 0x${addr.toString(16)}+${length} is outside RAM (${ram.length} bytes)`);
    return ram.subarray(addr, addr + length);
  }

  /** writeMemory(addr, bytes, 'phys'), synchronously. */
  loadPhysical(addr: number, bytes: Uint8Array): void {
    this.machine.bus.load(addr, bytes);
  }

  /**
   * runUntil, synchronously, with the stops as a set of signed linear addresses built once by the
   * caller (runUntil builds one per call). RIP afterwards: saveContext.
   */
  runToSync(stops: ReadonlySet<number>, maxInstructions: number): DirectStop {
    return this.machine.run(maxInstructions, stops).kind;
  }

  async step(n = 1): Promise<StopReason> {
    return this.stepSync(n);
  }

  /** Synchronous core of step() (benchmarks call it directly). */
  stepSync(n = 1): StopReason {
    const m = this.machine;
    for (let i = 0; i < n; i++) {
      const r = m.step();
      if (r.kind === 'ok') continue;
      if (r.kind === 'halted') return { kind: 'halted', rip: toU64(m.cpu.rip) };
      return r;
    }
    return { kind: 'step' };
  }

  async runUntil(stops: readonly bigint[], maxInstructions: number): Promise<StopReason> {
    const m = this.machine;
    // Like gdb's continue: the instruction at the starting RIP runs even if it is a stop.
    const r = m.run(maxInstructions, new Set(stops.map(toSigned)));
    if (r.kind === 'breakpoint') return { kind: 'breakpoint', rip: toU64(m.cpu.rip) };
    if (r.kind === 'halted') return { kind: 'halted', rip: toU64(m.cpu.rip) };
    return r;
  }

  async readState(options: ReadStateOptions = {}): Promise<MachineState> {
    const c = this.machine.cpu;
    const gpr = {} as MachineState['gpr'];
    GPR_BY_ENCODING.forEach((name, i) => (gpr[name] = c.get64(i)));
    const seg = {} as MachineState['seg'];
    for (const name of SEGMENT_NAMES) {
      const i = SEG_INDEX[name];
      seg[name] = options.system
        ? { selector: c.segSel[i]!, base: toU64(c.segBase[i]!), limit: c.segLimit[i]!, attrs: c.segAttr[i]! }
        : { selector: c.segSel[i]! };
    }
    const state: MachineState = {
      gpr,
      rip: toU64(c.rip),
      rflags: BigInt(c.getFlags()),
      seg,
      fsBase: toU64(c.segBase[Seg.FS]!),
      gsBase: toU64(c.segBase[Seg.GS]!),
      kernelGsBase: toU64(c.kernelGsBase),
      cr0: BigInt(c.cr0 >>> 0),
      cr2: (BigInt(c.cr2Hi) << 32n) | BigInt(c.cr2Lo),
      cr3: BigInt(c.cr3),
      cr4: BigInt(c.cr4 >>> 0),
      cr8: BigInt(c.cr8),
      efer: BigInt(c.efer),
    };
    const f = c.fpu;
    state.fpu = { fcw: f.fcw, fsw: f.statusWord, st: [...f.regs], ftw: f.abridgedTagWord() };
    state.sse = { mxcsr: c.sse.mxcsr, xmm: Array.from({ length: XMM_REGISTERS }, (_, i) => c.sse.get(i)) };
    if (options.system) {
      state.gdtr = { base: toU64(c.gdtrBase), limit: c.gdtrLimit };
      state.idtr = { base: toU64(c.idtrBase), limit: c.idtrLimit };
      state.tr = { selector: c.tr.selector, base: toU64(c.tr.base), limit: c.tr.limit, attrs: c.tr.attrs };
      state.ldtr = { selector: c.ldtr.selector, base: toU64(c.ldtr.base), limit: c.ldtr.limit, attrs: c.ldtr.attrs };
    }
    return state;
  }

  async readMemory(addr: bigint, length: number, space: AddressSpace): Promise<Uint8Array> {
    const m = this.machine;
    if (space === 'phys') return m.bus.peek(Number(addr), length);
    const out = new Uint8Array(length);
    let lin = toSigned(addr);
    let i = 0;
    while (i < length) {
      const phys = m.cpu.mmu.peekTranslate(lin);
      if (phys < 0) throw new RangeError(`virtual address 0x${toU64(lin).toString(16)} is not mapped`);
      const chunk = Math.min(length - i, 4096 - (lin & 0xfff));
      out.set(m.bus.peek(phys, chunk), i);
      i += chunk;
      lin += chunk;
    }
    return out;
  }

  async writeMemory(addr: bigint, bytes: Uint8Array, space: AddressSpace): Promise<void> {
    const m = this.machine;
    if (space === 'phys') {
      m.bus.load(Number(addr), bytes);
      return;
    }
    let lin = toSigned(addr);
    let i = 0;
    while (i < bytes.length) {
      const phys = m.cpu.mmu.peekTranslate(lin);
      if (phys < 0) throw new RangeError(`virtual address 0x${toU64(lin).toString(16)} is not mapped`);
      const chunk = Math.min(bytes.length - i, 4096 - (lin & 0xfff));
      m.bus.load(phys, bytes.subarray(i, i + chunk));
      i += chunk;
      lin += chunk;
    }
  }

  async close(): Promise<void> {}
}

