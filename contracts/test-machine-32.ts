import { GPR_NAMES, type GprName, type MachineState, type MemoryRegion, type Segment } from './machine-state.js';
import { LAYOUT, jumpTo } from './test-machine.js';

/**
 * The 32-bit test machine: legacy protected mode, paging off, flat 32-bit code and data, that
 * any target can be put into by register and memory writes alone, as the 64-bit one
 * (test-machine.ts). QEMU's gdbstub cannot load GDTR/IDTR, so both stay where QEMU's reset put
 * them (base 0, limit 0xffff): the IDT is 256 eight-byte gates at 0, and the descriptors live
 * at selectors 0x1000 and up (linear 0x1000…, past the IDT).
 *
 * Same addresses as the 64-bit machine otherwise: exception stops at 0x6000 + 16·v (vectors ≥ 32
 * share 0x6200), a 32-bit TSS at 0x7000 (ESP0 = 0x9000, SS0 = the flat data selector, for
 * interrupts that leave ring 3), the stack below 0x10000, code at 0x10000, data at 0x20000.
 * Without paging every address is RAM: there is no unmapped region.
 */
export const LAYOUT32 = {
  idt: 0x0000n,
  gdtPage: 0x1000n,
  handlers: LAYOUT.handlers,
  handlerStride: LAYOUT.handlerStride,
  sharedVectorsFrom: LAYOUT.sharedVectorsFrom,
  tss: 0x7000n,
  /** Ring-0 stack top after an interrupt from ring 3 (TSS.ESP0). */
  ring0Stack: 0x9000n,
  stackBase: LAYOUT.stackBase,
  stackTop: LAYOUT.stackTop,
  code: LAYOUT.code,
  data: LAYOUT.data,
  dataSize: LAYOUT.dataSize,
} as const;

/** A segment descriptor (SDM Vol. 3 §3.4.5): `access` is P|DPL|S|type, `flags` is G|D/B|L|AVL. */
export function descriptor(base: number, limit: number, access: number, flags: number): bigint {
  const lo = ((limit & 0xffff) | ((base & 0xffff) << 16)) >>> 0;
  const hi = (((base >>> 16) & 0xff) | (access << 8) | (limit & 0xf0000) | ((flags & 0xf) << 20) | (base & 0xff000000)) >>> 0;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

const P = 0x80;
const S = 0x10;
const dpl = (n: number) => n << 5;
const G = 0x8;
const DB = 0x4;

/**
 * The descriptors the 32-bit machine offers, by selector: flat code and data, and one of each
 * kind a segmentation test needs (16-bit code and stack, expand-down, read-only, not present,
 * ring 3, conforming, execute-only, a small limit, a TSS, one without the accessed bit).
 */
export const SELECTORS32 = {
  code32: 0x1008,
  data: 0x1010,
  /** 16-bit code, base 0x10000 (the code page), limit 0xffff. */
  code16: 0x1018,
  /** 16-bit (B = 0) writable data, base 0, limit 0xffff: a 16-bit stack. */
  stack16: 0x1020,
  /** Expand-down writable data, base 0x20000, limit 0xfff, B = 1: offsets 0x1000–0xffffffff are valid. */
  expandDown: 0x1028,
  /** Read-only data, base 0x20000, limit 0xffff. */
  readOnly: 0x1030,
  /** Writable data, not present. */
  notPresent: 0x1038,
  /** Flat writable data, DPL 3. */
  data3: 0x1040,
  /** Flat 32-bit code, DPL 3. */
  code3: 0x1048,
  /** Flat 32-bit conforming code, DPL 0. */
  conforming: 0x1050,
  /** Flat 32-bit execute-only code, DPL 0. */
  execOnly: 0x1058,
  /** Writable data, base 0x20000, limit 0x1f. */
  small: 0x1060,
  /** Expand-down writable data, base 0x20000, limit 0xfff, B = 0: offsets 0x1000–0xffff are valid. */
  expandDown16: 0x1068,
  /** Available 32-bit TSS at LAYOUT32.tss. */
  tss: 0x1070,
  /** Flat writable data whose accessed bit is clear (a load sets it). */
  unaccessed: 0x1078,
  /** Flat 64-bit code (L = 1), for compatibility-mode tests that turn long mode on. */
  code64: 0x1080,
} as const;

const GDT32: ReadonlyArray<[number, bigint]> = [
  [SELECTORS32.code32, descriptor(0, 0xfffff, P | S | 0xb, G | DB)],
  [SELECTORS32.data, descriptor(0, 0xfffff, P | S | 0x3, G | DB)],
  [SELECTORS32.code16, descriptor(0x10000, 0xffff, P | S | 0xb, 0)],
  [SELECTORS32.stack16, descriptor(0, 0xffff, P | S | 0x3, 0)],
  [SELECTORS32.expandDown, descriptor(0x20000, 0xfff, P | S | 0x7, DB)],
  [SELECTORS32.readOnly, descriptor(0x20000, 0xffff, P | S | 0x1, DB)],
  [SELECTORS32.notPresent, descriptor(0, 0xfffff, S | 0x3, G | DB)],
  [SELECTORS32.data3, descriptor(0, 0xfffff, P | dpl(3) | S | 0x3, G | DB)],
  [SELECTORS32.code3, descriptor(0, 0xfffff, P | dpl(3) | S | 0xb, G | DB)],
  [SELECTORS32.conforming, descriptor(0, 0xfffff, P | S | 0xf, G | DB)],
  [SELECTORS32.execOnly, descriptor(0, 0xfffff, P | S | 0x9, G | DB)],
  [SELECTORS32.small, descriptor(0x20000, 0x1f, P | S | 0x3, DB)],
  [SELECTORS32.expandDown16, descriptor(0x20000, 0xfff, P | S | 0x7, 0)],
  [SELECTORS32.tss, descriptor(Number(LAYOUT32.tss), 0x67, P | 0x9, 0)],
  [SELECTORS32.unaccessed, descriptor(0, 0xfffff, P | S | 0x2, G | DB)],
  [SELECTORS32.code64, descriptor(0, 0xfffff, P | S | 0xb, G | 0x2)],
];

/** Cached attributes (QEMU's encoding, descriptor high dword & 0x00f0ff00) of flat code and data. */
export const SEGMENT_ATTRS32 = { code32: 0x00c09b00, data: 0x00c09300 } as const;

export const CR0_PM32 = 0x33n; // NE | ET | MP | PE, paging off
export const CR4_PM32 = 0x600n; // OSXMMEXCPT | OSFXSR

/**
 * IDT gate types per vector: 32-bit interrupt gates to the flat code segment, DPL 0 for the
 * exceptions (but #BP and #OF, which INT3/INTO raise from any ring), DPL 3 from 0x40 up; 0x41 a
 * trap gate, 0x42 a 16-bit interrupt gate, 0x43 not present, 0x44 DPL 0.
 */
export const GATES32 = { trap: 0x41, gate16: 0x42, notPresent: 0x43, ring0Only: 0x44 } as const;

function gate(vector: number): bigint {
  const handler = Number(LAYOUT32.handlers) + 16 * Math.min(vector, LAYOUT32.sharedVectorsFrom);
  let type = 0xe;
  let present = P;
  let gateDpl = vector >= 0x40 || vector === 3 || vector === 4 ? 3 : 0;
  if (vector === GATES32.trap) type = 0xf;
  if (vector === GATES32.gate16) type = 0x6;
  if (vector === GATES32.notPresent) present = 0;
  if (vector === GATES32.ring0Only) gateDpl = 0;
  const lo = ((handler & 0xffff) | (SELECTORS32.code32 << 16)) >>> 0;
  const hi = ((handler & 0xffff0000) | ((present | dpl(gateDpl) | type) << 8)) >>> 0;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

function putQword(buf: Uint8Array, offset: number, value: bigint): void {
  new DataView(buf.buffer, buf.byteOffset, buf.byteLength).setBigUint64(offset, value, true);
}

/** The 32-bit TSS: ring-0 stack for interrupts from ring 3, no I/O bit map (its base past the limit). */
function buildTss(): Uint8Array {
  const tss = new Uint8Array(0x68);
  const v = new DataView(tss.buffer);
  v.setUint32(4, Number(LAYOUT32.ring0Stack), true); // ESP0
  v.setUint16(8, SELECTORS32.data, true); // SS0
  v.setUint16(0x66, 0x68, true); // I/O map base
  return tss;
}

let systemMemoryCache: MemoryRegion[] | undefined;

/** The tables and stop addresses of the 32-bit machine (the same for every case). */
export function systemMemory32(): MemoryRegion[] {
  if (systemMemoryCache) return systemMemoryCache;
  const idt = new Uint8Array(256 * 8);
  for (let v = 0; v < 256; v++) putQword(idt, v * 8, gate(v));
  const gdt = new Uint8Array(0x1000);
  for (const [sel, d] of GDT32) putQword(gdt, sel - 0x1000, d);
  return (systemMemoryCache = [
    // The 64-bit machine's IDT fills 0–0xfff: clear its upper half too.
    { addr: LAYOUT32.idt, bytes: Uint8Array.from([...idt, ...new Uint8Array(0x800)]) },
    { addr: LAYOUT32.gdtPage, bytes: gdt },
    { addr: LAYOUT32.handlers, bytes: new Uint8Array(0x1000).fill(0xf4) },
    { addr: LAYOUT32.tss, bytes: buildTss() },
  ]);
}

/** The segment cache a selector of this machine loads (what both targets hold after a reset). */
export function segmentOf(selector: number): Segment {
  const entry = GDT32.find(([s]) => s === (selector & ~7));
  if (!entry) throw new RangeError(`selector 0x${selector.toString(16)} is not in the 32-bit test machine's GDT`);
  const d = entry[1];
  const lo = Number(d & 0xffffffffn);
  const hi = Number(d >> 32n);
  let limit = (lo & 0xffff) | (hi & 0xf0000);
  if (hi & 0x800000) limit = ((limit << 12) | 0xfff) >>> 0;
  const base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
  return { selector, base: BigInt(base), limit, attrs: (hi & 0x00f0ff00) >>> 0 };
}

export interface TestMachine32Options {
  readonly code: Uint8Array;
  readonly memory?: readonly MemoryRegion[];
  readonly regs?: Partial<Record<GprName, bigint>>;
  readonly rflags?: bigint;
}

export interface TestMachine32 {
  readonly state: MachineState;
  readonly memory: MemoryRegion[];
  readonly endAddress: bigint;
  readonly trampoline: MemoryRegion;
  readonly exceptionStops: readonly bigint[];
}

export function initialState32(regs: Partial<Record<GprName, bigint>> = {}, rflags = 0x2n): MachineState {
  const gpr = Object.fromEntries(GPR_NAMES.map((n) => [n, regs[n] ?? (n === 'rsp' ? LAYOUT32.stackTop : 0n)])) as Record<GprName, bigint>;
  const data = () => segmentOf(SELECTORS32.data);
  return {
    gpr,
    rip: LAYOUT32.code,
    rflags,
    seg: { cs: segmentOf(SELECTORS32.code32), ss: data(), ds: data(), es: data(), fs: data(), gs: data() },
    fsBase: 0n,
    gsBase: 0n,
    kernelGsBase: 0n,
    cr0: CR0_PM32,
    cr2: 0n,
    cr3: 0n,
    cr4: CR4_PM32,
    cr8: 0n,
    efer: 0n,
    gdtr: { base: 0n, limit: 0xffff },
    idtr: { base: 0n, limit: 0xffff },
  };
}

export function buildTestMachine32(options: TestMachine32Options): TestMachine32 {
  const memory = [...systemMemory32(), { addr: LAYOUT32.code, bytes: options.code }, ...(options.memory ?? [])];
  const end = LAYOUT32.code + BigInt(options.code.length);
  return {
    state: initialState32(options.regs, options.rflags),
    memory,
    endAddress: end,
    trampoline: jumpTo(end, LAYOUT.blockEnd),
    exceptionStops: Array.from({ length: LAYOUT32.sharedVectorsFrom + 1 }, (_, v) => LAYOUT32.handlers + BigInt(v) * LAYOUT32.handlerStride),
  };
}

/** Real-mode segment cache as QEMU's gdb stub loads one (base = selector·16, limit 64 KiB, P|S|W|A). */
export function realSegment(selector: number): Segment {
  return { selector, base: BigInt(selector) * 16n, limit: 0xffff, attrs: 0x9300 };
}

/**
 * The same machine in real mode (CR0.PE = 0): an interrupt vector table at 0 sending vector v to
 * 0000:(0x6000 + 16·v) (vectors ≥ 32 share 0x6200), the 32-bit machine's GDT for switching to
 * protected mode, CS = 0x1000 (code at 0x10000, IP from 0), SS:SP = 0800:8000 (the stack page),
 * DS = ES = 0x2000 (the data page). RIP is the offset in CS, as QEMU's stub shows it.
 */
export function buildRealModeMachine(options: TestMachine32Options): TestMachine32 {
  const ivt = new Uint8Array(256 * 4);
  const v = new DataView(ivt.buffer);
  for (let i = 0; i < 256; i++) v.setUint16(i * 4, Number(LAYOUT32.handlers) + 16 * Math.min(i, LAYOUT32.sharedVectorsFrom), true);
  const [, gdt, handlers, tss] = systemMemory32();
  const memory = [{ addr: 0n, bytes: Uint8Array.from([...ivt, ...new Uint8Array(0x1000 - ivt.length)]) }, gdt!, handlers!, tss!, { addr: LAYOUT32.code, bytes: options.code }, ...(options.memory ?? [])];
  const base = initialState32(options.regs, options.rflags);
  const state: MachineState = {
    ...base,
    gpr: { ...base.gpr, rsp: options.regs?.rsp ?? 0x8000n },
    rip: 0n,
    seg: { cs: realSegment(0x1000), ss: realSegment(0x0800), ds: realSegment(0x2000), es: realSegment(0x2000), fs: realSegment(0), gs: realSegment(0) },
    cr0: 0x10n,
    cr4: 0n,
  };
  return {
    state,
    memory,
    endAddress: BigInt(options.code.length),
    trampoline: jumpTo(LAYOUT32.code + BigInt(options.code.length), LAYOUT.blockEnd),
    exceptionStops: Array.from({ length: LAYOUT32.sharedVectorsFrom + 1 }, (_, i) => LAYOUT32.handlers + BigInt(i) * LAYOUT32.handlerStride),
  };
}

/**
 * A state as QEMU's gdb stub shows it outside 64-bit code: EAX–EDI as their low halves, R8–R15
 * as 0, EIP. The emulator keeps 64-bit registers whose upper halves legacy code never sees, so
 * both sides of a 32-bit comparison are read through this view.
 */
export function registerView32(s: MachineState): MachineState {
  const gpr = { ...s.gpr };
  GPR_NAMES.forEach((n, i) => (gpr[n] = i < 8 ? gpr[n] & 0xffffffffn : 0n));
  return { ...s, gpr, rip: s.rip & 0xffffffffn };
}
