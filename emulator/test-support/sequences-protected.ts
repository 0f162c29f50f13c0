import { GATES32, SELECTORS32 as S } from '../../contracts/test-machine-32.js';

/**
 * Hand-written 32-bit sequences for the protected-mode differential suite (nasm `bits 32`, run on
 * the 32-bit test machine of contracts/test-machine-32.ts: flat ring-0 code at 0x10000, the stack
 * below 0x10000, data at 0x20000, descriptors at selectors 0x1000+). Expectations come from QEMU.
 * `qemuDeviation` marks a sequence where QEMU 7.2 is known to differ from the SDM (the suite then
 * expects a divergence); `paging` asks for the 64-bit machine's identity-mapped page tables in
 * memory (the sequences that switch to IA-32e mode); `legacyTables` the tables of 32-bit and PAE
 * paging (sequences-legacy-paging.ts).
 */
export interface ProtectedSequence {
  readonly name: string;
  readonly asm: string;
  readonly qemuDeviation?: string;
  readonly paging?: boolean;
  /** Load the legacy-paging tables (legacy-page-tables.ts) and compare them, and the data pages they map, at the end. */
  readonly legacyTables?: boolean;
  /** Run under `-cpu` QEMU64_SYSTEM_CPU (SMEP, SMAP, …) and the emulator's model of it, not plain qemu64. */
  readonly systemCpu?: boolean;
  /** 16-bit code on the real-mode machine (buildRealModeMachine: CS = 0x1000, DS = ES = 0x2000, SS:SP = 0800:8000). */
  readonly real?: boolean;
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** The registers and data every 32-bit sequence starts from. */
export const PROTECTED_SETUP = `
  mov eax, 0x80000001
  mov ebx, 0xfedcba98
  mov ecx, 0x7fffffff
  mov edx, 0x0000ffff
  mov esi, 0x20000
  mov edi, 0x20800
  mov dword [0x20000], ebx
  mov dword [0x20004], ecx
`;

/** `mov ax, sel` then `mov <seg>, ax`. */
const load = (seg: string, sel: number) => `mov ax, ${hex(sel)}\nmov ${seg}, ax`;

/** Load TR with the machine's TSS (ESP0/SS0 for interrupts from ring 3). */
export const LTR = `mov ax, ${hex(S.tss)}\nltr ax`;

/** IRETD to ring 3 at label `ring3`, stack 0xf000 (the frame the CPU pops: EIP, CS, EFLAGS, ESP, SS). */
export const TO_RING3 = `
  push dword ${hex(S.data3 | 3)}
  push dword 0xf000
  push dword 0x202
  push dword ${hex(S.code3 | 3)}
  push dword ring3
  iretd
ring3:
`;

export function protectedSequences(): ProtectedSequence[] {
  const out: ProtectedSequence[] = [];
  const add = (name: string, body: string, extra: Partial<ProtectedSequence> = {}) => out.push({ name, asm: `${PROTECTED_SETUP}\n${body}`, ...extra });

  // ---- 32-bit code ---------------------------------------------------------------------------
  add('alu, push/pop, call/ret in 32-bit code', 'add eax, ebx\nsub ecx, [esi]\npush eax\npush word 0x1234\npop bx\npop edx\ncall .f\njmp .e\n.f: xor eax, eax\nret\n.e: lea ecx, [esi+edi*2+8]');
  add('inc/dec 40-4f', 'inc eax\ninc ecx\ndec edx\ndec ebx\ninc esp\ndec esp\ninc ebp\ndec esi\ninc edi\ninc ax\ndec cx');
  add('pusha/popa, pushad/popad', 'mov ebp, 0x55aa55aa\npushad\nxor eax, eax\nxor edi, edi\npopad\no16 pusha\nmov ax, 1\no16 popa');
  add('16-bit operand size: push/pop, movzx, imul', 'o16 push ax\no16 pop cx\nmovzx eax, word [esi+2]\nimul bx, cx, 3');
  add('rep movsd/stosb with 32-bit addressing', 'mov ecx, 5\nrep movsd\nmov ecx, 9\nmov al, 0x5a\nrep stosb\nstd\nmov ecx, 3\nrep lodsb\ncld');
  add('loop/jecxz with ecx', 'mov ecx, 3\n.l: inc eax\nloop .l\njecxz .z\nnop\n.z: nop');

  // ---- 16-bit addressing (0x67 in 32-bit code, and 16-bit code segments) -----------------------
  const a16 = 'mov ebx, 0x12340010\nmov esi, 0x56780004\nmov edi, 0x9abc0008\nmov ebp, 0xdef0fff0\n' + load('ds', S.small) + '\n' + load('es', S.small);
  add('16-bit addressing: every ModRM form', `${a16}\nmov eax, [bx+si]\nmov ecx, [bx+di+2]\nmov edx, [si]\nmov eax, [di-4]\nmov ecx, [bx]\nmov word [bx+si+0x100], 7\nmov eax, [ds:bp+si+0x14]\nmov eax, [ds:bp+di+0x10]\nmov eax, [ds:bp+0x20]\nmov eax, [word 0x8]`);
  add('16-bit addressing: BP forms default to SS', `${a16}\nmov ebp, 0xfff0\nmov eax, [bp+0x8]\nmov [bp+si+2], eax\nmov ecx, [bp+di]`);
  add('16-bit addressing: the offset wraps at 64 KiB (lea, moffs16, xlat)', `${a16}\nmov ebx, 0xfff8\nmov esi, 0x20\nlea eax, [bx+si+0x10]\nlea ecx, [bx+0xfff0]\na16 mov al, [0x10]\nmov bx, 4\na16 xlatb`);
  add('16-bit addressing: rep movsb/stosw and loop with SI, DI, CX', `${a16}\nmov ecx, 0xffff0003\na16 rep movsb\nmov ecx, 0x10002\nmov ax, 0x5a5a\na16 rep stosw\nmov ecx, 0x20003\n.l: inc edx\na16 loop .l`);
  add('16-bit code segment with 16-bit addressing', `${load('ds', S.small)}\njmp ${hex(S.code16)}:(.c16 - 0x10000)\nbits 16\n.c16: mov bx, 4\nmov si, 2\nmov ax, [bx+si]\nmov [bx+di+8], ax\nadd ax, [bx]\npush word [si]\npop cx\nlea dx, [bx+si-1]\njmp dword ${hex(S.code32)}:.c32\nbits 32\n.c32: nop`);

  // ---- segment register loads and their hidden parts -----------------------------------------
  add('mov ds/es/fs/gs: bases apply', `${load('ds', S.small)}\nmov ebx, [4]\n${load('es', S.readOnly)}\nmov ecx, [es:0]\n${load('fs', S.expandDown)}\nmov edx, [fs:0x1000]\n${load('gs', S.data3)}\nmov eax, [gs:0x20000]`);
  add('mov ss to a 16-bit stack: SP wraps, ESP keeps its upper half', `${load('ss', S.stack16)}\nmov esp, 0xabcd9000\npush eax\npush word 7\npop cx\npop edx\ncall .f\njmp .e\n.f: ret\n.e: nop`);
  add('mov to a segment register from memory, and mov from it', `mov word [esi+8], ${hex(S.small)}\nmov ds, [0x20008]\nmov ax, ds\nmov [0x10], es\nmov ebx, ds`);
  add('load sets the accessed bit', `${load('ds', S.unaccessed)}\nmov eax, [0x20000]`);
  add('push/pop es/ss/ds, push cs', `${load('es', S.small)}\npush es\npop ds\npush cs\npush ss\npop ss\npop eax\no16 push ds\no16 pop es`);
  add('null selector into ds and es', 'xor eax, eax\nmov ds, ax\nmov es, ax\nmov ax, 3\nmov fs, ax');
  add('mov ds: not present → #NP(sel)', load('ds', S.notPresent));
  add('mov ss: null → #GP(0)', 'xor eax, eax\nmov ss, ax');
  add('mov ss: RPL ≠ CPL → #GP(sel)', load('ss', S.data | 3));
  add('mov ss: read-only data → #GP(sel)', load('ss', S.readOnly));
  add('mov ss: not present → #SS(sel)', load('ss', S.notPresent));
  add('mov ds: execute-only code → #GP(sel)', load('ds', S.execOnly));
  add('mov ds: readable code is allowed', load('ds', S.code32));
  add('mov ds: a system descriptor → #GP(sel)', load('ds', S.tss));
  add('mov ds: selector 8 names an IDT gate (a system descriptor) → #GP(8)', 'mov eax, 8\nmov ds, ax');
  add('mov cs → #UD', 'db 0x8e, 0xc8');

  // ---- far pointers: LDS/LES/LSS/LFS/LGS -------------------------------------------------------
  add('lds/les/lfs/lgs/lss m16:32', `mov dword [esi+16], 0x1234\nmov word [esi+20], ${hex(S.small)}\nlfs eax, [esi+16]\nlgs ebx, [esi+16]\nles ecx, [esi+16]\nmov word [esi+20], ${hex(S.data)}\nmov dword [esi+16], 0xe000\nlss esp, [esi+16]\npush eax\nlds edx, [esi+16]`);
  add('lfs/lgs m16:16', `mov word [esi+16], 0x5678\nmov word [esi+18], ${hex(S.small)}\no16 lfs ax, [esi+16]\no16 lgs dx, [esi+16]`);
  add('lfs: not present → #NP, register unchanged', `mov dword [esi+16], 0x1234\nmov word [esi+20], ${hex(S.notPresent)}\nlfs eax, [esi+16]`);
  add('lss: RPL ≠ CPL → #GP', `mov dword [esi+16], 0x1234\nmov word [esi+20], ${hex(S.data | 1)}\nlss eax, [esi+16]`);
  add('arpl', `mov ax, 0x1011\nmov bx, 0x1013\narpl ax, bx\narpl bx, ax\nmov word [esi], 0x1010\narpl [esi], bx`);

  // ---- far transfers ---------------------------------------------------------------------------
  add('jmp ptr16:32 and call ptr16:32 / retf', `jmp ${hex(S.code32)}:.a\n.a: call ${hex(S.code32)}:.f\njmp .e\n.f: retf\n.e: nop`);
  add('jmp far [m16:32], call far [m16:32], retf imm16', `mov dword [esi+16], .a\nmov word [esi+20], ${hex(S.code32)}\njmp far [esi+16]\n.a: mov dword [esi+16], .f\ncall far [esi+16]\njmp .e\n.f: retf 8\n.e: nop`);
  add('into a 16-bit code segment and back', `jmp ${hex(S.code16)}:(.c16 - 0x10000)\nbits 16\n.c16: mov ax, 0x1234\nadd ax, bx\npush ax\npop cx\ncall .n\njmp .b\n.n: ret\n.b: jmp dword ${hex(S.code32)}:.c32\nbits 32\n.c32: nop`);
  add('call ptr16:16 from 16-bit code, retf back', `jmp ${hex(S.code16)}:(.c16 - 0x10000)\nbits 16\n.c16: call ${hex(S.code16)}:(.f - 0x10000)\njmp dword ${hex(S.code32)}:.c32\n.f: retf\nbits 32\n.c32: nop`);
  add('jmp far to a data segment → #GP(sel)', `jmp ${hex(S.data)}:0`);
  add('jmp far to a (not-present) data selector → #GP(sel)', `jmp ${hex(S.notPresent)}:0`);
  add('jmp far: offset beyond the limit → #GP(0)', `jmp ${hex(S.code16)}:0x10000`);
  add('jmp far to conforming code keeps CPL', `jmp ${hex(S.conforming)}:.a\n.a: mov ax, cs`);

  // ---- interrupts and exceptions through the 32-bit IDT ---------------------------------------
  add('int 0x40 through a 32-bit interrupt gate', 'pushfd\nor dword [esp], 0x200\npopfd\nint 0x40');
  add('int 0x41 through a trap gate (IF stays)', 'sti\nint 0x41');
  add('int 0x42 through a 16-bit interrupt gate', 'sti\nint 0x42');
  add('int 0x43: gate not present → #NP(0x43·8+2)', `int ${GATES32.notPresent}`);
  add('int3 and into', 'mov al, 0x7f\nadd al, 1\ninto');
  add('int3', 'int3');
  add('#UD (ud2)', 'ud2');
  add('#DE (div by zero)', 'xor ecx, ecx\ndiv ecx');
  add('#GP with an error code from a segment load', load('es', S.execOnly));
  add('iretd to the same level', 'pushfd\npush dword 0x1008\npush dword .t\niretd\n.t: nop');
  add('iret (16-bit) into 16-bit code at the same level', `o16 pushf\npush word ${hex(S.code16)}\npush word .t - 0x10000\no16 iret\nbits 16\n.t: mov ax, 7\njmp dword ${hex(S.code32)}:.b\nbits 32\n.b: nop`);
  add('iretd loads arithmetic flags, DF, NT', 'push dword 0x4cd7\npush dword 0x1008\npush dword .t\niretd\n.t: pushfd\npop eax\npush dword 0x202\npopfd');
  add('iretd to a data selector → #GP', `pushfd\npush dword ${hex(S.data)}\npush dword 0\niretd`);
  add('lgdt/sgdt/sidt, 32- and 16-bit operand size', 'sgdt [esi+32]\nsidt [esi+40]\no16 sgdt [esi+48]\nmov dword [esi+58], 0xffffffff\nmov word [esi+56], 0xffff\nmov dword [esi+58], 0\nlgdt [esi+56]\nsgdt [esi+64]');

  // ---- decimal adjustments, BOUND, SALC, INTO (legacy-only; the whole input space of the
  // adjustments is compared by protected-mode.int.spec.ts's table run) ----------------------------
  const flags = (v: number) => `push dword ${hex(v)}\npopfd`;
  add('daa/das with AF and CF in and out', `mov al, 0x9a\n${flags(0x2)}\ndaa\nmov al, 0x0f\n${flags(0x13)}\ndaa\nmov al, 0x00\n${flags(0x12)}\ndas\nmov al, 0xa5\n${flags(0x2)}\ndas\nmov al, 0x03\n${flags(0x3)}\ndas`);
  add('aaa/aas carry into and borrow from AH', `mov ax, 0x12fb\n${flags(0x2)}\naaa\nmov ax, 0x0105\n${flags(0x12)}\naaa\nmov ax, 0x3404\n${flags(0x12)}\naas\nmov ax, 0x0008\n${flags(0x2)}\naas\nmov ax, 0xff0c\naas`);
  add('aam/aad with bases 10, 7 and 0xff', 'mov eax, 0x12345678\naam\naam 7\nmov ax, 0x09ff\naad\nmov ax, 0x0705\naad 0xff\naam 0xff');
  add('aam 0 → #DE (a fault: EIP at the AAM)', 'mov ax, 0x1234\naam 0');
  add('salc with CF set and clear', 'mov eax, 0x12345678\nstc\nsalc\nclc\nsalc\nstc\nsalc');
  add(
    'bound 32 and 16 bits within the bounds',
    'mov dword [esi+64], -5\nmov dword [esi+68], 100\nmov eax, -5\nbound eax, [esi+64]\nmov ebx, 100\nbound ebx, [esi+64]\nmov word [esi+72], 0x8000\nmov word [esi+74], 0x7fff\nmov cx, 0x8000\nbound cx, [esi+72]',
  );
  add('bound: above the upper bound → #BR (a fault)', 'mov dword [esi+64], -5\nmov dword [esi+68], 100\nmov edx, 101\nbound edx, [esi+64]');
  add('bound 16-bit: below the lower bound (signed) → #BR', 'mov word [esi+72], 0xfff0\nmov word [esi+74], 0x10\nmov ax, 0xffef\nbound ax, [esi+72]');
  add('bound with a register operand → #UD', 'db 0x62, 0xc1');
  add('into without OF does nothing, with OF → #OF (a trap)', 'mov al, 1\nadd al, 1\ninto\nmov al, 0x7f\nadd al, 1\ninto\nnop');

  // ---- LAR, LSL, VERR, VERW (every descriptor type at every DPL: protected-mode.int.spec.ts's
  // table run); here the operand forms, one at a time ---------------------------------------------
  add(
    'lar/lsl 16- and 32-bit, register and memory source, ZF clear leaves the destination',
    `mov word [esi+80], ${hex(S.code3 | 3)}\nmov edx, -1\nlar edx, [esi+80]\nlsl ecx, [esi+80]\nmov bx, ${hex(S.small)}\no16 lsl ax, bx\nlar ax, bx\nmov ax, ${hex(S.tss)}\nlsl edi, eax\nlar ebp, ax\nmov ax, 8\nmov edi, -1\nlar edi, ax\nlsl edi, ax`,
  );
  add(
    'verr/verw: execute-only and conforming code, read-only and ring-3 data, null',
    `${[S.execOnly, S.conforming, S.code32, S.readOnly, S.data3 | 3, S.data | 3, S.notPresent, 0].map((sel) => `mov ax, ${hex(sel)}\nverr ax\nverw ax`).join('\n')}\nmov word [esi+80], ${hex(S.data)}\nverw [esi+80]`,
  );

  // ---- privilege levels: ring 3 and back through the TSS --------------------------------------
  add('iretd to ring 3, then int 0x40 back to ring 0 (stack from the TSS)', `${LTR}\n${TO_RING3}\nmov eax, ss\nmov ebx, cs\npush eax\nint 0x40`);
  add('ring 3: int 0x44 (DPL 0 gate) → #GP(0x44·8+2) in ring 0', `${LTR}\n${TO_RING3}\nint ${GATES32.ring0Only}`);
  // a software interrupt is no first exception for the double-fault table (SDM Vol. 3 Table 6-5)
  add('ring 3: int 0 (DPL 0 gate) → #GP(0x2), not #DF', `${LTR}\n${TO_RING3}\nint 0`);
  add('ring 3: int 8 (DPL 0 gate) → #GP(0x42), not a triple fault', `${LTR}\n${TO_RING3}\nint 8`);
  add('ring 3: cli → #GP(0) in ring 0', `${LTR}\n${TO_RING3}\ncli`);
  add('ring 3: mov ds to a DPL 0 segment → #GP(sel)', `${LTR}\n${TO_RING3}\n${load('ds', S.data)}`);
  add('ring 3: hlt → #GP(0)', `${LTR}\n${TO_RING3}\nhlt`);
  add('ring 3: in → #GP(0) (no I/O bit map)', `${LTR}\n${TO_RING3}\nin al, 0x80`);
  add('ring 3: iretd back to ring 3 code, data segments kept', `${LTR}\n${TO_RING3}\n${load('es', S.data3 | 3)}\npushfd\npush dword ${hex(S.code3 | 3)}\npush dword .t\niretd\n.t: mov eax, es`);
  add('iretd to ring 3 nulls DPL 0 data segments', `${LTR}\n${load('fs', S.data)}\n${TO_RING3}\nmov eax, ds\nmov ebx, fs\nmov ecx, es`);
  add('retf to ring 3', `push dword ${hex(S.data3 | 3)}\npush dword 0xf000\npush dword ${hex(S.code3 | 3)}\npush dword .r3\nretf\n.r3: mov eax, ss\nmov ebx, esp`);

  // ---- into IA-32e mode: compatibility mode, then 64-bit code -----------------------------------
  add(
    'PAE + CR3 + EFER.LME + CR0.PG: compatibility mode, then a far jump to 64-bit code',
    `mov eax, cr4\nor eax, 0x20\nmov cr4, eax\nmov eax, 0x2000\nmov cr3, eax\nmov ecx, 0xc0000080\nrdmsr\nor eax, 0x900\nwrmsr\nmov eax, cr0\nor eax, 0x80000000\nmov cr0, eax\nmov ebx, 0x11223344\npush ebx\npop edx\njmp ${hex(S.code64)}:.l\nbits 64\n.l: mov rax, 0x123456789\npush rax\npop rcx\nbits 32`,
    { paging: true },
  );
  add(
    'compatibility mode: lar/lsl/verr/verw take IA-32e mode\'s descriptor types (TSS and code/data: as in legacy mode)',
    `mov eax, cr4\nor eax, 0x20\nmov cr4, eax\nmov eax, 0x2000\nmov cr3, eax\nmov ecx, 0xc0000080\nrdmsr\nor eax, 0x900\nwrmsr\nmov eax, cr0\nor eax, 0x80000000\nmov cr0, eax\n${[S.tss, S.code32, S.data3 | 3, S.execOnly, S.readOnly].map((sel) => `mov bx, ${hex(sel)}\nmov eax, -1\nlar eax, bx\nlsl ecx, bx\nverr bx\nverw bx`).join('\n')}`,
    { paging: true },
  );
  add(
    'compatibility mode: ud2 with only 32-bit gates in the IDT → #GP, #DF, triple fault',
    `mov eax, cr4\nor eax, 0x20\nmov cr4, eax\nmov eax, 0x2000\nmov cr3, eax\nmov ecx, 0xc0000080\nrdmsr\nor eax, 0x900\nwrmsr\nmov eax, cr0\nor eax, 0x80000000\nmov cr0, eax\nadd eax, ebx\nud2`,
    { paging: true },
  );
  // ---- real mode (16-bit code, CS base 0x10000: far targets are offsets from there) -----------
  const real = (name: string, body: string) => out.push({ name: `real mode: ${name}`, asm: `mov ax, 0x1234\nmov bx, 0x10\nmov si, 4\nmov word [0], 0xbeef\nmov word [2], 0x3000\n${body}`, real: true });
  real('mov, push/pop, 16-bit addressing on DS and SS', 'push ax\npop cx\nmov [bx+si], ax\nmov dx, [bx+si]\nmov bp, sp\nmov di, [bp-2]\nadd ax, [0]');
  real('segment loads set base = selector·16', 'mov ax, 0x2001\nmov ds, ax\nmov cx, [0]\nmov es, ax\npush es\npop fs\nmov dx, [fs:0]\nmov ax, 0x0900\nmov ss, ax\npush dx');
  real('les/lds/lss', 'les di, [0]\nmov ax, es\nlds si, [0]\nmov ax, 0x2000\nmov ds, ax\nmov word [2], 0x0800\nlss sp, [0]\npush ax');
  real('far jmp, call, retf (16- and 32-bit)', 'jmp 0x1000:(.a - 0x10000)\n.a: call 0x1000:(.f - 0x10000)\ncall dword 0x1000:(.g - 0x10000)\njmp .e\n.f: retf\n.g: o32 retf\n.e: nop');
  real('int 0x40 through the IVT, and iret', 'pushf\npush cs\npush word .r - 0x10000\niret\n.r: sti\nint 0x40');
  real('exception: #UD through the IVT', 'ud2');
  real('lar → #UD (protected mode only)', 'lar ax, bx');
  real('verr → #UD (protected mode only)', 'verr bx');
  // found by fuzz --family real16: LEAVE copied all of EBP into ESP
  real('leave with a 16-bit stack: SP = BP, the upper half of ESP kept', 'mov esp, 0x12347ff0\nmov ebp, 0x00057f00\nmov word [ss:0x7f00], 0x4321\nleave\npush ax');
  // found by fuzz --family real16: a push from SP = 2 stored below SS's base (the offset wrapped at 32 bits)
  real('push dword from SP = 2 with a 16-bit stack: SP wraps to 0xfffe', 'mov esp, 0x12340002\npush dword -0x5f\npop ecx\npush ax');
  real('into protected mode: CR0.PE, far jump to 32-bit code', `lgdt [cs:.g - 0x10000]\nmov eax, cr0\nor al, 1\nmov cr0, eax\njmp dword ${hex(S.code32)}:.p\n.g: dw 0xffff\ndd 0\nbits 32\n.p: mov ax, ${hex(S.data)}\nmov ds, ax\nmov eax, [0x20000]\nbits 16`);
  return out;
}
