import { beforeAll, describe, expect, it } from 'vitest';
import { asm, assembleChecked, initAssembler, verifyEncoding, formatRejection } from './assembler.js';
import { decodeAll } from './decode.js';
import { getKeystone } from './keystone.js';
import { nasmAssemble } from './nasm-ref.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Representative forms; each is compared with nasm's encoding of the same text. */
const REFERENCE = [
  // ALU reg/reg, all sizes, REX registers
  'add rax, rbx',
  'sub r8, r9',
  'xor eax, eax',
  'and r12d, r13d',
  'or cx, dx',
  'adc al, bl',
  'sbb r10b, r11b',
  'cmp rsp, rbp',
  // ALU with immediates
  'add rax, 1',
  'add eax, 0x12345678',
  'sub r15, -128',
  'and al, 0x7f',
  'cmp word ptr [rax], 0x1234',
  'or qword ptr [rbx+8], -1',
  // memory forms: RIP-relative, SIB with R12/R13 bases, disp8/disp32
  'add r13, [rip+0x17fcc33]',
  'mov rax, [rip-0x40]',
  'mov rax, [r12]',
  'mov rax, [r13]',
  'mov rcx, [r12+r13*8+0x100]',
  'mov rdx, [r13+r12*4-8]',
  'lea rsi, [rsp+rax*2+8]',
  'mov [rbp-0x10], edi',
  'mov ebx, [rsp]',
  'mov qword ptr [r14+0x12345678], r15',
  // high-byte registers (no REX)
  'mov ah, bl',
  'add ch, dh',
  'xor bh, [rax]',
  'movzx eax, ah',
  // movabs / 64-bit immediates
  'movabs rax, 0x1111111111111111',
  'mov r13, 0x8000000000000000',
  // push / pop
  'push 0x12',
  'push 0x12345678',
  'push -1',
  'push r12',
  'pop r15',
  // 0x67 address-size forms
  'add eax, [ecx]',
  'mov rax, [r8d+ecx*4]',
  'lea eax, [ebx+esi]',
  // shifts and the rest
  'shl rax, 1',
  'sar r9d, cl',
  'rol byte ptr [rdi], 3',
  'imul rax, rbx, 100',
  'neg qword ptr [rsi]',
  'not r11',
  'bswap r14',
  'movsx rax, byte ptr [rdx]',
  'movzx r8d, word ptr [r9]',
  'cmovne rax, rcx',
  'sete r10b',
  'xchg rax, r8',
  'bt rax, 63',
  'cqo',
  'rep stosq',
  'lock xadd [rdi], rax',
  'inc r14w',
  'div rbx',
];

beforeAll(async () => {
  await initAssembler();
});

describe('assembleChecked vs nasm', () => {
  it('encodes the reference set like nasm (same bytes, or same decoding)', () => {
    const address = 0x401000n;
    const ks = assembleChecked(REFERENCE, address);
    if (!ks.ok) throw new Error(formatRejection(ks));
    const nasmBytes = nasmAssemble(REFERENCE, address);
    const theirs = decodeAll(nasmBytes, address);
    expect(theirs.length).toBe(REFERENCE.length);
    expect(ks.instructions.length).toBe(REFERENCE.length);
    const differentBytes: string[] = [];
    for (let i = 0; i < REFERENCE.length; i++) {
      const a = ks.instructions[i]!;
      const b = theirs[i]!;
      if (hex(a.bytes) === hex(b.bytes)) continue;
      differentBytes.push(`${REFERENCE[i]}: keystone ${hex(a.bytes)} nasm ${hex(b.bytes)}`);
      // equivalent encodings must decode identically
      expect(a.text, REFERENCE[i]).toBe(b.text);
    }
    // keep the set honest: nearly everything should be byte-identical
    expect(differentBytes.length, differentBytes.join('\n')).toBeLessThanOrEqual(5);
  });

  it('checks specific encodings', async () => {
    expect(hex(await asm('add r13, [rip+0x17fcc33]'))).toBe('4c032d33cc7f01');
    expect(hex(await asm('mov r13, 0x1111111111111111\nadd r13, [rip+0x10]'))).toBe('49bd11111111111111114c032d10000000');
    expect(hex(await asm('add eax, [ecx]'))).toBe('670301');
    expect(hex(await asm('push 0x12345678'))).toBe('6878563412');
    expect(hex(await asm('mov ah, bl'))).toBe('88dc');
  });

  it('reads bare numbers as decimal, 0x / h as hex', async () => {
    expect(hex(await asm('mov eax, 10'))).toBe('b80a000000');
    expect(hex(await asm('mov eax, 0x10'))).toBe('b810000000');
    expect(hex(await asm('mov eax, 10h'))).toBe('b810000000');
  });
});

describe('rejections', () => {
  it('rejects mov sil, ah (high byte with REX) before keystone sees it', () => {
    const r = assembleChecked(['mov sil, ah']);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.kind).toBe('illegal');
      expect(r.line).toBe(0);
      expect(r.reason).toMatch(/high-byte register ah/);
    }
  });

  it('would also catch keystone\'s mov sil, ah bytes (40 88 e6 = mov sil, spl) by decoding', () => {
    const r = verifyEncoding(['mov sil, ah'], Uint8Array.from([0x40, 0x88, 0xe6]), 0n, { prefilter: false });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/expected ah, decoded spl/);
  });

  it.each([
    ['add al, 0x1234', /does not fit the 8-bit immediate/],
    ['push 0x80000000', /does not fit the 16-bit immediate/], // keystone: 66 68 00 00 (pushw 0)
    ['push 0xffffffff', /does not fit the 16-bit immediate/], // keystone: 66 68 ff ff
    ['push 65535', /encoded as 0xffffffffffffffff/], // keystone: 6a ff (push -1)
    ['mov rax, [rax+0x80000000]', /displacement 0x80000000 encoded as 0xffffffff80000000/],
    ['mov eax, [rax+0x100000000]', /displacement 0x100000000 encoded as 0x0/], // keystone: 8b 40 00
    ['mov ax, 0x12345', /does not fit the 16-bit immediate/], // keystone: 66 b8 45 23
  ])('rejects the silent mis-encoding of %s', (line, reason) => {
    const r = assembleChecked(['nop', line, 'ret']);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.kind).toBe('mismatch');
      expect(r.line).toBe(1);
      expect(r.reason).toMatch(reason);
    }
  });

  it('locates a keystone syntax error in a batch by falling back to line-by-line', () => {
    const r = assembleChecked(['top:', 'mov eax, 1', 'add eax, ebx ; comment', 'frobnicate eax', 'jnz top']);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.line).toBe(3);
      expect(r.kind).toBe('syntax');
    }
  });

  it('asm() throws an Error naming the bad line', async () => {
    await expect(asm('mov eax, 1\nadd al, 0x1234')).rejects.toThrow(/line 2 'add al, 0x1234'/);
    await expect(asm('mov eax, 1\nmov r8b, ah')).rejects.toThrow(/line 2 'mov r8b, ah'.*REX/);
  });

  it('keeps working after 30 rejected high-byte/REX lines in a row', async () => {
    const bad = ['mov r8b, ah', 'add ah, r9b', 'mov ah, [r8]', 'xchg ah, r10b', 'mov sil, ah', 'movzx rax, bh'];
    for (let i = 0; i < 30; i++) {
      const r = assembleChecked([bad[i % bad.length]!]);
      expect(r.ok).toBe(false);
    }
    expect(hex(await asm('add r13, [rip+0x17fcc33]'))).toBe('4c032d33cc7f01');
  });
});

describe('programs', () => {
  it('assembles a 100-instruction program in one call and maps instructions to lines', () => {
    const lines: string[] = [];
    for (let i = 0; i < 100; i++) lines.push(REFERENCE[i % REFERENCE.length]!);
    const r = assembleChecked(lines, 0x1000n);
    if (!r.ok) throw new Error(formatRejection(r));
    expect(r.instructions.length).toBe(100);
    expect(r.instructions[0]!.address).toBe(0x1000n);
    expect(r.instructions[99]!.line).toBe(99);
    const total = r.instructions.reduce((n, i) => n + i.length, 0);
    expect(total).toBe(r.bytes.length);
  });

  it('supports labels and branches', () => {
    const r = assembleChecked(['loop1:', '  dec ecx', '  jnz loop1', 'done: ret'], 0x2000n);
    if (!r.ok) throw new Error(formatRejection(r));
    expect(hex(r.bytes)).toBe('ffc975fcc3');
    expect(r.instructions.map((i) => i.line)).toEqual([1, 2, 3]);
  });

  it('shares one keystone instance', async () => {
    expect(await getKeystone()).toBe(await initAssembler());
  });
});
