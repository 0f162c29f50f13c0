import { QEMU64_EXTENDED_CPU } from '../cpu/cpu-model.js';
import type { Sequence } from './sequences.js';
import { SEQUENCE_SETUP } from './sequences.js';

/**
 * Sequences for the system rows: port I/O (IN/OUT/INS/OUTS, and their permission check at
 * CPL 3), far CALL/JMP/RETF (direct, through 64-bit call gates, into compatibility mode, back to
 * CPL 3), HLT, the time stamp counter and RDRAND, and the CPUID-dependent POPCNT/LZCNT/TZCNT/
 * MOVBE. Same conventions as sequences.ts (data page 0x20000, stack top 0x10000, code 0x10000);
 * expectations come from QEMU. `cpu` names the QEMU `-cpu` the sequence runs under (the emulator
 * takes the matching model); without it, the default qemu64. Descriptors a sequence needs beyond
 * the test machine's three are written at 0x9000 and up, on the stack page, which GDTR's limit
 * covers.
 *
 * Ports used, as QEMU's pc machine answers them (see emulator/memory/pc-ports.ts): 0x80 reads
 * all-ones and ignores writes; 0x300/0x1234 are unassigned (all-ones, 0 when misaligned);
 * CMOS 0x70/0x71, NVRAM bytes 0x40–0x4f as scratch. Nothing here writes 32 bits to 0x70: the
 * upper two bytes would land on the RTC's clock registers.
 */
export interface SystemSequence extends Sequence {
  readonly cpu?: string;
}

/** Far pointer operand forms, as raw bytes: nasm always adds REX.W to a far JMP/CALL in 64-bit mode. */
const FAR_SIZE_PREFIX: Record<16 | 32 | 64, string> = { 16: '0x66, ', 32: '', 64: '0x48, ' };

/** `jmp far [rsi+disp8]` (FF /5) with an m16:16, m16:32 or m16:64 pointer. */
function jmpFar(bits: 16 | 32 | 64, disp: number): string {
  return `db ${FAR_SIZE_PREFIX[bits]}0xff, 0x6e, ${disp}`;
}

/** `call far [rsi+disp8]` (FF /3). */
function callFar(bits: 16 | 32 | 64, disp: number): string {
  return `db ${FAR_SIZE_PREFIX[bits]}0xff, 0x5e, ${disp}`;
}

/** Store a far pointer (offset of `bits`, then selector) at [rsi+disp]. */
function farPointer(bits: 16 | 32 | 64, disp: number, target: string, selector: number): string {
  const reg = bits === 64 ? 'rax' : bits === 32 ? 'eax' : 'ax';
  return `lea rax, [rel ${target}]\nmov [rsi+${disp}], ${reg}\nmov word [rsi+${disp + bits / 8}], 0x${selector.toString(16)}`;
}


const LAYOUT_CODE = 0x10000;
const CODE64 = 0x1008;
const DATA = 0x1010;
const CODE32 = 0x1018;

function portSequences(add: (name: string, body: string, qemuDeviation?: string) => void): void {
  add('in imm8: port 0x80, all sizes', 'in al, 0x80\nmov rax, r8\nin ax, 0x80\nmov rax, r8\nin eax, 0x80\nmov rax, r9\ndb 0x48, 0xe5, 0x80 ; rex.w in eax');
  add('out imm8: port 0x80, all sizes', 'out 0x80, al\nout 0x80, ax\nout 0x80, eax\ndb 0x48, 0xe7, 0x80 ; rex.w out eax\nin al, 0x80');
  add(
    'in dx: unassigned ports, aligned and misaligned',
    'mov dx, 0x300\nin al, dx\nmov rax, r8\nin ax, dx\nmov rax, r8\nin eax, dx\nmov dx, 0x301\nmov rax, r8\nin al, dx\nmov rax, r8\nin ax, dx\nmov dx, 0x302\nmov rax, r8\nin eax, dx\nmov rax, r8\nin ax, dx\nmov dx, 0x1234\nmov rax, r9\nin eax, dx\nmov dx, 0xfffe\nmov rax, r9\nin eax, dx',
  );
  add('out dx: unassigned port, all sizes', 'mov dx, 0x300\nout dx, al\nout dx, ax\nout dx, eax\nmov dx, 0x303\nout dx, eax\nin al, dx');
  add(
    'cmos nvram round trip (in/out imm8 and dx)',
    'mov al, 0x40\nout 0x70, al\nmov al, 0xa5\nout 0x71, al\nmov rax, r8\nin al, 0x71\nin al, 0x70\nmov rax, r8\nin ax, 0x70\nmov rax, r8\nin eax, 0x70\n' +
      'mov dx, 0x71\nmov rax, r9\nin ax, dx\nmov rax, r9\nin eax, dx\nmov rax, r8\nin al, dx\n' +
      'mov ax, 0x3c41\nout 0x70, ax ; index 0x41, data 0x3c in one access\nmov dx, 0x70\nmov al, 0x41\nout dx, al\nmov dx, 0x71\nin al, dx\nmov al, 0x99\nout dx, al\nin al, dx\nmov dx, 0x70\nmov rax, r13\nin ax, dx',
  );
  add(
    'ins: rep insb/insw/insd from port 0x80, DF=0 and DF=1',
    'mov dx, 0x80\nmov ecx, 5\nrep insb\nmov ecx, 3\nrep insw\ninsd\nstd\nmov ecx, 2\nrep insd\ninsb\ncld\ndb 0x48, 0x6d ; rex.w insd (stays 32-bit)\nmov ecx, 0\nrep insb',
  );
  add('ins: a32 and a 16-bit port in dx', 'mov edi, 0x20100\nmov dx, 0x300\nmov ecx, 3\na32 rep insb\nmov dx, 0x301\ninsw\nmov dx, 0x302\ninsd\nmov dx, 0x80\na32 insw');
  add(
    'outs then ins: cmos data port (last byte wins)',
    'mov al, 0x42\nout 0x70, al\nmov qword [rsi], r8\nmov dx, 0x71\nmov ecx, 4\nrep outsb\nin al, dx\nmov ecx, 3\nrep insb\n' +
      'mov dx, 0x70\nmov word [rsi+0x20], 0x6743 ; index 0x43, data 0x67\nlea rsi, [rsi+0x20]\noutsw\nmov rdi, 0x20900\ninsw\ninsd',
  );
  add(
    'outs: rep outsw/outsd to port 0x80, DF=1, a32',
    'mov dx, 0x80\nmov rsi, 0x20010\nstd\nmov ecx, 3\nrep outsw\nmov ecx, 2\nrep outsd\ncld\noutsb\ndb 0x48, 0x6f ; rex.w outsd\nmov esi, 0x20000\nmov ecx, 2\na32 rep outsb',
  );
  add('#PF: insb into a read-only page', 'mov dx, 0x80\nmov rdi, 0x100\ninsb');
  add('#PF: outsb from an unmapped page', 'mov dx, 0x80\nmov rsi, 0x40000\noutsb');
  add('lock in', 'db 0xf0, 0xe4, 0x80', 'QEMU 7.2 ignores LOCK on IN; the SDM says #UD (the emulator)');
}

function farSequences(add: (name: string, body: string, qemuDeviation?: string) => void): void {
  add('jmp far m16:64 (same cs)', `${farPointer(64, 0x40, 't', CODE64)}\n${jmpFar(64, 0x40)}\nud2\nt: mov ax, cs`);
  add('jmp far m16:32 (same cs)', `${farPointer(32, 0x40, 't', CODE64)}\n${jmpFar(32, 0x40)}\nud2\nt: mov ax, cs`);
  add('jmp far m16:16 (offset truncates to 16 bits: #PF fetching from the NX IDT page)', `${farPointer(16, 0x40, 't', CODE64)}\n${jmpFar(16, 0x40)}\nud2\nt: nop`);
  add('jmp far through an LDT selector (QEMU reset LDTR: base 0, limit 0xffff)', `${farPointer(32, 0x40, 't', CODE64 | 4)}\n${jmpFar(32, 0x40)}\nud2\nt: mov ax, cs\n${farPointer(32, 0x48, 'u', CODE64)}\n${jmpFar(32, 0x48)}\nu: mov bx, cs`);
  add(
    'call far m16:64 / o64 retf',
    `${farPointer(64, 0x40, 'f', CODE64)}\n${callFar(64, 0x40)}\nmov rbx, [rsp-16]\nmov rcx, [rsp-8]\njmp e\nf: mov rax, [rsp]\nmov rdx, [rsp+8]\no64 retf\ne: nop`,
  );
  add('call far m16:32 / retf (32-bit by default)', `${farPointer(32, 0x40, 'f', CODE64)}\n${callFar(32, 0x40)}\nmov rbx, [rsp-8]\njmp e\nf: mov rax, [rsp]\nretf\ne: nop`);
  add('call far m16:16 to the 16-bit-reachable stop address 0x6200', `mov word [rsi+0x40], 0x6200\nmov word [rsi+0x42], 0x${CODE64.toString(16)}\n${callFar(16, 0x40)}`);
  add('retf imm16 / o64 retf imm16', `${farPointer(32, 0x40, 'f', CODE64)}\npush rax\n${callFar(32, 0x40)}\njmp g\nf: retf 8\ng: ${farPointer(64, 0x48, 'h', CODE64)}\npush rax\npush rbx\n${callFar(64, 0x48)}\njmp e\nh: o64 retf 16\ne: nop`);
  add('o16 retf to 0x6200', `push word 0x${CODE64.toString(16)}\npush word 0x6200\no16 retf`);
  add('retf to RPL 3 (outer level, DPL 0 ≠ RPL: #GP)', `lea rax, [rel t]\nsub rsp, 8\nmov [rsp], eax\nmov dword [rsp+4], 0x${(CODE64 | 3).toString(16)}\nretf\nt: nop`);
  add('retf null selector (#GP(0))', 'lea rax, [rel t]\nsub rsp, 8\nmov [rsp], eax\nmov dword [rsp+4], 0\nretf\nt: nop');
  add('retf to a data segment (#GP(sel))', `lea rax, [rel t]\nsub rsp, 8\nmov [rsp], eax\nmov dword [rsp+4], 0x${DATA.toString(16)}\nretf\nt: nop`);
  add('#GP: jmp far null selector', `${farPointer(64, 0x40, 't', 0)}\n${jmpFar(64, 0x40)}\nt: nop`);
  add('#GP: jmp far to a data segment', `${farPointer(32, 0x40, 't', DATA)}\n${jmpFar(32, 0x40)}\nt: nop`);
  add('#GP: jmp far to an empty descriptor (system type 0)', `${farPointer(32, 0x40, 't', 0x1020)}\n${jmpFar(32, 0x40)}\nt: nop`);
  add('#GP: jmp far with RPL 3 > CPL', `${farPointer(32, 0x40, 't', CODE64 | 3)}\n${jmpFar(32, 0x40)}\nt: nop`);
  add('#GP: call far to an empty LDT descriptor', `${farPointer(64, 0x40, 't', 0x1004)}\n${callFar(64, 0x40)}\nt: nop`);
  add('#UD: jmp far with a register operand', 'db 0xff, 0xe8');
  add('#PF: call far pointer in an unmapped page', `mov rsi, 0x40000\n${callFar(64, 0)}`);
  add(
    'call far m16:64 to a non-canonical offset',
    `mov rax, 0x0000800000000000\nmov [rsi+0x40], rax\nmov word [rsi+0x48], 0x${CODE64.toString(16)}\n${callFar(64, 0x40)}`,
    'QEMU 7.2 pushes and jumps to a non-canonical 64-bit far-call target, faulting on the fetch there; the SDM says #GP(0) at the CALL with nothing pushed (the emulator)',
  );
  // Into compatibility mode and back. While CS is 32-bit, QEMU's gdb stub shows only the low
  // halves of RAX–RDI and RIP and none of R8–R15: the suite compares that view there, and the
  // full registers again once back in 64-bit mode.
  add(
    'jmp far into compatibility mode and back (m16:32 both ways)',
    `${farPointer(32, 0x40, 'c32', CODE32)}\n${farPointer(32, 0x50, 'back', CODE64)}\n${jmpFar(32, 0x40)}\nbits 32\nc32: add eax, 1\npush eax ; a 32-bit push (no such form in 64-bit mode)\npop ebx\njmp far [esi+0x50]\nbits 64\nback: mov cx, cs\npush rax`,
  );
  add(
    'call far m16:32 into compatibility mode, 32-bit retf back',
    `${farPointer(32, 0x40, 'c32', CODE32)}\n${callFar(32, 0x40)}\nmov rbx, [rsp-8]\njmp e\nbits 32\nc32: sub eax, 1\nmov edx, [esp]\nretf\nbits 64\ne: mov cx, cs`,
  );
  add(
    'o64 call far into compatibility mode, retf there pops 4-byte slots (CS=0: #GP)',
    `${farPointer(64, 0x40, 'c32', CODE32)}\n${callFar(64, 0x40)}\nud2\nbits 32\nc32: retf\nbits 64`,
  );
}

/**
 * Descriptors a sequence writes itself: GDTR's limit (0xffff, QEMU's reset value) covers the
 * stack page, so selectors 0x9000 and up name 8-byte slots at physical 0x9000 (zeroed before
 * every sequence). `put(selector, descriptor)` stores one.
 */
function put(selector: number, descriptor: bigint): string {
  return `mov rax, 0x${descriptor.toString(16)}\nmov [0x${selector.toString(16)}], rax`;
}

function descriptorSequences(add: (name: string, body: string, qemuDeviation?: string) => void): void {
  const far = (sel: number, bits: 16 | 32 | 64 = 32) => `${farPointer(bits, 0x40, 't', sel)}\n${jmpFar(bits, 0x40)}\nud2\nt: mov ax, cs`;
  add('jmp far to a 64-bit code segment with base 0x100 (the base is ignored)', `${put(0x9000, 0x00af9b000100ffffn)}\n${far(0x9000)}\nnop\nmov rbx, 1`);
  add('jmp far to conforming code (DPL 0): CS.RPL = CPL', `${put(0x9000, 0x00af9f000000ffffn)}\n${far(0x9000 | 0)}\nmov rbx, [0x9000]`);
  add('#GP: jmp far to conforming code with DPL 3 > CPL', `${put(0x9000, 0x00afff000000ffffn)}\n${far(0x9000)}`);
  add('#GP: jmp far to non-conforming code with DPL 3', `${put(0x9000, 0x00affb000000ffffn)}\n${far(0x9003)}`);
  add('#NP: jmp far to a not-present code segment', `${put(0x9000, 0x00af1b000000ffffn)}\n${far(0x9000, 64)}`);
  add('#NP: call far to a not-present code segment', `${put(0x9000, 0x00af1b000000ffffn)}\n${farPointer(64, 0x40, 't', 0x9000)}\n${callFar(64, 0x40)}\nt: nop`);
  add('#GP(0): jmp far beyond a 32-bit segment\'s limit (0xffff)', `${put(0x9000, 0x00409b000000ffffn)}\n${far(0x9000)}`);
  // LSS/LFS/LGS in 64-bit mode: m16:32 (and m16:16 with 0x66); with REX.W QEMU 7.2 still takes a
  // 32-bit offset (the selector at +4, as AMD documents), which the emulator follows.
  const pointer = 'mov dword [rsi+0x40], 0x89abcdef\nmov dword [rsi+0x44], 0x1010\nmov dword [rsi+0x48], 0x1010';
  add('lfs/lgs/lss m16:32 and m16:16 in 64-bit mode', `${pointer}\nmov rax, -1\nlfs eax, [rsi+0x40]\nlgs bx, [rsi+0x40]\nmov rcx, rsp\nlss esp, [rsi+0x40]\nmov rsp, rcx\nmov ax, fs`);
  add('lfs/lgs with REX.W in 64-bit mode', `${pointer}\nmov rax, -1\nlfs rax, [rsi+0x40]\nmov rbx, -1\nlgs rbx, [rsi+0x40]`);
  add('#NP: lfs with a not-present data segment', `${put(0x9000, 0x00cf13000000ffffn)}\nmov dword [rsi+0x40], 0x1234\nmov word [rsi+0x44], 0x9000\nlfs eax, [rsi+0x40]`);
  add(
    'jmp far sets the code descriptor\'s accessed bit',
    `${put(0x9000, 0x00af9a000000ffffn)}\n${far(0x9000)}\nmov rbx, [0x9000]`,
    'QEMU 7.2 does not set the accessed bit of a code descriptor it loads by a far JMP/CALL; the SDM says the processor sets it (the emulator)',
  );
}

/**
 * A 64-bit call gate at `selector` (16 bytes) to `codeSel`:`label`, with the access byte
 * `access` (0x8c: present, DPL 0, type 12) and `upper` as the second quadword's high dword.
 */
function callGate(selector: number, codeSel: number, label: string, access = 0x8c, upper = 0): string {
  const off = `(${label} - $$ + 0x${LAYOUT_CODE.toString(16)})`;
  return (
    `mov rax, ((${off} & 0xffff) | (0x${codeSel.toString(16)} << 16) | (0x${access.toString(16)} << 40) | (((${off} >> 16) & 0xffff) << 48))\n` +
    `mov [0x${selector.toString(16)}], rax\nmov rax, ((${off} >> 32) | (0x${upper.toString(16)} << 32))\nmov [0x${(selector + 8).toString(16)}], rax`
  );
}

function callGateSequences(add: (name: string, body: string, qemuDeviation?: string) => void): void {
  const jmpGate = (sel: number) => `mov dword [rsi+0x40], 0\nmov word [rsi+0x44], 0x${sel.toString(16)}\n${jmpFar(32, 0x40)}`;
  const callGateAt = (sel: number, bits: 16 | 32 | 64 = 32) =>
    `mov qword [rsi+0x40], 0\nmov word [rsi+0x${(0x40 + bits / 8).toString(16)}], 0x${sel.toString(16)}\n${callFar(bits, 0x40)}`;
  add('jmp far through a 64-bit call gate', `${callGate(0x9000, CODE64, 't')}\n${jmpGate(0x9000)}\nud2\nt: mov ax, cs`);
  add(
    'call far through a 64-bit call gate: 8-byte slots whatever the operand size, o64 retf back',
    `${callGate(0x9000, CODE64, 'f')}\n${callGateAt(0x9000, 16)}\nmov rbx, [rsp-8]\nmov rcx, [rsp-16]\njmp e\nf: mov rdx, [rsp]\no64 retf\ne: nop`,
  );
  add('#NP: call gate not present', `${callGate(0x9000, CODE64, 't', 0x0c)}\n${jmpGate(0x9000)}\nt: nop`);
  add('#GP: call gate DPL 0 with an RPL 3 selector', `${callGate(0x9000, CODE64, 't')}\n${jmpGate(0x9003)}\nt: nop`);
  add('#GP: call gate to a data segment', `${callGate(0x9000, DATA, 't')}\n${callGateAt(0x9000)}\nt: nop`);
  add('#GP: call gate to 32-bit code', `${callGate(0x9000, CODE32, 't')}\n${jmpGate(0x9000)}\nt: nop`);
  add('#GP: call gate whose upper half has a type', `${callGate(0x9000, CODE64, 't', 0x8c, 0xc00)}\n${jmpGate(0x9000)}\nt: nop`);
  add('#GP: call gate with a null code selector', `${callGate(0x9000, 0, 't')}\n${jmpGate(0x9000)}\nt: nop`);
  add(
    'call gate to a not-present code segment',
    `${put(0x9010, 0x00af1b000000ffffn)}\n${callGate(0x9000, 0x9010, 't')}\n${jmpGate(0x9000)}\nt: nop`,
    'QEMU 7.2 raises #GP for a not-present code segment named by a call gate; the SDM says #NP(code selector) (the emulator)',
  );
  add('#GP(0): call gate with a non-canonical offset', `${callGate(0x9000, CODE64, 't', 0x8c, 0)}\nmov dword [0x900c], 0x8000\n${jmpGate(0x9000)}\nt: nop`);
}

/**
 * Drop to CPL 3 at `label` with RFLAGS = `rflags`: DPL-3 code and data descriptors at 0x9000
 * and 0x9008 (in the GDT's reach, on the stack page), and the U/S bit on the page walk of the
 * code, data and top stack pages (written with CR0.WP cleared: the tables are read-only; every
 * sequence starts from fresh tables). Exceptions then switch to TSS.RSP0, which with QEMU's
 * reset TR (base 0, limit 0xffff) is read from the IDT's first bytes: 0x8e00, on the stack page.
 */
function ring3Setup(): string {
  return [
    put(0x9000, 0x00affb000000ffffn),
    put(0x9008, 0x00cff3000000ffffn),
    'mov rax, cr0\nand eax, ~0x10000\nmov cr0, rax',
    'or qword [0x2000], 4\nor qword [0x3000], 4\nor qword [0x4000], 4',
    'or qword [0x5000 + 0x10*8], 4\nor qword [0x5000 + 0x20*8], 4\nor qword [0x5000 + 0xf*8], 4',
    'mov rax, cr3\nmov cr3, rax',
  ].join('\n');
}

function enterRing3(label: string, rflags = 0x2): string {
  return `${ring3Setup()}\npush 0x900b\npush 0x10000\npush 0x${rflags.toString(16)}\npush 0x9003\nlea rax, [rel ${label}]\npush rax\niretq`;
}

function ring3Sequences(add: (name: string, body: string, qemuDeviation?: string) => void): void {
  // RETF to an outer level pops the outer RSP and SS after CS (and releases imm16 bytes on both stacks).
  add(
    'o64 retf to CPL 3 (outer level: RSP and SS popped too, DS/ES/FS/GS nulled)',
    `${ring3Setup()}\npush 0x900b\npush 0xff00\npush 0x9003\nlea rax, [rel u]\npush rax\no64 retf\nu: mov rbx, [rsi]\nhlt`,
  );
  add(
    'retf imm16 (32-bit) to CPL 3',
    `${ring3Setup()}\nsub rsp, 24\nlea rax, [rel u]\nmov [rsp], eax\nmov dword [rsp+4], 0x9003\nmov dword [rsp+16], 0xff00\nmov dword [rsp+20], 0x900b\nretf 8\nu: push rax\nhlt`,
  );
  add('#GP: retf to CPL 3 with an SS of RPL 0', `${ring3Setup()}\npush 0x9008\npush 0xff00\npush 0x9003\nlea rax, [rel u]\npush rax\no64 retf\nu: nop`);
  add('#GP(0): retf to 64-bit CPL 3 code with a null SS', `${ring3Setup()}\npush 0x3\npush 0xff00\npush 0x9003\nlea rax, [rel u]\npush rax\no64 retf\nu: nop`);
  add('#GP(0): hlt at CPL 3', `${enterRing3('u')}\nu: mov rbx, [rsi]\nhlt`);
  // At CPL > IOPL the I/O permission bit map decides. QEMU's reset TR cache (base 0, limit
  // 0xffff) is a busy TSS, which QEMU's check rejects (it accepts only an available TSS), so
  // every port faults there; by the SDM the map at TSS+0x66 (here: IDT bytes) decides, and it
  // allows port 0x80 but not port 0x2b (bit 3 of IDT byte 5, the gate's access byte 0x8e).
  const resetTr = 'QEMU 7.2 fails every I/O-bitmap check while TR is its reset cache (type 11, busy): its check accepts only type 9; the SDM consults the bit map (the emulator allows port 0x80 here)';
  add('in at CPL 3 with IOPL 0, the reset TR\'s bit map allows port 0x80', `${enterRing3('u')}\nu: mov dx, 0x80\nin al, dx`, resetTr);
  add('rep insb at CPL 3 with IOPL 0, RCX = 0 (the check comes first)', `${enterRing3('u')}\nu: mov dx, 0x80\nxor ecx, ecx\nmov rdi, rsi\nrep insb`, resetTr);
  add('#GP(0): out at CPL 3 with IOPL 0 to a port the bit map denies (0x2b)', `${enterRing3('u')}\nu: mov al, 0\nout 0x2b, al`);
  add(
    'in/out/ins/outs at CPL 3 with IOPL 3',
    `${enterRing3('u', 0x3002)}\nu: mov dx, 0x80\nin al, dx\nin eax, 0x80\nout dx, ax\nmov rdi, rsi\nmov ecx, 3\nrep insb\nmov ecx, 2\nrep outsw\nmov dx, 0x300\nin ax, dx\nhlt`,
  );
  // Last of the ring-3 sequences: LTR of an available 64-bit TSS shaped like the reset TR
  // (base 0, limit 0xffff) makes QEMU's bit-map check work; the TR stays loaded in QEMU for the
  // sequences after this one, none of which does I/O at CPL 3.
  add(
    'I/O bit map of an LTR-loaded TSS at CPL 3: ports 0x80/0x81 allowed, 0x2b denied',
    `${put(0x9010, 0x000089000000ffffn)}\nmov ax, 0x9010\nltr ax\n${enterRing3('u')}\nu: mov dx, 0x80\nin al, dx\nin ax, 0x80\nmov rdi, rsi\nmov ecx, 2\nrep insb\nout 0x2b, al`,
  );
}

/**
 * LAR, LSL, VERR, VERW in 64-bit mode: IA-32e mode's descriptor type tables (SDM Vol. 2 LAR Table
 * 3-52, LSL Table 3-60). QEMU 7.2 applies the legacy tables in every mode: the types where they
 * differ are known deviations, each in a sequence of its own.
 */
function segmentQuerySequences(add: (name: string, body: string, qemuDeviation?: string) => void): void {
  const descriptors = [
    put(0x9000, 0x00cff3000000ffffn), // data, DPL 3
    put(0x9008, 0x00af9f000000ffffn), // conforming code, DPL 0
    put(0x9010, 0x00af99000000ffffn), // execute-only code
    put(0x9018, 0x0000890000000067n), // available 64-bit TSS (16 bytes)
    put(0x9020, 0n),
    put(0x9028, 0x00008c0000000000n), // 64-bit call gate (16 bytes)
    put(0x9030, 0n),
    put(0x9038, 0x0040910012340fffn), // read-only data, byte granular
    put(0x9040, 0x00008b0000100067n), // busy 64-bit TSS
    put(0x9048, 0n),
  ].join('\n');
  const query = (sel: number) => `mov cx, 0x${sel.toString(16)}\nmov rax, -1\nlar rax, cx\nmov rdx, -1\nlsl edx, cx\nverr cx\nverw cx`;
  // TI = 1 (0x9004, 0x100c): the LDT as QEMU resets it (base 0, limit 0xffff) names the same bytes
  const all = [0x9000, 0x9003, 0x9008, 0x900b, 0x9010, 0x9018, 0x9028, 0x9038, 0x9040, 0x1008, 0x1010, 0x1012, 0x1018, 0, 3, 0x9004, 0x100c];
  add('lar/lsl/verr/verw in 64-bit mode: code, data, conforming, TSS, call gate, null, LDT-relative', `${descriptors}\n${all.map(query).join('\n')}`);
  add(
    'lar/lsl 16-bit and 64-bit destinations, memory source; verr/verw from memory',
    `${descriptors}\nmov word [rsi+0x60], 0x9038\nmov r9, -1\nlar r9, [rsi+0x60]\nmov r10, -1\nlsl r10, [rsi+0x60]\nmov ax, 0x9018\nmov rbx, -1\nlar bx, ax\nlsl bx, ax\nlsl r11d, ax\nverr [rsi+0x60]\nverw [rsi+0x60]\nmov word [rsi+0x62], 0x1010\nverw [rsi+0x62]`,
  );
  add('lar/lsl/verr/verw at CPL 3: DPL 0 descriptors are not visible', `${enterRing3('u')}\nu: ${[0x9000, 0x9003, 0x9008, 0x900b, 0x1008, 0x1010].map(query).join('\n')}`);
  const deviation = (types: string) => `QEMU 7.2 (seg_helper.c) applies the legacy-mode descriptor types in IA-32e mode; the SDM's IA-32e column makes ${types}`;
  add('lar of an LDT descriptor in 64-bit mode', `${put(0x9050, 0x0000820000200fffn)}\n${put(0x9058, 0n)}\n${query(0x9050)}`, deviation('an LDT invalid for LAR (ZF = 0; LSL takes it)'));
  add('lar/lsl of a 16-bit TSS in 64-bit mode', `${put(0x9050, 0x0000810000200fffn)}\n${query(0x9050)}`, deviation('type 1 reserved: ZF = 0'));
  add('lar of a 16-bit call gate in 64-bit mode', `${put(0x9050, 0x0000840000200fffn)}\n${query(0x9050)}`, deviation('type 4 reserved: ZF = 0'));
  add('lsl of a type 0 descriptor (the upper half of a 16-byte one) in 64-bit mode', `${put(0x9050, 0n)}\n${query(0x9050)}`, deviation('type 0 valid for LSL ("upper 8 bytes of a 16-byte descriptor"): ZF = 1, limit 0'));
}

function hltSequences(add: (name: string, body: string, qemuDeviation?: string) => void): void {
  // Under QEMU's gdb stub a stepped HLT never retires by itself (IF=0, IRQs masked while
  // stepping): QemuTarget interrupts the step at its deadline and reports 'halted' when QEMU
  // says the CPU is halted; the emulator stops with 'halted'. Both then show RIP after the HLT.
  add('hlt (CPU halts, RIP after HLT)', 'mov eax, 1\nhlt\nud2');
}

function tscSequences(add: (name: string, body: string, qemuDeviation?: string) => void): void {
  // Results follow QEMU by the declared rule 'rdtsc'/'rdtscp' (harness/sync-rules.ts); the
  // zeroed upper halves, flags and everything computed from them afterwards are compared.
  add('rdtsc (EDX:EAX followed; upper halves zeroed)', 'mov rax, -1\nmov rdx, -1\nrdtsc\nshl rdx, 32\nor rax, rdx\nmov rbx, rax\nrdtsc\nmov [rsi], eax\nmov [rsi+4], edx');
}

/** Under qemu64 (no BMI1/ABM/POPCNT/MOVBE) F3 0F BC/BD run as BSF/BSR and POPCNT/MOVBE are #UD. */
function qemu64FeatureSequences(add: (name: string, body: string, qemuDeviation?: string) => void): void {
  add('tzcnt/lzcnt as bsf/bsr, zero source keeps the destination (qemu64)', 'xor ebx, ebx\ntzcnt rax, rbx\nlzcnt ecx, ebx\ntzcnt dx, bx\nlzcnt r9w, [rsi+0x100]\ntzcnt r8, [rsi]');
  add('#UD: popcnt 16-bit (qemu64)', 'popcnt ax, bx');
  add('#UD: movbe store (qemu64)', 'movbe [rsi], eax');
}

function extendedSequences(add: (name: string, body: string, qemuDeviation?: string) => void): void {
  add('cpuid leaves 1, 7, 0x80000001 (extended model)', 'mov eax, 1\ncpuid\nmov eax, 7\nxor ecx, ecx\ncpuid\nmov eax, 0x80000001\ncpuid');
  add('popcnt 16/32/64, reg and mem, zero source', 'popcnt ax, bx\npopcnt ecx, ebx\npopcnt rdx, r8\npopcnt r10, [rsi+8]\npopcnt r11w, [rsi]\nxor ebx, ebx\nmov r12, -1\npopcnt r12, rbx\npopcnt r12d, [rsi+16]');
  add('lzcnt 16/32/64, zero and all-ones sources', 'lzcnt ax, bx\nlzcnt ecx, edx\nlzcnt rdx, r13\nxor ebx, ebx\nlzcnt r9, rbx\nlzcnt r9d, ebx\nlzcnt r9w, bx\nmov r10, -1\nlzcnt r10, r10\nlzcnt r11, [rsi+8]');
  add('tzcnt 16/32/64, zero and all-ones sources', 'tzcnt ax, bx\ntzcnt ecx, eax\ntzcnt rdx, r8\nxor ebx, ebx\ntzcnt r9, rbx\ntzcnt r9d, ebx\ntzcnt r9w, bx\nmov r10, -1\ntzcnt r10, r10\ntzcnt r11w, [rsi+2]');
  add('bsf/bsr unchanged under the extended model', 'bsf rax, rbx\nbsr rcx, rbx\nbsf dx, bx');
  add('movbe load/store 16/32/64', 'movbe ax, [rsi]\nmovbe ecx, [rsi+1]\nmovbe rdx, [rsi+8]\nmovbe r10, [rsi+3]\nmovbe [rsi+0x20], r8\nmovbe [rsi+0x28], r9d\nmovbe [rsi+0x30], r13w\nmov r11, [rsi+0x20]');
  add('#UD: movbe with a register operand', 'db 0x0f, 0x38, 0xf0, 0xc1');
  add('#UD: movbe with F2 (CRC32 without SSE4.2)', 'db 0xf2, 0x0f, 0x38, 0xf0, 0x06');
  add(
    'movbe with 66 and REX.W',
    'mov rbx, -1\ndb 0x66, 0x48, 0x0f, 0x38, 0xf0, 0x1e',
    'QEMU 7.2 performs a 16-bit MOVBE when 0x66 and REX.W are both present; the SDM says REX.W wins (64-bit, the emulator)',
  );
  add(
    'rdtscp, TSC_AUX written and read back',
    'mov ecx, 0xc0000103\nrdmsr\nmov eax, 0x12345\nxor edx, edx\nwrmsr\nrdmsr\nmov rbx, rax\nmov rax, -1\nmov rdx, -1\nmov rcx, -1\nrdtscp\nrdtscp\nmov [rsi], ecx',
  );
  add(
    'rdrand 16/32/64 (value and CF followed, other flags compared)',
    'mov rax, -1\nmov rbx, -1\nmov r9, -1\nmov r14, -1\npush 0x8d5\npopfq\nrdrand ax\npushfq\nrdrand ebx\nrdrand r9\nstc\nrdrand r14w\npushfq\npop rcx\npop rdx',
  );
  add('#UD: rdrand with a memory operand', 'db 0x0f, 0xc7, 0x36');
  add('#UD: rdrand with F3', 'db 0xf3, 0x0f, 0xc7, 0xf0');
  add('#UD: lock rdrand', 'db 0xf0, 0x0f, 0xc7, 0xf0');
}

export function systemRowSequences(): SystemSequence[] {
  const out: SystemSequence[] = [];
  const adder = (cpu?: string) => (name: string, body: string, qemuDeviation?: string) =>
    out.push({ name: cpu ? `${name} [${cpu}]` : name, asm: `${SEQUENCE_SETUP}\n${body}`, qemuDeviation, cpu });
  const add = adder();
  portSequences(add);
  farSequences(add);
  descriptorSequences(add);
  callGateSequences(add);
  segmentQuerySequences(add);
  hltSequences(add);
  ring3Sequences(add);
  tscSequences(add);
  qemu64FeatureSequences(add);
  extendedSequences(adder(QEMU64_EXTENDED_CPU));
  return out;
}
