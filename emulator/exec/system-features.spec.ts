import { describe, expect, it } from 'vitest';
import { type CpuModel, cpuidKey, qemu64Model } from '../cpu/cpu-model.js';
import type { Feature } from '../isa/row.js';
import { run } from '../test-support/run.js';

/**
 * What QEMU 7.2 cannot check, against the SDM (Vol. 2 INVPCID, RDPID, SYSENTER, SYSEXIT; Vol. 3
 * §4.10.1 PCIDE): its TCG drops +rdpid, +pcid and +invpcid, and runs SYSENTER/SYSEXIT in 64-bit
 * mode only for an Intel vendor. The differential suite covers the rest (sequences-system-features.ts).
 */
function model(features: Feature[], vendorIntel = false): CpuModel {
  const base = qemu64Model();
  const cpuid = new Map(base.cpuid);
  if (vendorIntel) cpuid.set(cpuidKey(0), [0xd, 0x756e6547, 0x6c65746e, 0x49656e69]); // GenuineIntel
  return { ...base, features: new Set(features), cpuid };
}

const PCID = model(['pcid', 'invpcid']);
const CR4_PCIDE = 'mov rax, cr4\nbts rax, 17\nmov cr4, rax';
/** An INVPCID descriptor at [rsi]: PCID (with bits 63:12 as given), then the linear address. */
const desc = (pcid: string, addr: string) => `mov rsi, 0x20000\nmov rax, ${pcid}\nmov [rsi], rax\nmov rax, ${addr}\nmov [rsi+8], rax`;

describe('INVPCID (SDM Vol. 2)', () => {
  it('types 0–3 with valid descriptors complete, with PCIDE set or (PCID 0) clear', async () => {
    const body = [0, 1, 2, 3].map((t) => `mov ecx, ${t}\ninvpcid rcx, [rsi]`).join('\n');
    expect((await run(`${desc('0', '0x1000')}\n${body}`, { model: PCID })).exception).toBeUndefined();
    expect((await run(`${CR4_PCIDE}\n${desc('5', '0x1000')}\n${body}`, { model: PCID })).exception).toBeUndefined();
  });

  it.each([
    ['a type above 3', `${desc('0', '0')}\nmov ecx, 4\ninvpcid rcx, [rsi]`],
    ['type 0 with a non-canonical address', `${desc('0', '0x0000800000000000')}\nxor ecx, ecx\ninvpcid rcx, [rsi]`],
    ['type 1 with descriptor bits 63:12 set', `${desc('0x1000', '0')}\nmov ecx, 1\ninvpcid rcx, [rsi]`],
    ['type 0 with PCID 1 while PCIDE is clear', `${desc('1', '0')}\nxor ecx, ecx\ninvpcid rcx, [rsi]`],
  ])('#GP(0) for %s', async (_name, code) => {
    expect((await run(code, { model: PCID })).exception).toMatchObject({ vector: 13, errorCode: 0 });
  });

  it('#UD without the feature (qemu64)', async () => {
    expect((await run(`${desc('0', '0')}\nxor ecx, ecx\ninvpcid rcx, [rsi]`)).exception?.vector).toBe(6);
  });
});

describe('CR4.PCIDE (SDM Vol. 3 §4.10.1)', () => {
  it('sets in IA-32e mode with CR3[11:0] = 0, and #GP(0) with CR3[11:0] ≠ 0', async () => {
    expect((await run(`${CR4_PCIDE}\nmov rbx, cr4`, { model: PCID })).state.gpr.rbx & (1n << 17n)).toBe(1n << 17n);
    const r = await run(`mov rax, cr3\nor eax, 1\nmov cr3, rax\n${CR4_PCIDE}`, { model: PCID });
    expect(r.exception).toMatchObject({ vector: 13, errorCode: 0 });
  });

  it('MOV CR3 with bit 63 (no flush) stores CR3 without it', async () => {
    const r = await run(`${CR4_PCIDE}\nmov rax, cr3\nbts rax, 63\nmov cr3, rax\nmov rbx, cr3\nmov rcx, [rsi]`, { model: PCID, regs: { rsi: 0x20000n } });
    expect(r.exception).toBeUndefined();
    expect(r.state.gpr.rbx).toBe(0x2000n);
  });

  it('clearing CR0.PG in compatibility mode: #GP(0) with PCIDE set, the switch to legacy mode without', async () => {
    // jmp far m16:32 to the 32-bit code selector, then CR0.PG cleared there
    const compat = (pre: string) => `${pre}\nlea rax, [rel c]\nmov [rsi], eax\nmov word [rsi+4], 0x1018\ndb 0xff, 0x2e\nbits 32\nc: mov eax, cr0\nbtr eax, 31\nmov cr0, eax\nmov ebx, 1\nbits 64`;
    const on = await run(compat(CR4_PCIDE), { model: PCID, regs: { rsi: 0x20000n } });
    expect(on.exception).toMatchObject({ vector: 13, errorCode: 0 });
    const off = await run(compat(''), { model: PCID, regs: { rsi: 0x20000n } });
    expect(off.state.efer & 0x400n).toBe(0n); // LMA cleared: legacy protected mode
  });
});

describe('RDPID (SDM Vol. 2)', () => {
  it('reads IA32_TSC_AUX, zero-extended into r64', async () => {
    const code = 'mov ecx, 0xc0000103\nmov eax, 0x12345678\nxor edx, edx\nwrmsr\nmov r9, -1\nrdpid r9';
    const r = await run(code, { model: model(['rdpid']) });
    expect(r.exception).toBeUndefined();
    expect(r.state.gpr.r9).toBe(0x12345678n);
    expect((await run(code)).exception?.vector).toBe(6); // qemu64: #UD
  });
});

describe('SYSENTER/SYSEXIT in 64-bit mode on an Intel vendor (SDM Vol. 2)', () => {
  const msrs = 'mov ecx, 0x174\nmov eax, 0x1008\nxor edx, edx\nwrmsr\nmov ecx, 0x175\nmov eax, 0x9000\nwrmsr\nmov ecx, 0x176\nlea rax, [rel entry]\nwrmsr';
  it('SYSENTER enters 64-bit code at CPL 0 with SS = CS + 8, RSP from the MSR, IF cleared', async () => {
    const r = await run(`${msrs}\nsti\nsysenter\nud2\nentry: mov rbx, rsp`, { model: model([], true) });
    expect(r.exception).toBeUndefined();
    expect(r.state.seg.cs.selector).toBe(0x1008);
    expect(r.state.seg.ss.selector).toBe(0x1010);
    expect(r.state.gpr.rbx).toBe(0x9000n);
    expect(r.state.rflags & 0x200n).toBe(0n);
  });

  it('SYSEXIT with REX.W returns to 64-bit CPL 3 at CS + 32 / SS + 40; a non-canonical RDX is #GP(0)', async () => {
    const to = (rdx: string) => `${msrs}\nmov rdx, ${rdx}\nmov rcx, 0x10000\ndb 0x48, 0x0f, 0x35\nentry: nop`;
    const r = await run(`${to('0x6000')}`, { model: model([], true) }); // lands on the #DE stop: the state there is CPL 3's
    expect(r.state.seg.cs.selector).toBe(0x102b);
    expect(r.state.seg.ss.selector).toBe(0x1033);
    expect(r.state.gpr.rsp).toBe(0x10000n);
    expect((await run(to('0x0000800000000000'), { model: model([], true) })).exception).toMatchObject({ vector: 13, errorCode: 0 });
  });
});
