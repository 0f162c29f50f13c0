import { GPR_NAMES, type GprName, type MachineState, type MemoryRegion } from './machine-state.js';

/**
 * The test machine: a 64-bit long-mode environment that any target can be put into by
 * register and memory writes alone (QEMU's gdbstub cannot load GDTR/IDTR/TR, so the tables
 * live where QEMU's reset state already points: GDTR = IDTR = {base 0, limit 0xffff}).
 *
 * Physical = virtual (identity-mapped, 4 KiB pages) for the first 2 MiB:
 *   0x00000 IDT (256 × 16 bytes)                           read-only
 *   0x01000 GDT entries 512.. (selectors ≥ 0x1000, so they do not overlap the IDT)  read-only
 *   0x02000 PML4, 0x03000 PDPT, 0x04000 PD, 0x05000 PT     read-only
 *   0x06000 exception stop addresses: vector v < 32 at 0x6000 + 16·v, all vectors ≥ 32 share
 *           0x6200 (each a HLT)                                read-only, exec
 *   0x08000–0x0ffff stack (RSP starts at 0x10000)           read/write, NX
 *   0x10000–0x1ffff code                                     read/write/exec
 *   0x20000–0x2ffff data / scratch                           read/write, NX
 *   everything else is not present (a #PF for the fragment).
 */
export const LAYOUT = {
  idt: 0x0000n,
  gdtPage: 0x1000n,
  pml4: 0x2000n,
  pdpt: 0x3000n,
  pd: 0x4000n,
  pt: 0x5000n,
  handlers: 0x6000n,
  handlerStride: 16n,
  /** Vectors from here up share one stop address: every breakpoint costs QEMU a check on each
   * translation-block lookup, so 256 of them slow TCG ~27×; exceptions (0–31) keep their own. */
  sharedVectorsFrom: 32,
  stackBase: 0x8000n,
  stackTop: 0x10000n,
  code: 0x10000n,
  codeSize: 0x10000,
  data: 0x20000n,
  dataSize: 0x10000,
  /** First address that no page table entry maps. */
  unmapped: 0x30000n,
  /** Fixed stop address for block runs: the code is followed by a jump here, so the breakpoint
   * never moves (QEMU flushes its translation cache on every breakpoint insert/remove). */
  blockEnd: 0x1fff0n,
} as const;

/** The most code bytes a case may have: the code, then a 5-byte jump to LAYOUT.blockEnd. */
export const MAX_CODE_BYTES = Number(LAYOUT.blockEnd - LAYOUT.code) - 5;

/** Where a case's memory and compared regions may lie: the stack, code and data pages (the pages below hold the system tables). */
export const CASE_MEMORY_RANGE = { from: LAYOUT.stackBase, to: LAYOUT.unmapped } as const;

const hexAddr = (v: bigint) => `0x${v.toString(16)}`;

/**
 * Why a region cannot be part of a case (one line naming the valid range), or undefined when it
 * fits. Shared by the case schema and buildTestMachine, so a case file and a case built in code
 * get the same words.
 */
export function caseRegionProblem(addr: bigint, length: number): string | undefined {
  const end = addr + BigInt(length);
  if (addr >= CASE_MEMORY_RANGE.from && end <= CASE_MEMORY_RANGE.to) return undefined;
  return (
    `region ${length > 1 ? `${hexAddr(addr)}–${hexAddr(end - 1n)}` : hexAddr(addr)} (${length} byte${length === 1 ? '' : 's'}) lies outside the test machine; ` +
    `case memory must lie within ${hexAddr(CASE_MEMORY_RANGE.from)}–${hexAddr(CASE_MEMORY_RANGE.to - 1n)} (its stack, code and data pages)`
  );
}

export const SELECTORS = { code64: 0x1008, data: 0x1010, code32: 0x1018 } as const;

/** Descriptors (Intel SDM Vol. 3 §3.4.5) with the accessed bit preset, since the GDT page is read-only. */
const GDT_ENTRIES: ReadonlyArray<[number, bigint]> = [
  [SELECTORS.code64, 0x00af9b000000ffffn], // 64-bit code, DPL0, L=1
  [SELECTORS.data, 0x00cf93000000ffffn], // data RW, 4 GiB
  [SELECTORS.code32, 0x00cf9b000000ffffn], // 32-bit code (compatibility mode)
];

/** QEMU-style cached attributes (descriptor high dword & 0x00f0ff00) of the entries above. */
export const SEGMENT_ATTRS = { code64: 0x00af9b00, data: 0x00cf9300 } as const;

export const CR0_TEST = 0x80010033n; // PG | WP | NE | ET | MP | PE
export const CR4_TEST = 0x620n; // OSXMMEXCPT | OSFXSR | PAE
export const EFER_TEST = 0xd00n; // NXE | LMA | LME

/** Vectors whose delivery pushes an error code (SDM Vol. 3 Table 6-1). */
export const ERROR_CODE_VECTORS: ReadonlySet<number> = new Set([8, 10, 11, 12, 13, 14, 17, 21, 29, 30]);

/** Page-table entry bits (also the batch runner's tables, harness/batch/batch-layout.ts). */
export const PTE = { P: 1n, RW: 2n, US: 4n, A: 0x20n, D: 0x40n, NX: 1n << 63n } as const;

export interface TestMachineOptions {
  /** Code bytes placed at LAYOUT.code. */
  readonly code: Uint8Array;
  /** Extra memory contents (physical addresses inside the mapped region). */
  readonly memory?: readonly MemoryRegion[];
  /** Initial register values; everything else starts at 0 (RSP at the stack top). */
  readonly regs?: Partial<Record<GprName, bigint>>;
  readonly rflags?: bigint;
  readonly fsBase?: bigint;
  readonly gsBase?: bigint;
  /** Initial MXCSR and XMM0–15 (default: MXCSR 0x1F80, zeros). */
  readonly sse?: MachineState['sse'];
}

export interface TestMachine {
  readonly state: MachineState;
  /** Everything: system tables and handlers, then the case's code and memory. */
  readonly memory: MemoryRegion[];
  /** Only the case's code and memory. The system pages are read-only to the guest (and their
   * A/D bits preset), so a target that already holds them needs only these on reset. */
  readonly caseMemory: MemoryRegion[];
  /** Address just past the code: reaching it means the fragment ran to completion. */
  readonly endAddress: bigint;
  /** `jmp LAYOUT.blockEnd` placed at endAddress (not part of the case's code). */
  readonly trampoline: MemoryRegion;
  /** Where exceptions land: index = vector for 0–31, then the shared stop of vectors 32–255. */
  readonly exceptionStops: readonly bigint[];
  /**
   * Where a block run stops at the end (default [LAYOUT.blockEnd]). A gdb stub's breakpoints are
   * linear addresses, the emulator's stops RIPs: they differ when CS has a base (real mode).
   */
  readonly blockEndStops?: readonly bigint[];
}

function putQword(buf: Uint8Array, offset: number, value: bigint): void {
  new DataView(buf.buffer, buf.byteOffset, buf.byteLength).setBigUint64(offset, value, true);
}

function buildIdt(): Uint8Array {
  const idt = new Uint8Array(256 * 16);
  for (let v = 0; v < 256; v++) {
    const handler = LAYOUT.handlers + BigInt(Math.min(v, LAYOUT.sharedVectorsFrom)) * LAYOUT.handlerStride;
    const low =
      (handler & 0xffffn) |
      (BigInt(SELECTORS.code64) << 16n) |
      (0x8en << 40n) | // present, DPL0, 64-bit interrupt gate
      (((handler >> 16n) & 0xffffn) << 48n);
    putQword(idt, v * 16, low);
    putQword(idt, v * 16 + 8, handler >> 32n);
  }
  return idt;
}

function buildGdtPage(): Uint8Array {
  const page = new Uint8Array(0x1000);
  for (const [selector, descriptor] of GDT_ENTRIES) putQword(page, selector - 0x1000, descriptor);
  return page;
}

function pageFlags(addr: bigint): bigint | undefined {
  if (addr >= LAYOUT.unmapped) return undefined;
  if (addr >= LAYOUT.data) return PTE.P | PTE.RW | PTE.A | PTE.D | PTE.NX;
  if (addr >= LAYOUT.code) return PTE.P | PTE.RW | PTE.A | PTE.D;
  if (addr >= LAYOUT.stackBase) return PTE.P | PTE.RW | PTE.A | PTE.D | PTE.NX;
  if (addr >= LAYOUT.handlers + 0x1000n) return undefined;
  if (addr >= LAYOUT.handlers) return PTE.P | PTE.A;
  return PTE.P | PTE.A | PTE.NX; // IDT, GDT, page tables: read-only
}

function buildPageTables(): Uint8Array {
  // PML4, PDPT, PD, PT on four consecutive pages. Upper levels are writable; the leaf decides.
  const tables = new Uint8Array(0x4000);
  const upper = PTE.P | PTE.RW | PTE.A;
  putQword(tables, 0x0000, LAYOUT.pdpt | upper);
  putQword(tables, 0x1000, LAYOUT.pd | upper);
  putQword(tables, 0x2000, LAYOUT.pt | upper);
  for (let i = 0; i < 512; i++) {
    const addr = BigInt(i) << 12n;
    const flags = pageFlags(addr);
    if (flags !== undefined) putQword(tables, 0x3000 + i * 8, addr | flags);
  }
  return tables;
}

/** `jmp rel32` at `from` landing on `to`. */
export function jumpTo(from: bigint, to: bigint): MemoryRegion {
  const bytes = new Uint8Array(5);
  bytes[0] = 0xe9;
  new DataView(bytes.buffer).setInt32(1, Number(to - (from + 5n)), true);
  return { addr: from, bytes };
}

function buildHandlers(): Uint8Array {
  // Each stop address holds HLT: a target that runs past its breakpoint stops there anyway.
  return new Uint8Array(0x1000).fill(0xf4);
}

let systemMemoryCache: MemoryRegion[] | undefined;

/** The memory every test machine starts from (tables, handlers), without code or data.
 * Built once: it is the same for every case, and no caller mutates it. */
export function systemMemory(): MemoryRegion[] {
  return (systemMemoryCache ??= [
    { addr: LAYOUT.idt, bytes: buildIdt() },
    { addr: LAYOUT.gdtPage, bytes: buildGdtPage() },
    { addr: LAYOUT.pml4, bytes: buildPageTables() },
    { addr: LAYOUT.handlers, bytes: buildHandlers() },
  ]);
}

export function initialState(regs: Partial<Record<GprName, bigint>> = {}, rflags = 0x2n): MachineState {
  const gpr = Object.fromEntries(GPR_NAMES.map((n) => [n, regs[n] ?? (n === 'rsp' ? LAYOUT.stackTop : 0n)])) as Record<
    GprName,
    bigint
  >;
  const code = { selector: SELECTORS.code64, base: 0n, limit: 0xffffffff, attrs: SEGMENT_ATTRS.code64 };
  const data = { selector: SELECTORS.data, base: 0n, limit: 0xffffffff, attrs: SEGMENT_ATTRS.data };
  return {
    gpr,
    rip: LAYOUT.code,
    rflags,
    seg: { cs: code, ss: { ...data }, ds: { ...data }, es: { ...data }, fs: { ...data }, gs: { ...data } },
    fsBase: 0n,
    gsBase: 0n,
    kernelGsBase: 0n,
    cr0: CR0_TEST,
    cr2: 0n,
    cr3: LAYOUT.pml4,
    cr4: CR4_TEST,
    cr8: 0n,
    efer: EFER_TEST,
    gdtr: { base: 0n, limit: 0xffff },
    idtr: { base: 0n, limit: 0xffff },
  };
}

export function buildTestMachine(options: TestMachineOptions): TestMachine {
  // Case files are checked by the case schema first; these guard cases built in code.
  if (options.code.length > MAX_CODE_BYTES) {
    throw new RangeError(`code is ${options.code.length} bytes; the test machine holds at most ${MAX_CODE_BYTES}`);
  }
  const caseMemory = [{ addr: LAYOUT.code, bytes: options.code }, ...(options.memory ?? [])];
  const memory = [...systemMemory(), ...caseMemory];
  for (const region of options.memory ?? []) {
    const problem = caseRegionProblem(region.addr, region.bytes.length);
    if (problem) throw new RangeError(`memory ${problem}`);
  }
  return {
    state: {
      ...initialState(options.regs, options.rflags),
      fsBase: options.fsBase ?? 0n,
      gsBase: options.gsBase ?? 0n,
      ...(options.sse ? { sse: { mxcsr: options.sse.mxcsr, xmm: [...options.sse.xmm] } } : {}),
    },
    memory,
    caseMemory,
    endAddress: LAYOUT.code + BigInt(options.code.length),
    trampoline: jumpTo(LAYOUT.code + BigInt(options.code.length), LAYOUT.blockEnd),
    exceptionStops: Array.from({ length: LAYOUT.sharedVectorsFrom + 1 }, (_, v) => LAYOUT.handlers + BigInt(v) * LAYOUT.handlerStride),
  };
}

export interface ExceptionInfo {
  readonly vector: number;
  readonly errorCode?: number;
  /** CR2 at delivery, for #PF. */
  readonly cr2?: bigint;
  /** RIP saved in the exception frame (the faulting instruction for faults). */
  readonly rip: bigint;
}

/** If `state` sits on an exception stop address, decode the frame the CPU pushed. */
export async function classifyException(
  state: MachineState,
  readStack: (addr: bigint, length: number) => Promise<Uint8Array>,
  /** Stack slot width of the exception frame: 8 in IA-32e mode, 4 through a 32-bit gate, 2 through the real-mode IVT. */
  slot: 2 | 4 | 8 = 8,
): Promise<ExceptionInfo | undefined> {
  const offset = state.rip - LAYOUT.handlers;
  const stops = BigInt(LAYOUT.sharedVectorsFrom + 1);
  if (offset < 0n || offset >= stops * LAYOUT.handlerStride || offset % LAYOUT.handlerStride !== 0n) return undefined;
  // 32 stands for "some vector from 32 up" (software INT n or an external interrupt)
  const vector = Number(offset / LAYOUT.handlerStride);
  if (slot === 2) {
    // real mode (SDM Vol. 3 §20.1.4): FLAGS, CS, IP pushed at SS:SP (base = SS·16: QEMU's stub shows no bases), never an error code
    const frame = await readStack(BigInt(state.seg.ss.selector) * 16n + (state.gpr.rsp & 0xffffn), 2);
    return { vector, rip: BigInt(frame[0]! | (frame[1]! << 8)) };
  }
  const hasError = ERROR_CODE_VECTORS.has(vector);
  const frame = await readStack(state.gpr.rsp, 2 * slot);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const read = (at: number): bigint => (slot === 8 ? view.getBigUint64(at, true) : BigInt(view.getUint32(at, true)));
  const errorCode = hasError ? Number(read(0) & 0xffffffffn) : undefined;
  const rip = read(hasError ? slot : 0);
  return { vector, errorCode, cr2: vector === 14 ? state.cr2 : undefined, rip };
}
