import { describe, expect, it } from 'vitest';
import { Seg } from '../decode/insn.js';
import { EmulatorTarget } from '../emulator-target.js';
import { buildTestMachine, LAYOUT } from '../../contracts/test-machine.js';
import { nasm } from '../test-support/nasm.js';

/**
 * Exception delivery per SDM Vol. 3 §6.14 (64-bit IDT gates, IST, stack switch, frame layout)
 * and §6.15 (double fault, triple fault). The IDT here is the test machine's, patched in RAM.
 */
async function machine(source: string, patch?: (t: EmulatorTarget) => Promise<void>) {
  const code = nasm(source, Number(LAYOUT.code));
  const tm = buildTestMachine({ code });
  const t = new EmulatorTarget();
  await t.reset(tm.state, tm.memory);
  await patch?.(t);
  return { t, tm };
}

function qword(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

describe('64-bit exception delivery', () => {
  it('pushes SS, RSP, RFLAGS, CS, RIP, error code on a 16-byte aligned stack and clears IF for interrupt gates', async () => {
    const { t } = await machine('mov rsp, 0xfff8\nsti\nmov rax, [0x40000]');
    await t.step(3);
    const s = await t.readState();
    expect(s.rip).toBe(LAYOUT.handlers + 14n * 16n);
    // 0xfff8 aligns down to 0xfff0; six qwords below it.
    expect(s.gpr.rsp).toBe(0xfff0n - 48n);
    const frame = await t.readMemory(s.gpr.rsp, 48, 'virt');
    const q = (i: number) => new DataView(frame.buffer).getBigUint64(i * 8, true);
    expect(q(0)).toBe(0n); // error code: not present, read, supervisor
    expect(q(1)).toBe(LAYOUT.code + 6n); // faulting RIP (after the 5-byte mov rsp and 1-byte sti)
    expect(q(2)).toBe(0x1008n);
    expect(q(3) & 0x200n).toBe(0x200n); // pushed RFLAGS has IF
    expect(q(4)).toBe(0xfff8n);
    expect(q(5)).toBe(0x1010n);
    expect(s.rflags & 0x200n).toBe(0n);
    expect(s.cr2).toBe(0x40000n);
  });

  it('switches to an IST stack taken from the TSS', async () => {
    const { t } = await machine('int3', async (t) => {
      // Gate 3: IST = 1. TSS at 0x20000: IST1 (offset 0x24) = 0x2f000.
      const gate = await t.readMemory(3n * 16n, 16, 'phys');
      gate[4] = 1;
      await t.writeMemory(3n * 16n, gate, 'phys');
      await t.writeMemory(0x20024n, qword(0x2f000n), 'phys');
      const c = t.internals.cpu;
      c.tr.base = 0x20000;
      c.tr.limit = 0x67;
    });
    await t.step();
    const s = await t.readState();
    expect(s.rip).toBe(LAYOUT.handlers + 3n * 16n);
    expect(s.gpr.rsp).toBe(0x2f000n - 40n);
    const rip = new DataView((await t.readMemory(s.gpr.rsp, 8, 'virt')).buffer).getBigUint64(0, true);
    expect(rip).toBe(LAYOUT.code + 1n); // INT3 is a trap: RIP after the instruction
  });

  it('escalates a #PF during #PF delivery to #DF, and a fault during #DF to a triple fault', async () => {
    // RSP in an unmapped page: delivering the #PF faults again → #DF, which faults too → shutdown.
    const { t } = await machine('mov rsp, 0x50000\nmov rax, [0x40000]');
    await t.step();
    expect(await t.step()).toEqual({ kind: 'triple-fault' });
    expect(await t.step()).toEqual({ kind: 'triple-fault' });
  });

  it('delivers #GP for a gate beyond the IDT limit with the IDT bit and EXT in the error code', async () => {
    const { t } = await machine('ud2', async (t) => {
      t.internals.cpu.idtrLimit = 6 * 16 - 1; // vector 6 lies beyond the limit; 13 does too → #DF → …
    });
    expect(await t.step()).toEqual({ kind: 'triple-fault' });
  });

  it('turns an internal error into a crash result naming RIP and the bytes', async () => {
    const { t } = await machine('nop\nnop', async (t) => {
      t.internals.cpu.segAttr[Seg.CS] = 0; // leave 64-bit mode for legacy protected mode…
      t.internals.cpu.updateMode();
      t.internals.cpu.efer = 0;
      // …where #UD's 8-byte gate is a task gate: task switches are an internal limitation
      await t.writeMemory(LAYOUT.idt + 6n * 8n, Uint8Array.from([0, 0, 0, 0, 0, 0x85, 0, 0]), 'phys');
    });
    t.internals.cpu.regs[0] = 0;
    const r = await t.step();
    // nop in legacy mode executes fine; force an exception path that is not implemented:
    expect(r.kind).toBe('step');
    await t.writeMemory(LAYOUT.code + 1n, Uint8Array.from([0x0f, 0x0b]), 'phys');
    const r2 = await t.step();
    expect(r2.kind).toBe('crash');
    if (r2.kind === 'crash') expect(r2.message).toMatch(/RIP 0x10001 \(bytes 0f 0b.*task gate/);
  });
});
