import { QEMU64_SYSTEM_CPU } from '../cpu/cpu-model.js';
import type { SystemSequence } from './sequences-system-rows.js';
import { SEQUENCE_SETUP } from './sequences.js';

/**
 * The system-level CPUID features on the 64-bit test machine: CR4's feature bits with and without
 * the feature, SMEP (supervisor fetch from a user page), SMAP (supervisor data access to a user
 * page, EFLAGS.AC, CLAC/STAC, implicit supervisor accesses at CPL 3), UMIP (SGDT, SIDT, SLDT,
 * SMSW, STR at CPL 3), RD/WR FS/GS BASE, and what QEMU 7.2's TCG does with the flags it drops
 * (RDPID, PCID, INVPCID) and with SYSENTER/SYSEXIT on an AMD CPU in IA-32e mode. Same conventions
 * as sequences-system-rows.ts; expectations come from QEMU. `[cpu]` in a name: the sequence runs
 * under QEMU64_SYSTEM_CPU, else under plain qemu64.
 *
 * User pages: `userPages` sets U/S on the PML4, PDPT and PD entries of the first 2 MiB and on the
 * PT entries of the pages named (the tables are read-only: CR0.WP is cleared to write them, and
 * CR3 reloaded after; every sequence starts from fresh tables). Page 0x10 is the code page, 0x11
 * the second code page (code placed there with `at 0x11000`), 0x0f the top stack page, 0x20 the
 * data page, 0x09 the descriptors written at selectors 0x9000 and up.
 */


const CR4_BITS = { umip: 11, fsgsbase: 16, pcide: 17, smep: 20, smap: 21 } as const;

/** Set CR4 bit(s) by name. */
function setCr4(...bits: Array<keyof typeof CR4_BITS>): string {
  return `mov rax, cr4\n${bits.map((b) => `bts rax, ${CR4_BITS[b]}`).join('\n')}\nmov cr4, rax`;
}

/** U/S on the upper levels (unless `upper` is false) and on the PT entries of `pages`. */
function userPages(pages: readonly number[], upper = true): string {
  return [
    'mov rax, cr0\nand eax, ~0x10000\nmov cr0, rax',
    upper ? 'or qword [0x2000], 4\nor qword [0x3000], 4\nor qword [0x4000], 4' : '',
    pages.map((p) => `or qword [0x5000 + 0x${p.toString(16)}*8], 4`).join('\n'),
    'mov rax, cr3\nmov cr3, rax',
  ].filter(Boolean).join('\n');
}

/** DPL-3 64-bit code and data descriptors at 0x9000 and 0x9008 (on the stack page, in GDTR's reach). */
const RING3_DESCRIPTORS = 'mov rax, 0x00affb000000ffff\nmov [0x9000], rax\nmov rax, 0x00cff3000000ffff\nmov [0x9008], rax';

/** IRETQ to CPL 3 at `label` with RFLAGS `rflags`, RSP 0x10000 (the top stack page must be a user page). */
function toRing3(label: string, rflags = 0x2): string {
  return `push 0x900b\npush 0x10000\npush 0x${rflags.toString(16)}\npush 0x9003\nlea rax, [rel ${label}]\npush rax\niretq`;
}

/** The ring-3 descriptors, `pages` as user pages (default: code, top of stack, data), `pre` at CPL 0 (CR4 writes, STAC), then CPL 3 at `label`. */
function ring3With(pre: string, label: string, rflags = 0x2, pages: readonly number[] = [0x10, 0x0f, 0x20]): string {
  return `${RING3_DESCRIPTORS}\n${userPages(pages)}\n${pre}\n${toRing3(label, rflags)}`;
}

function cr4Sequences(add: Adder, addSys: Adder): void {
  // QEMU 7.2's helper_write_crN answers a CR4 bit that cr4_reserved_bits reserves with
  // cpu_vmexit(SVM_EXIT_ERR) even outside an SVM guest: the MOV never retires (each step restarts
  // it, nothing changes). PCIDE is not among those bits there: QEMU takes it without CPUID.PCID.
  const hang = 'QEMU 7.2 never retires MOV CR4 setting a bit its CPUID lacks (helper_write_crN calls cpu_vmexit(SVM_EXIT_ERR) outside a guest: the instruction restarts forever); the SDM says #GP(0) (the emulator)';
  const pcide = 'QEMU 7.2 sets CR4.PCIDE without CPUID.PCID (cr4_reserved_bits leaves it out; TCG has no PCID); the SDM says #GP(0) for a reserved CR4 bit (the emulator)';
  for (const bit of Object.keys(CR4_BITS) as Array<keyof typeof CR4_BITS>) {
    add(`#GP(0): mov cr4 setting ${bit.toUpperCase()} without the feature`, `${setCr4(bit)}\nmov rbx, cr4`, bit === 'pcide' ? pcide : hang);
  }
  for (const bit of ['umip', 'fsgsbase', 'smep', 'smap'] as const) {
    addSys(`mov cr4 sets and clears ${bit.toUpperCase()}`, `${setCr4(bit)}\nmov rbx, cr4\nbtr rbx, ${CR4_BITS[bit]}\nmov cr4, rbx\nmov rcx, cr4`);
  }
  addSys('#GP(0): mov cr4 setting PCIDE (TCG drops +pcid)', `${setCr4('pcide')}\nmov rbx, cr4`, pcide);
  addSys('mov cr4 with UMIP, FSGSBASE, SMEP and SMAP at once', `${setCr4('umip', 'fsgsbase', 'smep', 'smap')}\nmov rbx, cr4`);
}

function smepSequences(addSys: Adder): void {
  const userCode = 'times 0x1000 - ($ - $$) db 0xcc\nuser_code: mov ebx, 1\nmov ecx, 2\nhlt';
  addSys('SMEP: supervisor fetch from a user page is #PF (error code P | I/D)', `${userPages([0x11])}\n${setCr4('smep')}\njmp user_code\n${userCode}`);
  addSys('SMEP off: supervisor fetch from a user page runs', `${userPages([0x11])}\njmp user_code\n${userCode}`);
  addSys('SMEP: U/S only on the PT entry is a supervisor page (every level counts)', `${userPages([0x11], false)}\n${setCr4('smep')}\njmp user_code\n${userCode}`);
  addSys('SMEP: a fetch fault on a non-present page carries I/D', `${setCr4('smep')}\nmov rax, 0x40000\njmp rax`);
  addSys('SMEP: ring 3 fetches from user pages, then HLT is #GP', `${ring3With(setCr4('smep'), 'user_code', 0x2, [0x0f, 0x11, 0x20])}\n${userCode}`);
  addSys('SMEP: the CR4 write takes effect at the next fetch of the same user page', `${userPages([0x10])}\n${setCr4('smep')}\nnop`);
}

function smapSequences(add: Adder, addSys: Adder): void {
  const data = userPages([0x20]);
  addSys('SMAP: supervisor read of a user page with AC = 0 is #PF(P)', `${data}\n${setCr4('smap')}\nmov rax, [rsi]`);
  addSys('SMAP: supervisor write to a user page with AC = 0 is #PF(P | W)', `${data}\n${setCr4('smap')}\nmov [rsi+8], rbx`);
  addSys('SMAP: STAC allows, CLAC forbids again (a translation cached under AC = 1)', `${data}\n${setCr4('smap')}\nstac\nmov rax, [rsi]\nmov [rsi+0x10], rax\nadd qword [rsi+8], 1\nclac\nmov rbx, [rsi+8]`);
  addSys('SMAP: AC set and cleared by POPFQ', `${data}\n${setCr4('smap')}\npushfq\nor dword [rsp], 0x40000\npopfq\nmov rax, [rsi]\npushfq\nand dword [rsp], ~0x40000\npopfq\nmov rbx, [rsi+8]`);
  addSys('SMAP: rep movsb from a user page with AC = 0', `${data}\n${setCr4('smap')}\nmov rdi, 0x8100\nmov ecx, 4\nrep movsb`);
  addSys('SMAP: supervisor fetch from a user page is not a data access', `${userPages([0x10])}\n${setCr4('smap')}\nmov eax, 7\nadd eax, ebx`);
  addSys('SMAP off: supervisor access to a user page', `${data}\nmov rax, [rsi]\nmov [rsi+0x18], rax`);
  addSys('SMAP: descriptor in a user page, loaded at CPL 0 with AC = 0 (implicit access) is #PF', `${userPages([0x09])}\n${RING3_DESCRIPTORS}\n${setCr4('smap')}\nmov ax, 0x9008\nmov ds, ax`);
  addSys('SMAP: descriptor in a user page, loaded at CPL 0 with AC = 1', `${userPages([0x09])}\n${RING3_DESCRIPTORS}\n${setCr4('smap')}\nstac\nmov ax, 0x9008\nmov ds, ax\nmov ebx, [rsi]`);
  // At CPL 3 every supervisor access is implicit and SMAP applies whatever AC says; the IRETQ
  // itself (CPL 0, AC = 1 after STAC) reads the user-page descriptors and stack.
  const implicit = (smap: boolean) => `${ring3With(`${smap ? setCr4('smap') : ''}\nstac`, 'u', 0x40002, [0x10, 0x0f, 0x20, 0x09])}\nu: mov ax, 0x900b\nmov ds, ax\nmov ebx, [rsi]\nhlt`;
  addSys('SMAP: a descriptor in a user page loaded at CPL 3 with AC = 1 is #PF (implicit access)', implicit(true));
  addSys('SMAP off: a descriptor in a user page loaded at CPL 3', implicit(false));
  addSys('SMAP: user accesses at CPL 3 are not affected', `${ring3With(`${setCr4('smap')}\nstac`, 'u', 0x2, [0x10, 0x0f, 0x20, 0x09])}\nu: mov rax, [rsi]\nmov [rsi+0x20], rax\npush rax\npop rbx\nhlt`);
  // IRETQ's pops at CPL 3 are user accesses: SMAP does not apply to them
  addSys('SMAP: iretq at CPL 3 from a user-page stack', `${ring3With(setCr4('smap'), 'u')}\nu: mov rax, rsp\npush 0x900b\npush rax\npushfq\npush 0x9003\nlea rax, [rel v]\npush rax\niretq\nv: mov ebx, 1\nhlt`);
  addSys('#UD: clac at CPL 3', `${ring3With('', 'u')}\nu: clac`);
  addSys('#UD: stac at CPL 3', `${ring3With('', 'u')}\nu: stac`);
  addSys('clac/stac at CPL 0 with CR4.SMAP clear', 'stac\npushfq\nclac\npushfq\npop rax\npop rbx');
  add('#UD: clac without SMAP', 'clac');
  add('#UD: stac without SMAP', 'stac');
}

function umipSequences(add: Adder, addSys: Adder): void {
  const stores = ['sgdt [rsi]', 'sidt [rsi+0x10]', 'sldt ax', 'smsw ax', 'str ax', 'sldt [rsi+0x20]', 'smsw [rsi+0x22]', 'str [rsi+0x24]'];
  // TR as both sides hold it: an available 64-bit TSS at 0x9010 (QEMU keeps TR from earlier sequences)
  const ltr = 'mov rax, 0x000089000000ffff\nmov [0x9010], rax\nmov ax, 0x9010\nltr ax';
  addSys('UMIP: SGDT, SIDT, SLDT, SMSW, STR at CPL 0', `${ltr}\n${setCr4('umip')}\n${stores.join('\nmov rax, r8\n')}`);
  for (const s of stores) addSys(`#GP(0): ${s} at CPL 3 with UMIP`, `${ring3With(setCr4('umip'), 'u')}\nu: mov rax, r8\n${s}\nhlt`);
  addSys('#GP(0): sgdt to an unmapped page at CPL 3 with UMIP (checked before the operand)', `${ring3With(setCr4('umip'), 'u')}\nu: sgdt [0x40000]`);
  add('SGDT, SIDT, SLDT, SMSW, STR at CPL 3 without UMIP', `${ring3With(ltr, 'u')}\nu: ${stores.join('\nmov rax, r8\n')}\nhlt`);
}

function fsgsbaseSequences(add: Adder, addSys: Adder): void {
  const code = 'mov rax, 0x20000\nwrfsbase rax\nmov rax, 0x20008\nwrgsbase rax\nmov rbx, [fs:0]\nmov rcx, [gs:0]\nrdfsbase rdx\nrdgsbase r10\n' +
    'mov eax, 0x20010\nwrfsbase eax\nrdfsbase r11d\nmov rax, -1\nrdgsbase eax\nmov r12, [fs:0]\nmov rax, 0x7fffffffffff\nwrgsbase rax\nrdgsbase r13\nwrgsbase r14';
  addSys('rd/wr fs/gs base, 32- and 64-bit forms', `${setCr4('fsgsbase')}\n${code}`);
  addSys('#UD: rdfsbase with CR4.FSGSBASE clear', 'rdfsbase rax');
  addSys('#UD: wrgsbase with CR4.FSGSBASE clear', 'wrgsbase rax');
  addSys('#UD: rdfsbase without F3 (0F AE /0 register form)', `${setCr4('fsgsbase')}\ndb 0x0f, 0xae, 0xc0`);
  addSys(
    'wrfsbase with a non-canonical address',
    `${setCr4('fsgsbase')}\nmov rax, 0x0000800000000000\nwrfsbase rax\nrdfsbase rbx`,
    'QEMU 7.2 loads a non-canonical FS base by WRFSBASE (translate.c copies the register); the SDM says #GP(0) (the emulator)',
  );
  addSys('rd/wr fs/gs base at CPL 3', `${ring3With(setCr4('fsgsbase'), 'u')}\nu: mov rax, 0x20000\nwrgsbase rax\nrdgsbase rbx\nmov rcx, [gs:8]\nrdfsbase rdx\nhlt`);
  add('#UD: rdfsbase without FSGSBASE', 'rdfsbase rax');
  // In compatibility mode the opcode is #UD whatever CR4 says.
  addSys(
    '#UD: rdfsbase in compatibility mode',
    `${setCr4('fsgsbase')}\nlea rax, [rel c32]\nmov [rsi+0x40], eax\nmov word [rsi+0x44], 0x1018\ndb 0xff, 0x6e, 0x40 ; jmp far [rsi+0x40], m16:32 (nasm would add REX.W)\nbits 32\nc32: db 0xf3, 0x0f, 0xae, 0xc0\nbits 64`,
  );
}

/** What QEMU 7.2 does with the flags its TCG drops, and with SYSENTER/SYSEXIT on AuthenticAMD in IA-32e mode (legacy protected mode: sequences-sysenter.ts). */
function droppedAndVendorSequences(add: Adder, addSys: Adder): void {
  addSys('#UD: rdpid (TCG drops +rdpid)', 'db 0xf3, 0x0f, 0xc7, 0xf8');
  addSys('#UD: invpcid (TCG drops +invpcid)', 'mov eax, 0\ndb 0x66, 0x0f, 0x38, 0x82, 0x06');
  add('#UD: rdpid on qemu64', 'db 0xf3, 0x0f, 0xc7, 0xf8');
  const msrs = 'mov ecx, 0x174\nmov eax, 0x1008\nxor edx, edx\nwrmsr\nmov ecx, 0x175\nmov eax, 0x9000\nwrmsr\nmov ecx, 0x176\nlea rax, [rel entry]\nwrmsr';
  const restore = 'mov ecx, 0x174\nxor eax, eax\nxor edx, edx\nwrmsr';
  add('#UD: sysenter in 64-bit mode (AuthenticAMD)', `${msrs}\nsysenter\nentry: ${restore}`);
  add('#UD: sysexit in 64-bit mode (AuthenticAMD)', `${msrs}\nmov rdx, 0x10000\nsysexit\nentry: ${restore}`);
  add(
    'sysexit in compatibility mode (AuthenticAMD): to CPL 3, whose fetch from the supervisor code page is #PF',
    `${msrs}\nlea rax, [rel c32x]\nmov [rsi+0x40], eax\nmov word [rsi+0x44], 0x1018\ndb 0xff, 0x6e, 0x40 ; jmp far [rsi+0x40], m16:32\nbits 32\nc32x: mov ecx, 0xf000\nlea edx, [entry]\nsysexit\nbits 64\nentry: ${restore}`,
  );
  // QEMU 7.2 checks the vendor in 64-bit mode only: in compatibility mode SYSENTER runs and enters 64-bit code.
  add(
    'sysenter in compatibility mode (AuthenticAMD): runs, into 64-bit code',
    `${msrs}\nlea rax, [rel c32]\nmov [rsi+0x40], eax\nmov word [rsi+0x44], 0x1018\ndb 0xff, 0x6e, 0x40 ; jmp far [rsi+0x40], m16:32 (nasm would add REX.W)\nbits 32\nc32: sysenter\nbits 64\nentry: mov rbx, rsp\nmov cx, cs\npush rbx\n${restore}`,
  );
}

type Adder = (name: string, body: string, qemuDeviation?: string) => void;

export function systemFeatureSequences(): SystemSequence[] {
  const out: SystemSequence[] = [];
  const adder = (cpu?: string): Adder => (name, body, qemuDeviation) =>
    out.push({ name: cpu ? `${name} [${cpu}]` : name, asm: `${SEQUENCE_SETUP}\n${body}`, qemuDeviation, cpu });
  const add = adder();
  const addSys = adder(QEMU64_SYSTEM_CPU);
  cr4Sequences(add, addSys);
  smepSequences(addSys);
  smapSequences(add, addSys);
  umipSequences(add, addSys);
  fsgsbaseSequences(add, addSys);
  droppedAndVendorSequences(add, addSys);
  return out;
}
