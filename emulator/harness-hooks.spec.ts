import { describe, expect, it } from 'vitest';
import { buildTestMachine, LAYOUT } from '../contracts/test-machine.js';
import { EmulatorTarget } from './emulator-target.js';
import { type DataAccess, injectInterrupt, readDebugRegisters, loadDebugRegisters, ramView, readMsr, readRegisterRecord, routeDevices, setRegisters, traceAccesses, writeMsr } from './harness-hooks.js';
import { recordDiffs, recordToState, RR } from '../contracts/register-record.js';
import { nasm } from './test-support/nasm.js';

async function targetWith(code: string, regs: Record<string, bigint> = {}) {
  const machine = buildTestMachine({ code: nasm(code, Number(LAYOUT.code)), regs });
  const t = new EmulatorTarget();
  await t.reset(machine.state, machine.memory);
  return t;
}

describe('emulator harness hooks', () => {
  it('loads and reads MSRs it models, and refuses the others without creating them', async () => {
    const t = await targetWith('nop');
    expect(writeMsr(t, 0x277, 0x0007010600070106n)).toBe(true); // PAT
    expect(readMsr(t, 0x277)).toBe(0x0007010600070106n);
    expect(writeMsr(t, 0xc0000082, 0xffffffff81a00000n)).toBe(true); // LSTAR
    expect(readMsr(t, 0xc0000082)).toBe(0xffffffff81a00000n);
    expect(writeMsr(t, 0xc0000082, 0x0000800000000000n)).toBe(false); // non-canonical: WRMSR would #GP
    expect(readMsr(t, 0xc0000082)).toBe(0xffffffff81a00000n);
    expect(writeMsr(t, 0x179, 0x0a0an)).toBe(true); // MCG_CAP: a constant in QEMU's model, writes ignored
    expect(readMsr(t, 0x179)).toBe(0x100010an);
    expect(writeMsr(t, 0xc0011029, 2n)).toBe(false); // DE_CFG: qemu64 has no such MSR
    expect(readMsr(t, 0xc0011029)).toBeUndefined();
    // the time-stamp counter is set through its MSR: RDTSC then continues from the value
    expect(writeMsr(t, 0x10, 1_000_000n)).toBe(true);
    const tsc = readMsr(t, 0x10)!;
    expect(tsc >= 1_000_000n && tsc < 1_000_010n).toBe(true);
  });

  it('sets registers in place, keeping the MSRs a reset() would put back to their defaults', async () => {
    const t = await targetWith('nop');
    writeMsr(t, 0xc0000081, 0x0023001000000000n); // STAR
    setRegisters(t, { gpr: { rax: 0x1122334455667788n, r13: 0xffffffff82aa93b0n }, rflags: 0x246n });
    const s = await t.readState();
    expect(s.gpr.rax).toBe(0x1122334455667788n);
    expect(s.gpr.r13).toBe(0xffffffff82aa93b0n);
    expect(s.rflags).toBe(0x246n);
    expect(readMsr(t, 0xc0000081)).toBe(0x0023001000000000n);
  });

  it('keeps debug registers as loaded', async () => {
    const t = await targetWith('nop');
    loadDebugRegisters(t, [1n, 2n, 3n, 4n, 0n, 0n, 0xffff0ff0n, 0x401n]);
    expect(readDebugRegisters(t)).toEqual([1n, 2n, 3n, 4n, 0n, 0n, 0xffff0ff0n, 0x401n]);
  });

  it('reports data writes with the bytes they replaced, and data reads, with their physical ranges', async () => {
    const base = LAYOUT.data + 0xffcn; // an 8-byte store that crosses into the next page
    const t = await targetWith('mov [rbx], rax\nmov rcx, [rbx]\npush rcx', { rbx: base, rax: 0x0807060504030201n });
    await t.writeMemory(base, Uint8Array.from([0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7]), 'phys');
    const writes: Array<DataAccess & { old: Uint8Array }> = [];
    const reads: DataAccess[] = [];
    const stop = traceAccesses(t, { write: (a) => writes.push(a), read: (a) => reads.push(a) });
    await t.step(3);
    stop();
    expect(writes).toHaveLength(2);
    expect(writes[0]).toEqual({
      lin: base,
      size: 8,
      // the test machine maps its data pages 1:1
      phys: [{ addr: Number(base), length: 4 }, { addr: Number(base) + 4, length: 4 }],
      old: Uint8Array.from([0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7]),
    });
    expect(writes[1]).toMatchObject({ lin: LAYOUT.stackTop - 8n, size: 8 });
    expect(reads).toEqual([{ lin: base, size: 8, phys: writes[0]!.phys }]);
    // the live RAM view sees the store
    expect(Array.from(ramView(t).subarray(Number(base), Number(base) + 8))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // after stop(), nothing is reported any more
    await t.reset(await t.readState(), []);
    await t.step(1);
    expect(writes).toHaveLength(2);
  });

  it('routes ports and the space above RAM to the harness', async () => {
    const t = await targetWith('out 0x80, al\nin al, 0x71', { rax: 0x5an });
    const seen: string[] = [];
    routeDevices(
      t,
      { in: (p, s) => (seen.push(`in ${p.toString(16)}/${s}`), 0x42), out: (p, s, v) => void seen.push(`out ${p.toString(16)}/${s}=${v.toString(16)}`) },
      { read: (o, s) => (seen.push(`mmio read +${o.toString(16)}/${s}`), 0x50014), write: () => undefined },
    );
    await t.step(2);
    expect(seen).toEqual(['out 80/1=5a', 'in 71/1']);
    expect((await t.readState()).gpr.rax & 0xffn).toBe(0x42n);
    // the test machine does not map the LAPIC page: a physical read as the CPU would make it
    expect(t.internals.bus.read32(0xfee00030)).toBe(0x50014);
    const offset = 0xfee00030 - t.internals.bus.ramSize; // the window starts where RAM ends
    expect(seen[2]).toBe(`mmio read +${offset.toString(16)}/4`);
  });

  it('hands a 64-bit store to a device as one 8-byte write when the device takes them, else as two', async () => {
    // QEMU's HPET takes hpet_alloc's `mov [r9], rdx` to its comparator (0xfed00148) as one
    // 8-byte write, which the boot lockstep saw and compares
    const t = await targetWith('nop', {});
    const seen: string[] = [];
    const ports = { in: () => 0, out: () => undefined };
    const base = t.internals.bus.ramSize;
    routeDevices(t, ports, {
      read: () => 0,
      write: (o, s, v) => void seen.push(`+${(base + o).toString(16)}/${s}=${v.toString(16)}`),
      write64: (o, lo, hi) => void seen.push(`+${(base + o).toString(16)}/8=${hi.toString(16)}:${lo.toString(16)}`),
    });
    t.internals.bus.write64(0xfed00148, 0x01d6ac4e, 0x80000001);
    expect(seen).toEqual(['+fed00148/8=80000001:1d6ac4e']);
    const t2 = await targetWith('nop', {});
    const halves: string[] = [];
    routeDevices(t2, ports, { read: () => 0, write: (o, s, v) => void halves.push(`+${(base + o).toString(16)}/${s}=${v.toString(16)}`) });
    t2.internals.bus.write64(0xfed00148, 0x01d6ac4e, 0x80000001);
    expect(halves).toEqual(['+fed00148/4=1d6ac4e', '+fed0014c/4=80000001']);
  });
});

describe('emulator hooks for the log channel', () => {
  it('fills a register record equal to readState', async () => {
    const t = await targetWith('nop', { rax: 0xffffffff82aa93b0n, r15: 0x8000000000000001n, rbx: 7n });
    await t.step(1);
    const rec = new Uint32Array(RR.LENGTH);
    readRegisterRecord(t, rec);
    const s = await t.readState();
    expect(recordToState(rec)).toEqual({ ...s, fpu: undefined, sse: undefined, kernelGsBase: 0n, cr8: 0n, seg: Object.fromEntries(Object.entries(s.seg).map(([k, v]) => [k, { selector: v.selector }])) });
    expect(recordDiffs(rec, rec)).toEqual([]);
  });

  it('injects a hardware interrupt through the IDT between two instructions', async () => {
    const t = await targetWith('nop\nnop', { rsp: LAYOUT.stackTop });
    await t.step(1);
    const before = await t.readState();
    expect(injectInterrupt(t, 0x21)).toBe(true);
    const after = await t.readState();
    // a 64-bit interrupt frame without error code: SS, RSP, RFLAGS, CS, RIP
    expect(after.gpr.rsp).toBe(before.gpr.rsp - 40n);
    expect(after.rip).toBe(LAYOUT.handlers + BigInt(Math.min(0x21, LAYOUT.sharedVectorsFrom)) * LAYOUT.handlerStride);
    const frame = await t.readMemory(after.gpr.rsp, 8, 'virt');
    expect(new DataView(frame.buffer).getBigUint64(0, true)).toBe(before.rip); // returns to the second nop
  });
});
