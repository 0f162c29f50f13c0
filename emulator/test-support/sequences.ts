/**
 * Hand-written short sequences for the differential suite (nasm syntax, run on the test
 * machine: data page at 0x20000, stack at 0x10000, code at 0x10000). Each exercises a family in
 * several operand sizes and forms; expectations come from QEMU, never from this file.
 */
export interface Sequence {
  readonly name: string;
  readonly asm: string;
  /** Set when QEMU 7.2 is known to deviate from the SDM here: the suite expects a divergence. */
  readonly qemuDeviation?: string;
}

const SIZES = [
  { r: ['al', 'bl', 'cl', 'dl'], m: 'byte' },
  { r: ['ax', 'bx', 'cx', 'dx'], m: 'word' },
  { r: ['eax', 'ebx', 'ecx', 'edx'], m: 'dword' },
  { r: ['rax', 'rbx', 'rcx', 'rdx'], m: 'qword' },
] as const;

/** The registers and data every 64-bit sequence starts from (values with every byte distinct or at a sign boundary). */
export const SEQUENCE_SETUP = `
  mov rax, 0x8000000000000001
  mov rbx, 0xfedcba9876543210
  mov rcx, 0x7fffffffffffffff
  mov rdx, 0x00000000ffffffff
  mov rsi, 0x20000
  mov rdi, 0x20800
  mov r8, 0xdeadbeefcafebabe
  mov r9, 0x0123456789abcdef
  mov r13, 0x1111111111111111
  mov qword [0x20000], rbx
  mov qword [0x20008], rcx
  mov qword [0x20010], r8
`;

export function sequences(): Sequence[] {
  const out: Sequence[] = [];
  const add = (name: string, body: string, qemuDeviation?: string) => out.push({ name, asm: `${SEQUENCE_SETUP}\n${body}`, qemuDeviation });

  for (const op of ['add', 'adc', 'sub', 'sbb', 'and', 'or', 'xor', 'cmp', 'test']) {
    for (const s of SIZES) {
      const [a, b] = s.r;
      add(`${op} ${s.m} reg,reg`, `stc\n${op} ${a}, ${b}\n${op} ${b}, ${a}`);
      add(`${op} ${s.m} reg,mem`, `${op} ${a}, [rsi]\n${op} ${b}, [rsi+8]`);
      if (op !== 'test') add(`${op} ${s.m} mem,reg`, `${op} [rsi+16], ${a}\nmov ${b}, [rsi+16]`);
      add(`${op} ${s.m} imm`, `${op} ${a}, 0x7f\n${op} ${s.m} [rsi], -1\n${op} ${b}, 1`);
    }
  }
  for (const op of ['inc', 'dec', 'neg', 'not']) {
    for (const s of SIZES) {
      add(`${op} ${s.m}`, `${op} ${s.r[0]}\n${op} ${s.r[2]}\n${op} ${s.m} [rsi]`);
    }
  }
  for (const op of ['shl', 'shr', 'sar', 'rol', 'ror', 'rcl', 'rcr']) {
    for (const s of SIZES) {
      for (const count of [1, 4, 31]) add(`${op} ${s.m} by ${count}`, `stc\n${op} ${s.r[0]}, ${count}\n${op} ${s.m} [rsi], ${count}`);
      add(`${op} ${s.m} by cl`, `mov cl, 5\n${op} ${s.r[1]}, cl\nmov cl, 0\n${op} ${s.r[0]}, cl`);
    }
  }
  for (const s of SIZES.slice(1)) {
    add(`shld/shrd ${s.m}`, `shld ${s.r[0]}, ${s.r[1]}, 3\nshrd ${s.r[1]}, ${s.r[3]}, 7\nmov cl, 9\nshld ${s.m} [rsi], ${s.r[3]}, cl`);
    // the same operands as the RIP-relative sequence below, through a base register: QEMU agrees
    add(`shld/shrd ${s.m} mem, imm8 (base register)`, `shld ${s.m} [rsi+8], ${s.r[3]}, 4\nshrd ${s.m} [rsi+16], ${s.r[1]}, 13`);
    // no immediate after the displacement: QEMU's RIP-relative address is right
    add(`shld/shrd ${s.m} RIP-relative, cl`, `mov cl, 4\nshld ${s.m} [rel $$+0x10008], ${s.r[3]}, cl\nmov cl, 13\nshrd ${s.m} [rel $$+0x10010], ${s.r[1]}, cl`);
    // `$$` (the section start, 0x10000) keeps nasm's operand RIP-relative: `[rel 0x20008]` would be absolute
    add(
      `shld/shrd ${s.m} mem, imm8 (RIP-relative)`,
      `shld ${s.m} [rel $$+0x10008], ${s.r[3]}, 4\nshrd ${s.m} [rel $$+0x10010], ${s.r[1]}, 13`,
      'QEMU 7.2 computes the RIP-relative address of SHLD/SHRD m, r, imm8 without the imm8 (translate.c do_shiftd leaves s->rip_offset at 0), so it shifts the operand one byte below; the host CPU and the emulator use the end of the instruction',
    );
  }
  for (const s of SIZES) {
    add(`mul ${s.m}`, `mul ${s.r[1]}\nmul ${s.m} [rsi+8]`);
    add(`imul1 ${s.m}`, `imul ${s.r[1]}\nimul ${s.m} [rsi]`);
    if (s.m !== 'byte') add(`imul2/3 ${s.m}`, `imul ${s.r[0]}, ${s.r[1]}\nimul ${s.r[1]}, [rsi], 7\nimul ${s.r[3]}, ${s.r[2]}, -300`);
    add(`div ${s.m}`, `mov ${s.r[0]}, 1000\nxor edx, edx\nmov ${s.r[1]}, 7\ndiv ${s.r[1]}`);
    add(`idiv ${s.m}`, `mov ${s.r[0]}, -1000\n${s.m === 'byte' ? 'cbw' : s.m === 'word' ? 'cwd' : s.m === 'dword' ? 'cdq' : 'cqo'}\nmov ${s.r[1]}, 7\nidiv ${s.r[1]}`);
  }
  add('div by zero', 'xor ecx, ecx\ndiv rcx');
  add('div overflow', 'mov edx, 1\nmov eax, 0\nmov ecx, 1\ndiv ecx');
  add('idiv overflow', 'mov rax, 0x8000000000000000\ncqo\nmov rcx, -1\nidiv rcx');
  for (const s of SIZES.slice(1)) {
    for (const op of ['bt', 'bts', 'btr', 'btc']) {
      add(`${op} ${s.m}`, `${op} ${s.r[1]}, 3\n${op} ${s.r[0]}, ${s.r[2]}\n${op} ${s.m} [rsi], 5\nmov ${s.r[2]}, 77\n${op} ${s.m} [rsi], ${s.r[2]}`);
    }
    add(`bsf/bsr ${s.m}`, `bsf ${s.r[0]}, ${s.r[1]}\nbsr ${s.r[2]}, ${s.r[1]}\nxor ${s.r[3]}, ${s.r[3]}\nbsf ${s.r[0]}, ${s.r[3]}`);
    add(`cmov ${s.m}`, `cmp ${s.r[0]}, ${s.r[1]}\ncmovl ${s.r[2]}, ${s.r[1]}\ncmovg ${s.r[3]}, [rsi]\ncmove ${s.r[0]}, ${s.r[1]}`);
    add(`xadd/cmpxchg ${s.m}`, `xadd ${s.r[0]}, ${s.r[1]}\nlock xadd [rsi], ${s.r[2]}\ncmpxchg ${s.m} [rsi+8], ${s.r[3]}\nmov ${s.r[0]}, [rsi+8]\nlock cmpxchg [rsi+8], ${s.r[1]}`);
    add(`xchg ${s.m}`, `xchg ${s.r[0]}, ${s.r[1]}\nxchg [rsi], ${s.r[2]}`);
    add(`movzx/movsx ${s.m}`, `movzx ${s.r[0]}, byte [rsi+7]\nmovsx ${s.r[1]}, byte [rsi+7]\nmovsx ${s.r[2]}, cl`);
  }
  add('lzcnt/tzcnt/popcnt (qemu64: bsr/bsf, #UD)', 'lzcnt rax, rbx\ntzcnt rcx, rbx\npopcnt rdx, rbx');
  add('movsxd', 'movsxd rax, ebx\nmovsxd rcx, dword [rsi+4]');
  add('bswap', 'bswap eax\nbswap rbx\nbswap r8');
  add('cbw family', 'cbw\ncwde\ncdqe\ncwd\ncdq\ncqo');
  add('setcc all', Array.from({ length: 16 }, (_, i) => `set${['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'][i]} byte [rsi+${i}]`).join('\n') + '\ncmp eax, ebx');
  add('setcc high byte', 'cmp rax, rbx\nsetb ah\nseta bh\nsetl ch\nsetg dh');
  add('high-byte regs', 'mov ah, bl\nadd ch, dh\nxor bh, [rsi]\nmovzx eax, ah\nmov sil, dil\nmov r9b, spl');
  add('R8-R15 forms', 'add r8, r9\nsub r10d, r11d\nmov r12w, r13w\nadc r14b, r15b\nlea r15, [r12+r13*8+0x100]\nmov r9, [r13+r12*4-8]');
  add('sib forms', 'mov rax, [rsi+rdi*1-0x800]\nmov rbx, [rsp]\nmov rcx, [rsi+rbx*0+8]\nlea rdx, [rax+rax*2]\nlea rbp, [rsp+rax*2+8]');
  // `$`/`$$`-based operands: nasm encodes `[rel 0x20000]` (a bare number) as an absolute [disp32]
  add('rip-relative', 'mov rax, [rel $+0x10000]\nlea rbx, [rel $]\nadd r13, [rel $$+0x10000]');
  add('addr32', 'mov eax, 0x20000\nmov ebx, [eax]\nlea ecx, [eax+eax-1]\nmov rdx, -1\nlea rdx, [edx+1]\nmov eax, -16\nmov ebx, [eax+0x20010]');
  add('moffs', 'mov rax, [qword 0x20000]\nmov [qword 0x20020], eax\nmov al, [qword 0x20001]');
  add('movabs', 'mov rax, 0x123456789abcdef0\nmov r15, -2\nmov ecx, -1\nmov cx, 5');
  add('mov sizes preserve/zero-extend', 'mov rax, -1\nmov eax, 1\nmov rbx, -1\nmov bx, 2\nmov rcx, -1\nmov cl, 3\nmov rdx, -1\nmov dh, 4');
  add('lea sizes', 'lea eax, [rbx+rcx]\nlea ax, [rbx+1]\nlea rdx, [rcx*8]');
  add('push/pop', 'push rax\npush qword [rsi]\npush 0x12\npush -5\npop rbx\npop qword [rsi+24]\npop rcx\npop rdx\npush r13\npop r14');
  add('push/pop 16-bit', 'push ax\npush word [rsi]\npop bx\npop cx');
  add('pop into rsp-based memory', 'push rax\npush rbx\npop qword [rsp]\npop rcx');
  add('pushf/popf', 'stc\npushfq\npop rax\nor rax, 0x8d5\npush rax\npopfq\npushf\npop rbx');
  add('lahf/sahf', 'mov ah, 0xd5\nsahf\nlahf\nmov bl, ah\ncmc\nlahf');
  add('flag ops', 'stc\ncmc\nclc\nstd\ncld\nstc');
  add('enter/leave', 'mov rbp, 0x9000\nenter 0x20, 0\nmov [rbp-8], rax\nleave\nenter 16, 2\nleave');
  add('call/ret', 'call f\njmp e\nf: mov eax, 5\nret\ne: nop');
  add('call indirect/ret imm', 'lea rbx, [rel g]\ncall rbx\njmp e\ng: ret 8\ne: nop');
  add('jcc taken/not', 'cmp eax, ebx\njl a\nmov ecx, 1\na: jg b\nmov edx, 2\nb: test eax, eax\njs c\nnop\nc: jz d\nd: nop');
  add('loop', 'mov ecx, 3\nxor eax, eax\nl: add eax, 2\nloop l\nmov ecx, 2\nm: dec edx\nloopne m');
  add('jrcxz', 'xor ecx, ecx\njrcxz a\nud2\na: mov ecx, 1\njecxz b\nnop\nb: nop');
  add('jmp indirect mem', 'lea rax, [rel t]\nmov [rsi+32], rax\njmp [rsi+32]\nud2\nt: nop');
  add('rep movsb', 'mov ecx, 5\ncld\nrep movsb\nmov ecx, 3\nstd\nrep movsq\ncld');
  add('rep stosd', 'mov eax, 0x41424344\nmov ecx, 4\nrep stosd\nmov ecx, 0\nrep stosb');
  add('lods/scas/cmps', 'lodsb\nlodsq\nmov ecx, 8\nmov al, 0xfe\nrepne scasb\nmov rsi, 0x20000\nmov rdi, 0x20000\nmov ecx, 4\nrepe cmpsw');
  add('string addr32', 'mov esi, 0x20000\nmov edi, 0x20100\nmov ecx, 3\na32 rep movsb');
  add('xlat', 'mov rbx, 0x20000\nmov al, 3\nxlatb');
  add('cmpxchg8b/16b', 'mov rsi, 0x20000\nmov eax, [rsi]\nmov edx, [rsi+4]\nmov ebx, 1\nmov ecx, 2\ncmpxchg8b [rsi]\ncmpxchg8b [rsi]\nmov rdi, 0x20010\ncmpxchg16b [rdi]');
  add('cmpxchg16b misaligned', 'cmpxchg16b [rsi+8]');
  add('nops', 'nop\nxchg ax, ax\nnop dword [rax+rax*1+0]\nnop word [rax+rax*1+0]\nxchg r8, rax');
  add('#UD: lock on register', 'db 0xf0, 0x01, 0xd8');
  add('#UD: invalid opcode in 64-bit mode', 'db 0x06');
  add('#UD: ud2', 'ud2');
  add('#UD: TEST Ev,Iz alias F7 /1 (QEMU raises #UD)', 'db 0xf7, 0xc8, 0x01, 0x00, 0x00, 0x00');
  add('int1 (#DB)', 'db 0xf1', 'QEMU 7.2 with its gdb stub attached lands on the #UD vector for INT1 (F1); the SDM says #DB (the emulator delivers vector 1)');
  add('sysret with EFER.SCE clear (#UD)', 'sysret');
  add('sldt/str', 'mov eax, -1\nmov ebx, -1\nsldt ax\nstr ebx');
  add('lldt null selector', 'xor eax, eax\nlldt ax');
  add('ltr null selector (#GP)', 'xor eax, eax\nltr ax', 'QEMU 7.2 loads an invalid TR for a null LTR selector; the SDM says #GP(0), which the emulator raises');
  add('#GP: too long', 'times 14 db 0x66\ndb 0x90');
  add('#GP: non-canonical', 'mov rax, 0x0000800000000000\nmov rbx, [rax]');
  add('#GP/SS: non-canonical stack', 'mov rsp, 0x0000800000000010\npush rax');
  add('#PF: unmapped read', 'mov rax, [0x40000]');
  add('#PF: write to read-only', 'mov [0x100], eax');
  add('#PF: exec NX data page', 'mov rax, 0x20000\nmov byte [rax], 0x90\njmp rax');
  add('#PF: page-crossing read', 'mov rax, [0x2fffc]');
  add('#PF: page-crossing write', 'mov [0x2fffd], eax');
  // PT entry 0x2f (data page 0x2f000) of the test machine's tables at 0x5000 (read-only: CR0.WP off
  // first) gets bit 51 (above MAXPHYADDR = 40)
  add('#PF: reserved bit in a PTE (RSVD with P)', 'mov rax, cr0\nbtr rax, 16\nmov cr0, rax\nmov rax, [0x5178]\nbts rax, 51\nmov [0x5178], rax\ninvlpg [0x2f000]\nmov rbx, [0x2f000]', 'QEMU 7.2 pushes a reserved-bit #PF error code without P (0x8 for 0x9); the SDM (Vol. 3 §4.7) sets P whenever RSVD is set');
  add('int3', 'int3');
  add('int 0x40', 'int 0x40');
  // software INT with the vector of an exception that has an error code pushes none (SDM Vol. 3 6.4.2)
  for (const v of ['0x8', '0xa', '0xd', '0xe', '0x11']) add(`int ${v} (no error code)`, `int ${v}`);
  add('cpuid leaf 0', 'xor eax, eax\ncpuid');
  add('cpuid leaf 1', 'mov eax, 1\ncpuid');
  add('cpuid ext', 'mov eax, 0x80000001\ncpuid\nmov eax, 0x80000000\ncpuid');
  add('mov cr read', 'mov rax, cr0\nmov rbx, cr3\nmov rcx, cr4\nmov rdx, cr2\nmov r8, cr8');
  add('mov cr8 write', 'mov eax, 5\nmov cr8, rax\nmov rbx, cr8');
  add('rdmsr/wrmsr efer+fs', 'mov ecx, 0xc0000080\nrdmsr\nmov ecx, 0xc0000100\nmov eax, 0x1234\nxor edx, edx\nwrmsr\nrdmsr\nmov rbx, [fs:0x20000-0x1234]');
  add('swapgs', 'mov ecx, 0xc0000102\nmov eax, 0x5000\nxor edx, edx\nwrmsr\nswapgs\nmov ecx, 0xc0000101\nrdmsr');
  add('gs override', 'mov ecx, 0xc0000101\nmov eax, 0x20000\nxor edx, edx\nwrmsr\nmov rax, [gs:8]\nmov [gs:0x40], rbx');
  add('sgdt/sidt', 'sgdt [rsi+0x100]\nsidt [rsi+0x110]\nmov rax, [rsi+0x100]\nmov rbx, [rsi+0x110]');
  add('lgdt/lidt roundtrip', 'sgdt [rsi]\nlgdt [rsi]\nsidt [rsi+16]\nlidt [rsi+16]');
  add('mov sreg', 'mov ax, ds\nmov ds, ax\nmov bx, ss\nmov es, bx\nmov [rsi], fs\nmov ecx, 0\nmov fs, cx');
  add('push/pop fs', 'push fs\npop gs\npush gs');
  add('mov ss null', 'xor eax, eax\nmov ss, ax');
  add('invlpg + cr3 reload', 'invlpg [rsi]\nmov rax, cr3\nmov cr3, rax\nmov rbx, [rsi]');
  add('iretq same level', 'mov rax, rsp\npush 0x1010\npush rax\npushfq\npush 0x1008\nlea rbx, [rel t]\npush rbx\niretq\nud2\nt: nop');
  add('syscall disabled', 'syscall');

  const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
  for (const [i, cc] of CC.entries()) {
    const setup = ['cmp eax, ebx', 'cmp rbx, rax', 'add ecx, ecx', 'test edx, edx'][i % 4];
    add(`j${cc} short/near + cmov${cc}`, `${setup}\nj${cc} short s${i}\nnop\ns${i}: j${cc} near n${i}\nnop\nn${i}: cmov${cc} r9, rbx\ncmov${cc} r10d, [rsi]\nset${cc} r11b`);
  }
  for (const op of ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp']) {
    add(`${op} imm32 forms`, `stc\n${op} eax, 0x12345\n${op} rax, -0x10000\n${op} ebx, 0x7fff0000\n${op} word [rsi], 0x1234\n${op} qword [rsi+8], -0x54321`);
  }
  add('test /1 alias (f6 c8, f7 c8)', 'db 0xf6, 0xc8, 0x0f\ndb 0x48, 0xf7, 0xc8, 0x00, 0xff, 0x00, 0x00');
  add('sal alias /6', 'db 0xd0, 0xf0\ndb 0x48, 0xd1, 0xf3\ndb 0xc0, 0xf1, 0x03\ndb 0x48, 0xc1, 0xf2, 0x05\nmov cl, 3\ndb 0xd2, 0xf0\ndb 0xd3, 0xf3');
  add('push/pop every register', 'push rcx\npush rdx\npush rsp\npush rsi\npush rdi\npush rbp\npop r12\npop rbp\npop rdi\npop rsi\npop rdx\npop rsp');
  add('xchg with rax, every register', 'xchg rcx, rax\nxchg rdx, rax\nxchg rsp, rax\nxchg rax, rsp\nxchg rbp, rax\nxchg rsi, rax\nxchg rdi, rax\nxchg eax, ecx\nxchg ax, dx\nxchg al, bl\nxchg [rsi], cl');
  add('moffs A0-A3 (64-bit address)', 'db 0xa0\ndq 0x20003\ndb 0x48, 0xa1\ndq 0x20000\ndb 0xa2\ndq 0x20040\ndb 0x48, 0xa3\ndq 0x20048\ndb 0x66, 0xa1\ndq 0x20002\ndb 0x67, 0xa1\ndd 0x20008');
  add('mov r8b-r15b / dl,ch,bh imm', 'mov dl, 1\nmov ch, 2\nmov bh, 3\nmov r15b, 4\nmov dh, 5\nmov spl, 6');
  add('cmps/scas all sizes', 'cmpsb\ncmpsw\ncmpsd\ncmpsq\nscasb\nscasw\nscasd\nscasq\nrepe cmpsb');
  add('loope/loopne', 'mov ecx, 5\nxor eax, eax\nl1: loope l1\nmov ecx, 3\nl2: inc eax\ncmp eax, 100\nloopne l2');
  add('jmp near/short', 'jmp near a\nud2\na: jmp short b\nud2\nb: nop');
  add('cli/sti', 'cli\npushfq\nsti\npushfq\npop rax\npop rbx');
  add('fwait', 'fwait');
  add('smsw', 'smsw eax\nsmsw [rsi]\nsmsw rbx\nsmsw cx');
  add('lmsw keeps PE', 'smsw eax\nlmsw ax\nmov rbx, cr0');
  add('clts', 'clts\nmov rax, cr0');
  add('invd/wbinvd', 'wbinvd\ninvd');
  add('mov dr', 'mov rax, dr7\nmov rbx, dr6\nmov rcx, 0x400\nmov dr7, rcx\nmov rdx, dr7\nmov dr0, rsi\nmov r8, dr0');
  add('hint nops + prefetch', 'prefetchw [rsi]\nprefetcht0 [rsi]\nprefetchnta [rsi+64]\ndb 0x0f, 0x19, 0x00\ndb 0x0f, 0x1a, 0xc0\ndb 0x0f, 0x1b, 0x06\ndb 0x0f, 0x1c, 0x00\ndb 0x0f, 0x1d, 0x00\ndb 0x0f, 0x1e, 0xc8');
  add('fences + clflush', 'lfence\nmfence\nsfence\nclflush [rsi]');
  add('pop fs/gs', 'push fs\npop fs\npush gs\npop gs\nmov ecx, 0xc0000100\nrdmsr');
  add('shrd by cl, shld 16-bit >16', 'mov cl, 13\nshrd rax, rbx, cl\nshrd eax, edx, cl\nmov cl, 20\nshld ax, bx, cl\nshrd dx, cx, cl');
  add('cmpxchg/xadd byte', 'cmpxchg bl, cl\nmov al, [rsi]\ncmpxchg [rsi], dl\nxadd bl, cl\nlock xadd [rsi+1], al');
  add('movzx/movsx word', 'movzx eax, word [rsi+6]\nmovzx rbx, cx\nmovsx rcx, word [rsi+6]\nmovsx edx, bx\nmovsx ax, byte [rsi+7]');
  add('bswap all registers', 'bswap rcx\nbswap rdx\nbswap rsp\nbswap rsp\nbswap rbp\nbswap rsi\nbswap rdi\nbswap r15d');
  add('ud0/ud1', 'db 0x0f, 0xb9, 0xc0');
  add('ud0', 'db 0x0f, 0xff, 0xc0');
  add('rdtscp/rdrand/movbe absent (qemu64: #UD)', 'rdtscp');
  add('movbe absent', 'movbe eax, [rsi]');
  add('rdrand absent', 'rdrand eax');
  add('lock add mem', 'lock add [rsi], eax\nlock or qword [rsi+8], -1\nlock inc dword [rsi+16]\nlock not byte [rsi]\nlock neg word [rsi+2]\nlock btc qword [rsi], rdx');
  add('lock on non-lockable', 'lock mov [rsi], eax', 'QEMU 7.2 ignores LOCK on MOV; the SDM says #UD');
  add('rex before legacy prefix is ignored', 'db 0x48, 0x66, 0x01, 0xd8', 'QEMU 7.2 keeps a REX that a legacy prefix follows; the SDM says it is ignored');
  add('two rex bytes (last wins)', 'db 0x41, 0x48, 0x01, 0xd8');
  add('16-bit operand with rex.w (rex.w wins)', 'db 0x66, 0x48, 0x01, 0xd8');
  add('f2/f3 ignored on add', 'db 0xf3, 0x01, 0xd8\ndb 0xf2, 0x48, 0x01, 0xd8');
  add('segment overrides ignored in 64-bit mode', 'db 0x2e, 0x8b, 0x06\ndb 0x26, 0x8b, 0x1e\ndb 0x36, 0x48, 0x8b, 0x0e\ndb 0x3e, 0x8b, 0x16');
  add('rip-relative with imm (disp from end)', 'add dword [rel $$+0x10000], 0x12345678\ncmp byte [rel $$+0x10004], 7\nshl word [rel $$+0x10006], 3\nbt dword [rel $$+0x10008], 9\nimul eax, [rel $$+0x10008], 0x1234');
  add('rsp/rbp/r12/r13 base encodings', 'mov rax, [rsp]\nmov rbx, [rbp]\nlea rbp, [rsi]\nmov rcx, [rbp]\nmov r12, rsi\nmov r13, rsi\nmov rdx, [r12]\nmov r8, [r13]\nmov r9, [r13+r12*2]\nmov r10, [rsp+8]');
  add('index without base', 'mov rax, 0x8000\nmov rbx, [rax*2+0x10000]\nmov rcx, [rax*4+0]');
  add('near call/ret with 16-bit operand (qemu/amd)', 'lea rax, [rel t]\nmov rdi, rax\nnop\nt: nop');
  add('canonical boundary load', 'mov rax, 0x00007ffffffffff8\nmov rbx, [rax]');
  add('high-half canonical unmapped', 'mov rax, 0xffff800000000000\nmov rbx, [rax]');
  add('user page: cpl0 access to nx page ok', 'mov rax, 0x20000\nmov rbx, [rax]\nmov [rax+8], rbx');
  add('stack push across page into unmapped', 'mov rsp, 0x8004\npush rax', 'QEMU 7.2 reports CR2 = 0x7ff8 for an 8-byte store at 0x7ffc; the first faulting byte is 0x7ffc');
  add('exec fetch crosses into unmapped page', 'mov rax, 0x1fffe\nmov word [rax], 0x0548\njmp rax');
  add('int3 / int1 frames', 'int3');
  add('into is invalid', 'db 0xce');
  add('iretq to same cpl with flags', 'mov rax, rsp\npush 0x1010\npush rax\npush 0x8d7\npush 0x1008\nlea rbx, [rel t]\npush rbx\niretq\nt: pushfq\npop rcx');
  // NT set when IRETQ runs: a task return, which IA-32e mode refuses with #GP(0)
  add('iretq with NT set', 'pushfq\nor qword [rsp], 0x4000\npopfq\nmov rax, rsp\npush 0x1010\npush rax\npush 0x2\npush 0x1008\nlea rbx, [rel t]\npush rbx\niretq\nt: nop');
  return out;
}
