/**
 * The batch machine: a guest-side runner that executes many fuzz cases per gdb round trip.
 *
 * Per-case lockstep costs ~25 gdb packets (reset, registers, breakpoints, state, memory), which
 * caps a QEMU worker near 200 cases/s. The batch runner instead lives in guest memory above the
 * test machine (physical = virtual 0x100000–0x1fffff, a range the test machine leaves unmapped
 * and that fragments' string drift cannot reach: it faults at 0x30000 first). For each staged
 * case it copies the case's code and memory into place, loads its registers with IRETQ (so a
 * TF set in the case's RFLAGS traps after the first instruction, as with a direct load), runs
 * it, and records the outcome: registers, RFLAGS, selectors, FS/GS bases, and a hash of the
 * compared memory — or, when the case raised an exception, the vector, error code, CR2 and the
 * frame (exceptions go through IST 1, so even a case that wrecked RSP is recorded). A batch with
 * x87/MMX/SSE instructions (the control block's `simd`) also starts every case from one x87/SSE
 * state (FXRSTOR of a clean image: what a per-case reset loads) and adds to its record a hash of
 * the FXSAVE image the case leaves (FCW, FSW, abridged FTW, MXCSR, ST0–7, XMM0–15). Both targets
 * run the same batch program; records that differ send their case to the ordinary per-case
 * lockstep, which is authoritative and produces the report.
 *
 * Everything the runner needs (its page tables, GDT with a TSS, IDT, stubs) lives in the batch
 * area, so the test machine's own pages are never rewritten; the runner loads GDTR/IDTR/TR itself
 * and restores the test machine's GDTR/IDTR at the end (QEMU's gdb stub cannot write them).
 */
import { buildTestMachine, initialState, LAYOUT, PTE, SELECTORS, systemMemory } from '../../contracts/test-machine.js';
import type { MachineState, MemoryRegion } from '../../contracts/machine-state.js';
import { SCRUBBED } from '../lockstep.js';
import { exceptionStubs, put, putTssDescriptor, stubGateIdt } from './runner-tables.js';
import { assembleRunner } from './runner-assembly.js';

export const BATCH = {
  /** Runner code. */
  code: 0x100000n,
  /** Control block: q0 next case index, q1 case count, q2 the batch's serial; pseudo-descriptors at +0x40…+0x70. */
  ctrl: 0x101000n,
  /** Record of the case being finished (copied to `results` when complete). */
  save: 0x101100n,
  /** Descriptor of the case being run (copied from `descs`). */
  cur: 0x101200n,
  tss: 0x101400n,
  runnerStackTop: 0x103000n,
  istStackTop: 0x104000n,
  results: 0x104000n,
  /**
   * The x87/SSE state every case of a `simd` batch starts from (FXRSTOR), and where the runner
   * FXSAVEs the state a case leaves: 16-byte aligned, in the control page after the TSS.
   */
  simdClean: 0x101600n,
  simdSave: 0x101800n,
  /** Per-case descriptors, then the staged memory right after the last one. */
  descs: 0x10c000n,
  maxCases: 128,
  areaEnd: 0x1f0000n,
  pml4: 0x1f0000n,
  pdpt: 0x1f1000n,
  pd: 0x1f2000n,
  pt: 0x1f3000n,
  /** GDT base: selectors ≥ 0x1000 land on the next page, as in the test machine. */
  gdtBase: 0x1f4000n,
  idt: 0x1f6000n,
  stubs: 0x1f7000n,
  /**
   * Entry and exit, in the test machine's handler page (mapped, executable, the same under both
   * page tables): `enter` loads the batch page tables and jumps to RBX; `leave` loads the test
   * machine's and halts on the batch's end. A target is thus reset into a batch with the test
   * machine's CR3, so a gdb stub goes between batch and per-case runs with one `G` packet
   * instead of re-establishing the mode (QEMU: ~20 packets and two `info registers`). The end
   * is also off the runner's page: QEMU 7.2 runs a page holding a breakpoint one instruction
   * per translation block without chaining (cpu-exec.c check_for_breakpoints).
   */
  enter: LAYOUT.handlers + 0x800n,
  leave: LAYOUT.handlers + 0x840n,
  recordBytes: 256,
  descBytes: 256,
} as const;

export const TSS_SELECTOR = 0x1020;

/**
 * The descriptor-table registers the runner loads (LGDT, LIDT, LTR from its pseudo-descriptors
 * and GDT) and holds while cases run; the TSS cache as an LTR leaves it (busy 64-bit TSS, QEMU's
 * attribute encoding: descriptor high dword & 0x00f0ff00).
 */
export const BATCH_TABLES = {
  gdt: { base: BATCH.gdtBase, limit: 0xffff },
  idt: { base: BATCH.idt, limit: 0xfff },
  tr: { selector: TSS_SELECTOR, base: BATCH.tss, limit: 0x67, attrs: 0x8b00 },
} as const;

/**
 * A breakpoint no case reaches, on the case's first code page. It makes QEMU translate the case
 * one instruction per block (cpu-exec.c check_for_breakpoints). QEMU 7.2 computes CMPXCHG8B's
 * flags from a stale lazy-flag state when a flag-setting instruction precedes it in the same
 * translation block (translate.c calls the helper without gen_update_cc_op): the per-case
 * lockstep gets the hardware result, a batch without this stop did not (measured: all the
 * batch/per-case disagreements of a 3,200-case run went away with it).
 * Cases whose code reaches it run alone (batch-image.ts batchIneligible).
 */
export const BATCH_CODE_PAGE_STOP = LAYOUT.code + 0xff0n;

/** Offsets (bytes) inside a case descriptor and a result record. GPRs are in encoding order. */
export const DESC = { gpr: 0x00, rflags: 0x80, fsBase: 0x88, gsBase: 0x90, copyCount: 0x98, copyPtr: 0xa0, hashCount: 0xa8, hashPtr: 0xb0, rip: 0xb8 } as const;
/**
 * `serial` is the control block's q2, stamped on every record: a record below the control
 * block's index that lacks this batch's serial was not written by this batch (a target whose
 * runner broke, or a batch that stopped, leaves an earlier batch's records in place).
 */
export const RECORD = {
  gpr: 0x00, rflags: 0x80, fsBase: 0x88, gsBase: 0x90, status: 0x98, vector: 0xa0, errorCode: 0xa8,
  frameRip: 0xb0, frameCs: 0xb8, frameSs: 0xc0, cr2: 0xc8, hash: 0xd0, selectors: 0xd8, simdHash: 0xe0, hash2: 0xe8, serial: 0xf0, simdHash2: 0xf8,
} as const;
/** Offsets (bytes) in the control block; `simd` non-zero: the batch saves and restores x87/SSE state per case. */
export const CTRL = { index: 0x00, count: 0x08, serial: 0x10, simd: 0x18 } as const;
/**
 * The part of the FXSAVE image a `simd` record hashes: FCW, FSW, abridged FTW, FOP, FIP, FDP,
 * MXCSR, MXCSR_MASK, ST0–ST7 (10 bytes and 6 of padding each) and XMM0–XMM15 (SDM Vol. 1 Table
 * 10-2). QEMU 7.2 writes zeros for FIP/FDP and leaves FOP and the padding as they were: zero in
 * BATCH.simdSave, which nothing else writes.
 */
export const SIMD_IMAGE_BYTES = 416;
/**
 * `unfinished` is written only by the emulator's native batch (native-batch.ts), for a case that
 * did not end within its allowance or stopped otherwise (HLT, a triple fault, a stop outside the
 * batch): where the guest runner's batch would not have reached its end. No guest record has it.
 */
export const RECORD_STATUS = { completed: 1, exception: 2, unfinished: 3 } as const;
/** Copy-list entries {dst, src, qwords, value}: these `src` values make qwords instead of copying them. */
export const COPY_SOURCE = { fill: 0n, xorshift: 1n } as const;

/**
 * Memory checksum over the compared qwords, Fletcher-style mod 2^64: a = Σ q, b = Σ a (each q
 * weighted by its distance from the end). Any single changed qword changes a; two changes that
 * cancel in a (δ and −δ) still change b unless δ·(distance) ≡ 0 mod 2^64. Two adds per qword:
 * the interpreter runs this ~400 times per case, and multiplies or rotates cost it far more.
 */
export const HASH_SEED = 0x9e3779b97f4a7c15n;

/** Vectors whose stub expects an error code on the stack (the stubs push 0 for the others). */
export { ERROR_CODE_VECTORS } from './runner-tables.js';

const hex = (v: bigint | number) => `0x${v.toString(16)}`;

const GPRS = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;

/**
 * The runner, Intel syntax for keystone (every number in hex: keystone reads bare numbers as
 * hex). All its data is addressed from RBP = BATCH.ctrl: keystone mis-encodes some absolute
 * operands as RIP-relative with the absolute value as displacement, so the only absolute form
 * used is the moffs store of RAX that frees a register when a case ends.
 */
function runnerSource(): string {
  const SAVE = Number(BATCH.save - BATCH.ctrl);
  const CUR = Number(BATCH.cur - BATCH.ctrl);
  const ctrlQ = (offset: number) => `qword ptr [rbp + ${hex(offset)}]`;
  const save = (offset: number) => ctrlQ(SAVE + offset);
  const cur = (offset: number) => ctrlQ(CUR + offset);
  /** Entry from case context: RAX saved by moffs, then every other GPR through RAX. */
  const saveCaseGprs = (withRsp: boolean) => [
    `mov qword ptr [${hex(BATCH.save)}], rax`,
    `mov eax, ${hex(BATCH.ctrl)}`,
    ...GPRS.flatMap((r, i) => (r === 'rax' || (r === 'rsp' && !withRsp) ? [] : [`mov qword ptr [rax + ${hex(SAVE + i * 8)}], ${r}`])),
    'mov rbp, rax',
  ];
  const tssTypeByte = BATCH.gdtBase + BigInt(TSS_SELECTOR) + 5n;
  return [
    'start:',
    `mov ebp, ${hex(BATCH.ctrl)}`,
    'lgdt [rbp + 0x40]',
    'lidt [rbp + 0x50]',
    // the TSS descriptor is left busy by the previous batch's LTR
    `mov eax, ${hex(tssTypeByte)}`,
    'and byte ptr [rax], 0xfd',
    `mov ax, ${hex(TSS_SELECTOR)}`,
    'ltr ax',
    'next_case:',
    `mov rax, ${ctrlQ(CTRL.index)}`,
    `cmp rax, ${ctrlQ(CTRL.count)}`,
    'jae finish',
    'cld',
    'mov rsi, rax',
    'shl rsi, 0x8',
    `add rsi, ${hex(BATCH.descs)}`,
    `mov edi, ${hex(BATCH.cur)}`,
    'mov ecx, 0x20',
    'rep movsq',
    'xor eax, eax',
    `mov edi, ${hex(BATCH.save)}`,
    'mov ecx, 0x20',
    'rep stosq',
    `mov r8, ${cur(DESC.copyPtr)}`,
    `mov r9, ${cur(DESC.copyCount)}`,
    // entries {dst, src, qwords, value}: src 0 means fill with value (runs of zeros, say), src 1
    // the xorshift64 stream after value (the generator's scratch fill), any other src a copy
    'copy_next:',
    'test r9, r9',
    'jz copy_done',
    'mov rdi, qword ptr [r8]',
    'mov rsi, qword ptr [r8 + 0x8]',
    'mov rcx, qword ptr [r8 + 0x10]',
    'mov rax, qword ptr [r8 + 0x18]',
    'test rsi, rsi',
    'jz copy_fill',
    'cmp rsi, 1',
    'je copy_xorshift',
    'rep movsq',
    'jmp copy_step',
    'copy_fill:',
    'rep stosq',
    'jmp copy_step',
    // x ^= x << 13; x ^= x >> 7; x ^= x << 17 (harness/generate/xorshift64.ts), stored; rcx > 0
    'copy_xorshift:',
    'mov rdx, rax', 'shl rdx, 0xd', 'xor rax, rdx',
    'mov rdx, rax', 'shr rdx, 0x7', 'xor rax, rdx',
    'mov rdx, rax', 'shl rdx, 0x11', 'xor rax, rdx',
    // a store and an add rather than STOSQ: the emulator compiles this loop into one block
    'mov qword ptr [rdi], rax',
    'add rdi, 0x8',
    'dec rcx',
    'jnz copy_xorshift',
    'copy_step:',
    'add r8, 0x20',
    'dec r9',
    'jmp copy_next',
    'copy_done:',
    `mov ax, ${hex(SELECTORS.data)}`,
    'mov ds, ax', 'mov es, ax', 'mov fs, ax', 'mov gs, ax', 'mov ss, ax',
    'mov ecx, 0xc0000100',
    `mov eax, dword ptr [rbp + ${hex(CUR + DESC.fsBase)}]`,
    `mov edx, dword ptr [rbp + ${hex(CUR + DESC.fsBase + 4)}]`,
    'wrmsr',
    'mov ecx, 0xc0000101',
    `mov eax, dword ptr [rbp + ${hex(CUR + DESC.gsBase)}]`,
    `mov edx, dword ptr [rbp + ${hex(CUR + DESC.gsBase + 4)}]`,
    'wrmsr',
    // a simd batch: every case starts from the clean x87/SSE state a per-case reset loads
    `cmp ${ctrlQ(CTRL.simd)}, 0`,
    'je simd_in_done',
    `fxrstor [rbp + ${hex(Number(BATCH.simdClean - BATCH.ctrl))}]`,
    'simd_in_done:',
    // IRETQ loads RSP, RFLAGS and RIP at once (a TF in the case's RFLAGS traps after its first instruction)
    `mov rsp, ${hex(BATCH.runnerStackTop)}`,
    `push ${hex(SELECTORS.data)}`,
    `push ${cur(DESC.gpr + 4 * 8)}`,
    `push ${cur(DESC.rflags)}`,
    `push ${hex(SELECTORS.code64)}`,
    `push ${cur(DESC.rip)}`,
    ...GPRS.flatMap((r, i) => (r === 'rsp' || r === 'rbp' ? [] : [`mov ${r}, ${cur(DESC.gpr + i * 8)}`])),
    `mov rbp, ${cur(DESC.gpr + 5 * 8)}`,
    'iretq',
    // the case ran to its end (its trampoline jumps here)
    'case_done:',
    ...saveCaseGprs(true),
    `mov rsp, ${hex(BATCH.runnerStackTop)}`,
    'pushfq',
    `pop ${save(RECORD.rflags)}`,
    // the runner does not go on with the case's flags: an NT left set makes the next IRETQ #GP,
    // AC or DF would change what the runner's own instructions do
    'push 0x2',
    'popfq',
    `mov ${save(RECORD.status)}, ${RECORD_STATUS.completed}`,
    'jmp record',
    // exception stubs push (error code or 0, vector) on the IST stack and jump here
    'exception:',
    ...saveCaseGprs(false),
    `pop ${save(RECORD.vector)}`,
    `pop ${save(RECORD.errorCode)}`,
    `pop ${save(RECORD.frameRip)}`,
    `pop ${save(RECORD.frameCs)}`,
    `pop ${save(RECORD.rflags)}`,
    `pop ${save(DESC.gpr + 4 * 8)}`,
    `pop ${save(RECORD.frameSs)}`,
    'mov rax, cr2',
    `mov ${save(RECORD.cr2)}, rax`,
    `mov ${save(RECORD.status)}, ${RECORD_STATUS.exception}`,
    `mov rsp, ${hex(BATCH.runnerStackTop)}`,
    'record:',
    'cld',
    // not SS: QEMU 7.2 loads a null SS on every IST delivery, the SDM only on a CPL change, and
    // fragments cannot load SS anyway
    ...(['ds', 'es', 'fs', 'gs'] as const).flatMap((sr, i) => [`mov ax, ${sr}`, `mov word ptr [rbp + ${hex(SAVE + RECORD.selectors + 2 * i)}], ax`]),
    'mov ecx, 0xc0000100',
    'rdmsr',
    `mov dword ptr [rbp + ${hex(SAVE + RECORD.fsBase)}], eax`,
    `mov dword ptr [rbp + ${hex(SAVE + RECORD.fsBase + 4)}], edx`,
    'mov ecx, 0xc0000101',
    'rdmsr',
    `mov dword ptr [rbp + ${hex(SAVE + RECORD.gsBase)}], eax`,
    `mov dword ptr [rbp + ${hex(SAVE + RECORD.gsBase + 4)}], edx`,
    `mov rax, ${hex(HASH_SEED)}`,
    'xor edx, edx',
    `mov r8, ${cur(DESC.hashPtr)}`,
    `mov r9, ${cur(DESC.hashCount)}`,
    'hash_next:',
    'test r9, r9',
    'jz hash_done',
    'mov rsi, qword ptr [r8]',
    'mov rcx, qword ptr [r8 + 0x8]',
    // four qwords a round while four are left (11 instructions instead of 20), then one at a time
    'sub rcx, 4',
    'jb hash_tail',
    'hash_four:',
    ...[0, 8, 16, 24].flatMap((o) => [`add rax, qword ptr [rsi + ${hex(o)}]`, 'add rdx, rax']),
    'add rsi, 0x20',
    'sub rcx, 4',
    'jae hash_four',
    'hash_tail:',
    'add rcx, 4',
    'jz hash_range_done',
    'hash_qword:',
    'add rax, qword ptr [rsi]',
    'add rdx, rax',
    'add rsi, 0x8',
    'dec rcx',
    'jnz hash_qword',
    'hash_range_done:',
    'add r8, 0x10',
    'dec r9',
    'jmp hash_next',
    'hash_done:',
    `mov ${save(RECORD.hash)}, rax`,
    `mov ${save(RECORD.hash2)}, rdx`,
    // a simd batch: the same checksum over the FXSAVE image the case leaves
    `cmp ${ctrlQ(CTRL.simd)}, 0`,
    'je simd_out_done',
    `fxsave [rbp + ${hex(Number(BATCH.simdSave - BATCH.ctrl))}]`,
    `lea rsi, [rbp + ${hex(Number(BATCH.simdSave - BATCH.ctrl))}]`,
    `mov ecx, ${hex(SIMD_IMAGE_BYTES / 8)}`,
    `mov rax, ${hex(HASH_SEED)}`,
    'xor edx, edx',
    'simd_qword:',
    'add rax, qword ptr [rsi]',
    'add rdx, rax',
    'add rsi, 0x8',
    'dec rcx',
    'jnz simd_qword',
    `mov ${save(RECORD.simdHash)}, rax`,
    `mov ${save(RECORD.simdHash2)}, rdx`,
    'simd_out_done:',
    `mov rax, ${ctrlQ(CTRL.serial)}`,
    `mov ${save(RECORD.serial)}, rax`,
    `mov rdi, ${ctrlQ(CTRL.index)}`,
    'shl rdi, 0x8',
    `add rdi, ${hex(BATCH.results)}`,
    `mov esi, ${hex(BATCH.save)}`,
    'mov ecx, 0x20',
    'rep movsq',
    `inc ${ctrlQ(CTRL.index)}`,
    'jmp next_case',
    // back to the test machine's descriptor tables, then stop
    'finish:',
    `mov ebp, ${hex(BATCH.ctrl)}`,
    'lgdt [rbp + 0x60]',
    'lidt [rbp + 0x70]',
    `mov eax, ${hex(BATCH.leave)}`,
    'jmp rax',
    // zero the test machine's stack, code and data pages (LockstepRunner.scrub), then stop: a
    // gdb stub then receives a few register packets instead of 160 KiB of hex
    'scrub:',
    'cld',
    'xor eax, eax',
    `mov edi, ${hex(SCRUBBED.addr)}`,
    `mov ecx, ${hex(SCRUBBED.length / 8)}`,
    'rep stosq',
    `mov eax, ${hex(BATCH.leave)}`,
    'jmp rax',
  ].join('\n');
}

let perCaseStops: bigint[] | undefined;

/**
 * A batch's stops: its end, plus the per-case lockstep's (block end, exception stops) and the
 * case page's stop, which a batch never reaches (its trampolines and IDT lead elsewhere):
 * keeping them inserted spares a gdb stub like QEMU's removing and re-inserting 34 breakpoints,
 * and flushing its translated code each time, whenever a case falls back to the per-case lockstep.
 */
export function batchStops(program: BatchProgram): bigint[] {
  return [
    program.done,
    BATCH_CODE_PAGE_STOP,
    ...(perCaseStops ??= [LAYOUT.blockEnd, ...buildTestMachine({ code: new Uint8Array(0) }).exceptionStops]),
  ];
}

export interface BatchProgram {
  /** Memory the runner needs, written once per target. */
  readonly system: MemoryRegion[];
  readonly entry: bigint;
  /** Where a case's trampoline jumps when the case ran to its end. */
  readonly caseDone: bigint;
  /** Entry that only restores the test machine's descriptor tables (after an aborted batch). */
  readonly finish: bigint;
  /** Entry that zeroes SCRUBBED (lockstep.ts: the test machine's stack, code and data pages), then stops at done. */
  readonly scrub: bigint;
  /** Breakpoint: the batch is over (the test machine's page tables are back). */
  readonly done: bigint;
  /**
   * Initial CPU state for running the batch: the runner's stack, the test machine's CR3, RIP at
   * the gateway that loads the batch page tables and jumps to RBX (the runner's start; another
   * entry such as `finish` or `scrub` goes in RBX).
   */
  readonly state: MachineState;
  /**
   * The gateway's bytes, in the test machine's handler page: a per-case load of the test
   * machine's system memory overwrites them, so every batch load writes them again.
   */
  readonly gateway: MemoryRegion;
}

let programPromise: Promise<BatchProgram> | undefined;

/** The runner assembled (keystone, checked by iced) and its system memory; built once per process. */
export function batchProgram(): Promise<BatchProgram> {
  return (programPromise ??= buildBatchProgram());
}

async function buildBatchProgram(): Promise<BatchProgram> {
  const { code, labels, gateway, done } = await assembleRunner(runnerSource(), {
    name: 'batch runner', code: BATCH.code, pml4: BATCH.pml4, enter: BATCH.enter, leave: BATCH.leave,
    labels: ['case_done', 'exception', 'finish', 'scrub'],
  });
  // the test machine's CR3 (its key for a gdb stub's mode setup), entering at the gateway with RBX the runner's start
  const base = initialState({ rsp: BATCH.runnerStackTop });
  const state: MachineState = { ...base, rip: BATCH.enter, gpr: { ...base.gpr, rbx: BATCH.code } };
  return {
    // the test machine's own tables too: the gdb stub loads segment caches from its GDT (at 0)
    system: [
      ...systemMemory(),
      { addr: BATCH.code, bytes: code },
      { addr: BATCH.ctrl + 0x40n, bytes: pseudoDescriptors() },
      { addr: BATCH.tss, bytes: tss() },
      { addr: BATCH.simdClean, bytes: cleanSimdImage() },
      { addr: BATCH.simdSave, bytes: new Uint8Array(512) },
      { addr: BATCH.pml4, bytes: pageTables() },
      { addr: BATCH.gdtBase + 0x1000n, bytes: gdtPage() },
      { addr: BATCH.idt, bytes: stubGateIdt(BATCH.stubs) },
      { addr: BATCH.stubs, bytes: exceptionStubs(BATCH.stubs, labels.exception!) },
      gateway,
    ],
    gateway,
    entry: BATCH.code,
    caseDone: labels.case_done!,
    finish: labels.finish!,
    scrub: labels.scrub!,
    done,
    state,
  };
}

/** lgdt/lidt operands: batch GDT, batch IDT, then the test machine's {0, 0xffff} twice. */
function pseudoDescriptors(): Uint8Array {
  const b = new Uint8Array(0x40); // at BATCH.ctrl + 0x40
  put(b, 0x00, BigInt(BATCH_TABLES.gdt.limit), 2);
  put(b, 0x02, BATCH_TABLES.gdt.base);
  put(b, 0x10, BigInt(BATCH_TABLES.idt.limit), 2);
  put(b, 0x12, BATCH_TABLES.idt.base);
  put(b, 0x20, 0xffffn, 2);
  put(b, 0x22, 0n);
  put(b, 0x30, 0xffffn, 2);
  put(b, 0x32, 0n);
  return b;
}

/**
 * The FXRSTOR image of the state a per-case reset gives both targets (contracts/test-machine.ts
 * initialState without fpu/sse: FCW 0x37F, FSW 0, every tag empty, ST0–7 zero, MXCSR 0x1F80,
 * XMM0–15 zero).
 */
export function cleanSimdImage(): Uint8Array {
  const b = new Uint8Array(512);
  put(b, 0, 0x37fn, 2);
  put(b, 24, 0x1f80n, 4);
  put(b, 28, 0xffffn, 4);
  return b;
}

function tss(): Uint8Array {
  const b = new Uint8Array(0x68);
  put(b, 0x24, BATCH.istStackTop); // IST1
  put(b, 0x66, 0x68n, 2); // no I/O bitmap
  return b;
}

function gdtPage(): Uint8Array {
  const page = new Uint8Array(0x1000);
  put(page, SELECTORS.code64 - 0x1000, 0x00af9b000000ffffn);
  put(page, SELECTORS.data - 0x1000, 0x00cf93000000ffffn);
  put(page, SELECTORS.code32 - 0x1000, 0x00cf9b000000ffffn);
  putTssDescriptor(page, TSS_SELECTOR - 0x1000, BATCH_TABLES.tr.base, BATCH_TABLES.tr.limit);
  return page;
}

/**
 * The test machine's mappings (same pages, same permissions, so a case sees what it would see
 * alone) plus the batch area: supervisor read/write, A/D preset, executable only where code is
 * (BatchScreen writes the control block and staging area through a path that would not
 * invalidate code translated from them: QEMU's shared RAM file).
 */
function pageTables(): Uint8Array {
  const t = new Uint8Array(0x4000);
  const upper = PTE.P | PTE.RW | PTE.A;
  put(t, 0x0000, BATCH.pdpt | upper);
  put(t, 0x1000, BATCH.pd | upper);
  put(t, 0x2000, BATCH.pt | upper);
  const testMachine = testMachineLeafFlags();
  for (let i = 0; i < 512; i++) {
    const addr = BigInt(i) << 12n;
    let flags = testMachine.get(addr);
    if (addr >= BATCH.code && addr < 0x200000n) {
      flags = PTE.P | PTE.RW | PTE.A | PTE.D | (addr === BATCH.code || addr === BATCH.stubs ? 0n : PTE.NX);
    }
    if (flags !== undefined) put(t, 0x3000 + i * 8, addr | flags);
  }
  return t;
}

/** Leaf flags of the test machine's own page table (read from the pages it builds). */
function testMachineLeafFlags(): Map<bigint, bigint> {
  const out = new Map<bigint, bigint>();
  const pt = systemPageTable();
  const view = new DataView(pt.buffer, pt.byteOffset, pt.byteLength);
  for (let i = 0; i < 512; i++) {
    const e = view.getBigUint64(i * 8, true);
    if (e & PTE.P) out.set(BigInt(i) << 12n, e & ~0x000ffffffffff000n);
  }
  return out;
}


function systemPageTable(): Uint8Array {
  const tables = systemMemory().find((r) => r.addr === LAYOUT.pml4);
  if (!tables) throw new Error('test machine has no page tables');
  return tables.bytes.subarray(0x3000, 0x4000);
}
