import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { targetContract } from '../../contracts/target-contract.js';
import { buildTestMachine, LAYOUT } from '../../contracts/test-machine.js';
import { RspStubError } from '../rsp/errors.js';
import { QemuTarget } from './qemu-target.js';

// Real QEMU, no mocks: expectations here are what the Intel SDM specifies, checked on QEMU.
let qemu: QemuTarget;
beforeAll(async () => {
  qemu = await QemuTarget.launch();
});
afterAll(async () => {
  await qemu?.close();
});

targetContract('QemuTarget', () => qemu);

describe('QemuTarget reset', () => {
  it('does not restart QEMU', async () => {
    const pid = qemu.qemu.pid;
    const m = buildTestMachine({ code: Uint8Array.of(0x90) });
    await qemu.reset(m.state, m.memory);
    await qemu.reset({ ...m.state, gpr: { ...m.state.gpr, rax: 42n } }, m.caseMemory);
    expect((await qemu.readState()).gpr.rax).toBe(42n);
    expect(qemu.qemu.pid).toBe(pid);
  });
});

describe('QemuTarget shared RAM file', () => {
  it('writes data the guest then loads, and reads what the guest stored, without the gdb stub; leaves no file behind', async () => {
    // mov rax, [0x20000]; mov [0x20008], rbx  (the data page is NX: never translated)
    const code = Uint8Array.of(0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x02, 0x00, 0x48, 0x89, 0x1c, 0x25, 0x08, 0x00, 0x02, 0x00);
    const m = buildTestMachine({ code });
    await qemu.reset({ ...m.state, gpr: { ...m.state.gpr, rbx: 0x1122334455667788n } }, m.memory);
    await qemu.writeDataMemory([{ addr: LAYOUT.data, bytes: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) }]);
    const stop = await qemu.runUntil([m.endAddress], 10);
    expect(stop).toMatchObject({ kind: 'breakpoint', rip: m.endAddress });
    expect((await qemu.readState()).gpr.rax).toBe(0x0807060504030201n);
    expect(qemu.qemu.ram?.covers(LAYOUT.data, 16)).toBe(true);
    expect([...(await qemu.readMemory(LAYOUT.data + 8n, 8, 'phys'))]).toEqual([0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
    expect(readdirSync('/dev/shm').filter((f) => f.startsWith(`difftest-ram-${process.pid}-`))).toEqual([]);
  });
});

describe('QemuTarget bad input', () => {
  it('names an out-of-range memory write in one line', async () => {
    const err = await qemu.writeMemory(0x7fff_0000_0000n, Uint8Array.of(1, 2, 3), 'phys').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RspStubError);
    expect((err as Error).message).toMatch(/^cannot write 3 bytes of phys memory at 0x7fff00000000: outside guest RAM/);
    expect((err as Error).message).not.toContain('\n');
  });

  it('names an unmapped virtual address in one line', async () => {
    const err = await qemu.readMemory(0x7fff_0000_0000n, 16, 'virt').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RspStubError);
    expect((err as Error).message).toMatch(/^cannot read 16 bytes of virt memory at 0x7fff00000000: not mapped/);
  });

  it('names the refused packet of a pipelined read that runs into unmapped memory, and goes on', async () => {
    const m = buildTestMachine({ code: Uint8Array.of(0x90) });
    await qemu.reset(m.state, m.memory);
    const start = LAYOUT.unmapped - 0x1000n; // chunks of 0x7f0: the third starts 0x20 below the unmapped page
    const err = await qemu.readMemory(start, 0x2000, 'virt').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RspStubError);
    expect((err as Error).message).toMatch(new RegExp(`^cannot read 2032 bytes of virt memory at 0x${(start + 0xfe0n).toString(16)}: not mapped`));
    expect(await qemu.readMemory(start, 0x1000, 'virt')).toHaveLength(0x1000);
  });

  it('reads back many packets of memory as written', async () => {
    const bytes = Uint8Array.from({ length: 24 * 1024 + 5 }, (_, i) => (i * 131 + (i >> 8)) & 0xff);
    await qemu.writeMemory(0x40000n, bytes, 'phys');
    expect(Buffer.from(await qemu.readMemory(0x40000n, bytes.length, 'phys')).equals(Buffer.from(bytes))).toBe(true);
  });

  it('names a register that target.xml lacks', async () => {
    await expect(qemu.readRegister('dr7')).rejects.toThrow(/register 'dr7' is not in the stub's target.xml/);
  });
});

describe('QEMU crashing', () => {
  it('fails pending requests with QEMU\'s exit status instead of hanging, and leaves no process', async () => {
    const victim = await QemuTarget.launch();
    const pid = victim.qemu.pid!;
    process.kill(pid, 'SIGKILL');
    const err = await victim.step().catch((e: unknown) => e);
    expect(String((err as Error).message)).toMatch(/gdb connection to unix:.* lost/);
    await victim.close();
    expect(() => process.kill(pid, 0)).toThrow();
  });
});
