/**
 * The guest-side runner of the explore machine (explore-layout.ts): one gdb round trip runs up
 * to EXPLORE.maxCandidates candidates. For each: write its bytes at the end of the user code page
 * (after 16 bytes of INT3 filler, so bytes before it never depend on earlier candidates), FXRSTOR
 * the pristine x87/SSE image, load the user segments, the registers and an IRETQ frame with TF
 * set, and IRETQ to CPL 3. Every candidate comes back through an exception stub (IST 1): the
 * runner records the registers, the frame, the vector and error code, CR2 (for #PF), the data
 * selectors, a checksum of the data page (restored from its pristine copy when it changed) and
 * of the FXSAVE image, then a checksum of the record itself, which is all a gdb stub sends back
 * unless it differs from the emulator's.
 */
import { HASH_SEED } from '../batch/batch-layout.js';
import { exceptionStubs, stubGateIdt } from '../batch/runner-tables.js';
import { assembleRunner } from '../batch/runner-assembly.js';
import { initialState } from '../../contracts/test-machine.js';
import { LAYOUT, systemMemory } from '../../contracts/test-machine.js';
import type { MachineState, MemoryRegion } from '../../contracts/machine-state.js';
import {
  CODE_PAGE_END, CTRL, EXPLORE, gdtPage, pageTables, pseudoDescriptors, REC, RECORD_BYTES, RECORD_HASHED, tss, TSS_SELECTOR,
  USER_RFLAGS, USER_SELECTORS, userRegisters, FX_HASHED_QWORDS,
} from './explore-layout.js';
import { fxPristineImage, dataPristineImage } from './pristine.js';

const hex = (v: bigint | number) => `0x${v.toString(16)}`;
const GPRS = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;

function runnerSource(): string {
  const q = (offset: number) => `qword ptr [rbp + ${hex(offset)}]`;
  const save = (qword: number) => q(CTRL.save + qword * 8);
  const fxOff = Number(EXPLORE.fxScratch - EXPLORE.ctrl);
  const fxPristineOff = Number(EXPLORE.fxPristine - EXPLORE.ctrl);
  const aliasWindow = EXPLORE.userCodeAlias + 0xff0n;
  return [
    'start:',
    `mov ebp, ${hex(EXPLORE.ctrl)}`,
    `lgdt [rbp + ${hex(CTRL.pseudo)}]`,
    `lidt [rbp + ${hex(CTRL.pseudo + 0x10)}]`,
    // the TSS descriptor is left busy by the previous load's LTR
    `mov eax, ${hex(EXPLORE.gdtBase + BigInt(TSS_SELECTOR) + 5n)}`,
    'and byte ptr [rax], 0xfd',
    `mov ax, ${hex(TSS_SELECTOR)}`,
    'ltr ax',
    'cld',
    `mov esi, ${hex(EXPLORE.dataPristine)}`,
    `mov edi, ${hex(EXPLORE.userData)}`,
    'mov ecx, 0x200',
    'rep movsq',
    `mov esi, ${hex(EXPLORE.userData)}`,
    'mov ecx, 0x200',
    'call hash_qwords',
    `mov ${q(CTRL.pristineA)}, rax`,
    `mov ${q(CTRL.pristineB)}, rdx`,
    'next:',
    `mov rax, ${q(CTRL.index)}`,
    `cmp rax, ${q(CTRL.count)}`,
    'jae finish',
    'cld',
    // 16 bytes of INT3, then the candidate's n bytes ending at the page end
    'mov rdi, 0xcccccccccccccccc',
    `mov esi, ${hex(aliasWindow)}`,
    'mov qword ptr [rsi], rdi',
    'mov qword ptr [rsi + 0x8], rdi',
    'shl rax, 0x4',
    `lea rsi, [rax + ${hex(EXPLORE.descs)}]`,
    'movzx ecx, byte ptr [rsi]',
    'inc rsi',
    'mov rbx, rcx',
    `mov edi, ${hex(EXPLORE.userCodeAlias + 0x1000n)}`,
    'sub rdi, rcx',
    'rep movsb',
    `fxrstor [rbp + ${hex(fxPristineOff)}]`,
    `mov ax, ${hex(USER_SELECTORS.data)}`,
    'mov ds, ax',
    'mov es, ax',
    'mov fs, ax',
    'mov gs, ax',
    `mov rsp, ${hex(EXPLORE.stackTop)}`,
    `push ${hex(USER_SELECTORS.data)}`,
    `push ${q(CTRL.regs + 4 * 8)}`,
    `push ${hex(USER_RFLAGS)}`,
    `push ${hex(USER_SELECTORS.code64)}`,
    `mov eax, ${hex(CODE_PAGE_END)}`,
    'sub rax, rbx',
    'push rax',
    ...GPRS.flatMap((r, i) => (r === 'rsp' || r === 'rbp' ? [] : [`mov ${r}, ${q(CTRL.regs + i * 8)}`])),
    `mov rbp, ${q(CTRL.regs + 5 * 8)}`,
    'iretq',
    // exception stubs push (error code or 0, vector) on the IST stack and jump here
    'exception:',
    `mov qword ptr [${hex(EXPLORE.ctrl + BigInt(CTRL.raxScratch))}], rax`,
    `mov eax, ${hex(EXPLORE.ctrl)}`,
    ...GPRS.flatMap((r, i) => (r === 'rax' || r === 'rsp' ? [] : [`mov qword ptr [rax + ${hex(CTRL.save + i * 8)}], ${r}`])),
    'mov rbp, rax',
    `mov rax, ${q(CTRL.raxScratch)}`,
    `mov ${save(REC.gpr)}, rax`,
    `pop ${save(REC.vector)}`,
    `pop ${save(REC.errorCode)}`,
    `pop ${save(REC.rip)}`,
    `pop ${save(REC.cs)}`,
    `pop ${save(REC.rflags)}`,
    `pop ${save(REC.gpr + 4)}`,
    `pop ${save(REC.ss)}`,
    `mov rsp, ${hex(EXPLORE.stackTop)}`,
    'cld',
    // CR2 only for #PF: an earlier candidate's would otherwise be carried along
    'xor eax, eax',
    `cmp ${save(REC.vector)}, 0xe`,
    'jne no_cr2',
    'mov rax, cr2',
    'no_cr2:',
    `mov ${save(REC.cr2)}, rax`,
    'xor eax, eax',
    'mov ax, gs',
    'shl rax, 0x10',
    'mov ax, fs',
    'shl rax, 0x10',
    'mov ax, es',
    'shl rax, 0x10',
    'mov ax, ds',
    `mov ${save(REC.selectors)}, rax`,
    `mov esi, ${hex(EXPLORE.userData)}`,
    'mov ecx, 0x200',
    'call hash_qwords',
    `mov ${save(REC.memA)}, rax`,
    `mov ${save(REC.memB)}, rdx`,
    `cmp rax, ${q(CTRL.pristineA)}`,
    'jne restore_data',
    `cmp rdx, ${q(CTRL.pristineB)}`,
    'je data_ok',
    'restore_data:',
    `mov esi, ${hex(EXPLORE.dataPristine)}`,
    `mov edi, ${hex(EXPLORE.userData)}`,
    'mov ecx, 0x200',
    'rep movsq',
    'data_ok:',
    // FXSAVE into a zeroed area (QEMU leaves the ST padding unwritten), then zero FOP, FIP, FDP, MXCSR_MASK
    `lea rdi, [rbp + ${hex(fxOff)}]`,
    'xor eax, eax',
    'mov ecx, 0x40',
    'rep stosq',
    `fxsave [rbp + ${hex(fxOff)}]`,
    `mov word ptr [rbp + ${hex(fxOff + 6)}], ax`,
    `mov ${q(fxOff + 8)}, rax`,
    `mov ${q(fxOff + 16)}, rax`,
    `mov dword ptr [rbp + ${hex(fxOff + 28)}], eax`,
    `lea rsi, [rbp + ${hex(fxOff)}]`,
    `mov ecx, ${hex(FX_HASHED_QWORDS)}`,
    'call hash_qwords',
    `mov ${save(REC.fpuA)}, rax`,
    `mov ${save(REC.fpuB)}, rdx`,
    `mov rax, ${q(CTRL.serial)}`,
    `mov ${save(REC.serial)}, rax`,
    `lea rsi, [rbp + ${hex(CTRL.save)}]`,
    `mov ecx, ${hex(RECORD_HASHED)}`,
    'call hash_qwords',
    `mov rdi, ${q(CTRL.index)}`,
    'shl rdi, 0x4',
    `mov qword ptr [rdi + ${hex(EXPLORE.digests)}], rax`,
    `mov qword ptr [rdi + ${hex(EXPLORE.digests + 8n)}], rdx`,
    `mov rdi, ${q(CTRL.index)}`,
    'shl rdi, 0x8',
    `add rdi, ${hex(EXPLORE.records)}`,
    `lea rsi, [rbp + ${hex(CTRL.save)}]`,
    `mov ecx, ${hex(RECORD_BYTES / 8)}`,
    'rep movsq',
    `inc ${q(CTRL.index)}`,
    'jmp next',
    // a = seed + Σ q, b = Σ a over RCX qwords at RSI (harness/batch's checksum) → RAX = a, RDX = b
    'hash_qwords:',
    `mov rax, ${hex(HASH_SEED)}`,
    'xor edx, edx',
    'hash_loop:',
    'add rax, qword ptr [rsi]',
    'add rdx, rax',
    'add rsi, 0x8',
    'dec rcx',
    'jnz hash_loop',
    'ret',
    'finish:',
    `lgdt [rbp + ${hex(CTRL.pseudo + 0x20)}]`,
    `lidt [rbp + ${hex(CTRL.pseudo + 0x30)}]`,
    `mov eax, ${hex(EXPLORE.leave)}`,
    'jmp rax',
  ].join('\n');
}

export interface ExploreProgram {
  /** Everything the runner needs, written once per target (the test machine's tables too: the gdb stub loads segment caches from them). */
  readonly system: MemoryRegion[];
  /** The gateway's bytes (a test-machine load of the handler page overwrites them): written with every batch. */
  readonly gateway: MemoryRegion;
  /** State entering the runner through the gateway. */
  readonly state: MachineState;
  /** Breakpoint: the batch is over (the test machine's CR3 and tables are back). */
  readonly done: bigint;
  /** Where the exception stubs jump (the emulator stops at the stubs instead). */
  readonly exception: bigint;
}

let programPromise: Promise<ExploreProgram> | undefined;

/** The runner assembled (keystone; its decoding checked by iced) and its memory; built once per process. */
export function exploreProgram(): Promise<ExploreProgram> {
  return (programPromise ??= buildProgram());
}

async function buildProgram(): Promise<ExploreProgram> {
  const { code, labels, gateway, done } = await assembleRunner(runnerSource(), {
    name: 'explore runner', code: EXPLORE.code, pml4: EXPLORE.pml4, enter: EXPLORE.enter, leave: EXPLORE.leave,
    labels: ['exception'], maxBytes: 0x1000,
  });
  const regs = new Uint8Array(16 * 8);
  const regView = new DataView(regs.buffer);
  userRegisters().forEach((v, i) => regView.setBigUint64(i * 8, v, true));
  const base = initialState({ rsp: EXPLORE.stackTop });
  return {
    system: [
      ...systemMemory(),
      { addr: EXPLORE.code, bytes: code },
      { addr: EXPLORE.ctrl + BigInt(CTRL.pseudo), bytes: pseudoDescriptors() },
      { addr: EXPLORE.ctrl + BigInt(CTRL.regs), bytes: regs },
      { addr: EXPLORE.tss, bytes: tss() },
      { addr: EXPLORE.gdtBase + 0x1000n, bytes: gdtPage() },
      // DPL 0 gates: INT n and INT3 from CPL 3 raise #GP
      { addr: EXPLORE.idt, bytes: stubGateIdt(EXPLORE.stubs) },
      { addr: EXPLORE.stubs, bytes: exceptionStubs(EXPLORE.stubs, labels.exception!) },
      { addr: EXPLORE.fxPristine, bytes: fxPristineImage() },
      { addr: EXPLORE.dataPristine, bytes: dataPristineImage() },
      { addr: EXPLORE.userCode, bytes: new Uint8Array(0x1000).fill(0xcc) },
      { addr: EXPLORE.pml4, bytes: pageTables() },
      gateway,
    ],
    gateway,
    state: { ...base, rip: EXPLORE.enter, gpr: { ...base.gpr, rbx: EXPLORE.code } },
    done,
    exception: labels.exception!,
  };
}

