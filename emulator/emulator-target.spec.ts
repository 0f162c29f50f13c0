import { describe, expect, it } from 'vitest';
import { buildTestMachine, LAYOUT } from '../contracts/test-machine.js';
import { EmulatorTarget } from './emulator-target.js';
import { nasm } from './test-support/nasm.js';
import { flagsOf, run } from './test-support/run.js';

describe('EmulatorTarget on the test machine', () => {
  it('seed case: add r13, [rip+disp] (values from DESIGN.md, checked on the host CPU)', async () => {
    const qword = new Uint8Array(8);
    new DataView(qword.buffer).setBigUint64(0, 0xdeadbeefcafebaben, true);
    const r = await run('mov r13, 0x1111111111111111\nadd r13, [rel 0x20000]', {
      memory: [{ addr: LAYOUT.data, bytes: qword }],
    });
    expect(r.state.gpr.r13).toBe(0xefbed000dc0fcbcfn);
    expect(flagsOf(r.state.rflags)).toEqual({ CF: 0, ZF: 0, SF: 1, OF: 0, PF: 1, AF: 0 });
  });

  it('runs to the end address', async () => {
    const r = await run('mov eax, 1\nadd eax, 2');
    expect(r.stop).toEqual({ kind: 'breakpoint', rip: LAYOUT.code + 8n }); // b8 01 00 00 00, 83 c0 02
    expect(r.state.gpr.rax).toBe(3n);
    expect(r.exception).toBeUndefined();
  });

  it('delivers #UD through the IDT for ud2', async () => {
    const r = await run('nop\nud2');
    expect(r.exception).toMatchObject({ vector: 6, rip: LAYOUT.code + 1n });
  });

  it('delivers #PF with CR2 and the error code for an unmapped read', async () => {
    const r = await run('mov rax, [0x40000]');
    expect(r.exception).toMatchObject({ vector: 14, errorCode: 0, cr2: 0x40000n, rip: LAYOUT.code });
  });

  it('delivers #DE for div by zero', async () => {
    const r = await run('xor ecx, ecx\ndiv rcx');
    expect(r.exception).toMatchObject({ vector: 0, rip: LAYOUT.code + 2n });
  });

  it('re-decodes code that the guest overwrote (decode cache invalidation)', async () => {
    // The loop body's "mov eax, 1" is patched to "mov eax, 2" after its first execution.
    const r = await run(`
      mov ecx, 2
      l: mov eax, 1
      add ebx, eax
      mov byte [rel l+1], 2
      dec ecx
      jnz l`);
    expect(r.state.gpr.rbx).toBe(3n);
  });

  it('keeps decoded code across resets only where the reset did not rewrite it', async () => {
    // A compiled loop (run past the block threshold) that a later reset leaves alone, then rewrites.
    const loopAt = (add: number) => nasm(`mov ecx, 200\nl: add eax, ${add}\ndec ecx\njnz l`, Number(LAYOUT.code));
    const first = buildTestMachine({ code: loopAt(1) });
    const target = new EmulatorTarget();
    const stops = [first.endAddress, ...first.exceptionStops];
    await target.reset(first.state, first.memory);
    await target.runUntil(stops, 10_000);
    expect((await target.readState()).gpr.rax).toBe(200n);
    // registers only: the code page is not written, so the loop runs from the entries kept
    await target.reset(first.state, []);
    await target.runUntil(stops, 10_000);
    expect((await target.readState()).gpr.rax).toBe(200n);
    // the same address, other bytes: the kept entries for that page must go
    const second = buildTestMachine({ code: loopAt(3) });
    await target.reset(second.state, second.memory);
    await target.runUntil(stops, 10_000);
    expect((await target.readState()).gpr.rax).toBe(600n);
  });

  it('stops with limit, and reads virtual memory through the page tables without side effects', async () => {
    const r = await run('l: jmp l', { maxInstructions: 50 });
    expect(r.stop).toEqual({ kind: 'limit' });
    const pte = await r.target.readMemory(LAYOUT.pt + 0x10n * 8n, 8, 'phys');
    const before = Buffer.from(pte).readBigUInt64LE();
    await r.target.readMemory(LAYOUT.code, 4, 'virt');
    const after = Buffer.from(await r.target.readMemory(LAYOUT.pt + 0x10n * 8n, 8, 'phys')).readBigUInt64LE();
    expect(after).toBe(before);
    await expect(r.target.readMemory(0x40000n, 1, 'virt')).rejects.toThrow(/not mapped/);
  });

  it('reports segment caches in QEMU encoding with {system: true}', async () => {
    const r = await run('nop');
    expect(r.state.seg.cs).toEqual({ selector: 0x1008, base: 0n, limit: 0xffffffff, attrs: 0x00af9b00 });
    expect(r.state.gdtr).toEqual({ base: 0n, limit: 0xffff });
  });

  it('loads and saves register contexts between runs, keeping everything else (CR2, x87, control registers)', async () => {
    // a #PF (CR2 = 0x40000), an FPU load, then a HLT at the end of the code
    const code = nasm('fld1\nmov rax, [0x40000]\nhlt', Number(LAYOUT.code));
    const m = buildTestMachine({ code });
    const target = new EmulatorTarget();
    await target.reset(m.state, m.memory);
    const stops = new Set(m.exceptionStops.map(Number));
    expect(target.runToSync(stops, 100)).toBe('breakpoint');
    const ctx = target.newContext();
    target.saveContext(ctx);
    expect(ctx.rip).toBe(Number(m.exceptionStops[14]));
    expect([...ctx.cr2]).toEqual([0x40000, 0]);
    // the HLT after the fault, entered from a context: RCX's halves, RFLAGS and the segment caches as given
    const hlt = Number(LAYOUT.code) + code.length - 1;
    ctx.rip = hlt;
    ctx.gpr[2] = 0x89abcdef;
    ctx.gpr[3] = 0x01234567;
    ctx.rflags = 0x8d7;
    ctx.segBase[4] = 0x20000; // FS
    target.loadContext(ctx);
    expect(target.runToSync(stops, 10)).toBe('halted');
    const state = await target.readState({ system: true });
    expect(state.gpr.rcx).toBe(0x0123456789abcdefn);
    expect(state.rflags).toBe(0x8d7n);
    expect(state.fsBase).toBe(0x20000n);
    expect(state.cr2).toBe(0x40000n);
    expect(state.cr3).toBe(m.state.cr3);
    expect(state.fpu?.st[7]).not.toBe(0n); // FLD1 pushed onto the register below the initial TOP
    // a halted CPU wakes when a context is loaded: from the MOV, the #PF again
    ctx.rip = Number(LAYOUT.code) + 2;
    target.loadContext(ctx);
    expect(target.runToSync(stops, 10)).toBe('breakpoint');
    // views and writes of physical memory
    target.loadPhysical(Number(LAYOUT.data), Uint8Array.of(1, 2, 3));
    expect([...target.physicalView(Number(LAYOUT.data), 3)]).toEqual([1, 2, 3]);
  });
});
