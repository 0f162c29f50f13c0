import { describe, expect, it } from 'vitest';
import type { Case } from '../../corpus/case-schema.js';
import { LAYOUT } from '../../contracts/test-machine.js';
import { splitCode } from './instructions.js';
import { minimizeCase, NotFailingError, type MinimizeProgress } from './minimize.js';
import { encode, hexOf, makeCase, qword, readQword } from './test-fixtures.js';

const DATA = LAYOUT.data;

/** Twelve instructions; the interesting one is the DS-prefixed `add r13, [rip→0x20000]` at index 6. */
const CODE = encode([
  '48c7c034120000', // mov rax, 0x1234
  '31c9', // xor ecx, ecx
  { hex: '488d1500000000', ripTo: DATA + 0x100n }, // lea rdx, [rip→0x20100]
  'eb03', // jmp short over the next one
  '4801c3', // add rbx, rax
  { hex: '488b3500000000', ripTo: DATA + 8n }, // mov rsi, [rip→0x20008]
  { hex: '3e4c032d00000000', ripTo: DATA }, // add r13, ds:[rip→0x20000]
  '4c89ef', // mov rdi, r13
  '4883e901', // sub rcx, 1
  '48897c24f8', // mov [rsp-8], rdi
  '49ffc0', // inc r8
  '90', // nop
]);
const ADD_RIP = splitCode(CODE)[6]!.address;

function original(): Case {
  const data = new Uint8Array(64).map((_, i) => (i * 37 + 11) & 0xff);
  data.set(qword(0xdeadbeefcafebaben), 8);
  return makeCase({
    code: CODE,
    regs: { rax: 0x1111n, rbx: 0xf0f0f0f0_00000300n, rcx: 3n, rdx: 0x20000n, rsi: 1n, rdi: 2n, r8: 0x8000000000000000n, r13: 0xc000000000000001n },
    rflags: 0x8d7n,
    memory: [{ addr: DATA, bytes: data }],
  });
}

/** The qword the case's memory holds at `addr` (0 where no region covers it). */
function memoryQword(c: Case, addr: bigint): bigint {
  for (const m of c.memory) {
    const off = Number(addr - m.addr);
    if (off >= 0 && off + 8 <= m.bytes.length) return readQword(m.bytes, off);
  }
  return 0n;
}

const readsRip = (c: Case, target: bigint, textStart: string) =>
  splitCode(c.code).some((i) => i.ripRelative?.target === target && i.text.startsWith(textStart));

/** "Fails iff the code has an `add r13, [rip+X]` reading 0x20000 and R13 starts with bit 63 set." */
const addR13Bug = async (c: Case) => readsRip(c, DATA, 'add r13,') && ((c.regs.r13 ?? 0n) >> 63n) === 1n;

describe('minimizeCase', () => {
  it('shrinks to the one RIP-relative add, re-aimed, with only R13 bit 63 left', async () => {
    const progress: MinimizeProgress[] = [];
    const r = await minimizeCase(original(), addR13Bug, { onProgress: (p) => progress.push(p) });
    expect(r.case.asm).toEqual([`add r13, [rip+0x${(DATA - LAYOUT.code - 7n).toString(16)}]`]);
    expect(hexOf(r.case.code)).toBe('4c032df9ff0000'); // DS prefix dropped, disp re-aimed
    expect(r.case.regs).toEqual({ r13: 1n << 63n });
    expect(r.case.rflags).toBeUndefined();
    expect(r.case.memory).toEqual([]);
    expect(await addR13Bug(r.case)).toBe(true);
    expect(r.budgetExhausted).toBe(false);
    expect(r.calls).toBeLessThan(120);
    expect(progress.map((p) => p.step)).toEqual(r.steps);
    expect(progress.at(-1)?.instructions).toBe(1);
  });

  it('cuts right after the divergent instruction when told where it is', async () => {
    const r = await minimizeCase(original(), addR13Bug, { divergenceRip: ADD_RIP });
    expect(r.steps[0]).toBe('truncate after the divergent instruction: 12 → 7 instructions');
    expect(r.case.code.length).toBe(7);
  });

  it('finds the shortest failing prefix without a divergence address', async () => {
    const r = await minimizeCase(original(), addR13Bug);
    expect(r.steps[0]).toBe('truncate to the shortest failing prefix: 12 → 7 instructions');
  });

  it('reduces memory to the qword that matters and its value to one bit', async () => {
    // fails iff `mov rsi, [rip→0x20008]` is there, the qword at 0x20008 has bit 41 set, and RBX is non-zero
    const bug = async (c: Case) => readsRip(c, DATA + 8n, 'mov rsi,') && ((memoryQword(c, DATA + 8n) >> 41n) & 1n) === 1n && (c.regs.rbx ?? 0n) !== 0n;
    const r = await minimizeCase(original(), bug);
    expect(r.case.asm).toHaveLength(1);
    expect(r.case.asm![0]).toMatch(/^mov rsi, \[rip\+/);
    expect(r.case.memory).toEqual([{ addr: DATA + 8n, bytes: qword(1n << 41n) }]);
    expect(r.case.regs).toEqual({ rbx: 1n }); // any non-zero value will do: the lowest bit (0x100), then 1
    // compared memory is pinned to the original regions, so the zeroed bytes stay zero on every target
    expect(r.case.compare).toContainEqual({ addr: DATA, length: 64 });
    expect(await bug(r.case)).toBe(true);
  });

  it('stops at its budget with a case that still fails', async () => {
    let calls = 0;
    const r = await minimizeCase(original(), async (c) => (calls++, addR13Bug(c)), { budget: 10 });
    expect(calls).toBeLessThanOrEqual(10);
    expect(r.calls).toBe(calls);
    expect(r.budgetExhausted).toBe(true);
    expect(await addR13Bug(r.case)).toBe(true);
    expect(r.case.code.length).toBeLessThan(CODE.length);
  });

  it('refuses a case that does not fail to begin with', async () => {
    await expect(minimizeCase(original(), async () => false)).rejects.toBeInstanceOf(NotFailingError);
  });
});
