import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { targetContract } from '../../contracts/target-contract.js';
import { buildTestMachine, classifyException, LAYOUT, systemMemory } from '../../contracts/test-machine.js';
import { HostTarget } from './host-target.js';
import { hostRunsUnavailable } from './runner-build.js';

/**
 * The host CPU as a target: the target contract (the suite QEMU and the emulator pass, HLT left
 * out: privileged at CPL 3), then what only a CPL 3 runner must take care of. Real runs on the
 * host CPU; skipped, saying why, only where the host is not x86-64 Linux or has no `cc`.
 */
const unavailable = hostRunsUnavailable();
let host: HostTarget;

describe.skipIf(unavailable !== undefined)(`HostTarget${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  beforeAll(async () => {
    host = await HostTarget.start();
  });
  afterAll(async () => {
    await host?.close();
  });

  targetContract('HostTarget', () => host, { cpl3: true });

  const run = async (code: number[], regs = {}, rflags = 0x2n) => {
    const m = buildTestMachine({ code: Uint8Array.from(code), regs, rflags });
    await host.reset(m.state, [...m.memory, m.trampoline]);
    const stop = await host.runUntil([LAYOUT.blockEnd, ...m.exceptionStops], 100);
    const state = await host.readState();
    return { stop, state, exception: await classifyException(state, (a, n) => host.readMemory(a, n, 'virt')) };
  };

  it('PUSHF stores the test machine flags (IF as loaded, TF clear), not the CPL 3 ones the host runs with', async () => {
    // pushfq; pop rax; pushfw; pop bx (66 9c; 66 5b)
    const { state } = await run([0x9c, 0x58, 0x66, 0x9c, 0x66, 0x5b], {}, 0x202n);
    expect(state.gpr.rax).toBe(0x202n);
    expect(state.gpr.rbx & 0xffffn).toBe(0x202n);
    const off = await run([0x9c, 0x58], {}, 0x2n);
    expect(off.state.gpr.rax).toBe(0x2n);
  });

  it('POPF loads IF and IOPL as at CPL 0', async () => {
    // push 0x3202; popfq; pushfq; pop rax
    const { state } = await run([0x68, 0x02, 0x32, 0x00, 0x00, 0x9d, 0x9c, 0x58]);
    expect(state.gpr.rax).toBe(0x3202n);
  });

  it('a TF set in RFLAGS raises #DB after the first instruction (a trap: RIP after it)', async () => {
    const { exception } = await run([0x90, 0x90], {}, 0x102n);
    expect(exception).toMatchObject({ vector: 1, rip: LAYOUT.code + 1n });
  });

  it('reports #DE, #UD and #BP with the SDM return addresses', async () => {
    expect((await run([0x48, 0xf7, 0xf1], { rax: 5n })).exception).toMatchObject({ vector: 0, rip: LAYOUT.code });
    expect((await run([0x0f, 0x0b])).exception).toMatchObject({ vector: 6, rip: LAYOUT.code });
    expect((await run([0xcc])).exception).toMatchObject({ vector: 3, rip: LAYOUT.code + 1n });
  });

  it('never lets the case reach the kernel: SYSCALL ends the run as a crash and is recorded', async () => {
    const { stop, state } = await run([0x0f, 0x05], { rax: 39n }); // getpid
    expect(stop).toMatchObject({ kind: 'crash', message: expect.stringContaining('system call (number 39)') });
    expect(host.lastEvent).toMatchObject({ kind: 'syscall', syscallNr: 39 });
    expect(state.gpr.rax).toBe(39n);
  });

  it('loads and reads back SSE registers (paddq xmm0, xmm1)', async () => {
    const m = buildTestMachine({ code: Uint8Array.of(0x66, 0x0f, 0xd4, 0xc1) });
    const xmm = Array.from({ length: 16 }, () => 0n);
    xmm[0] = (5n << 64n) | 0xffffffffffffffffn;
    xmm[1] = (7n << 64n) | 2n;
    await host.reset({ ...m.state, sse: { mxcsr: 0x1f80, xmm } }, m.memory);
    await host.step();
    const s = await host.readState();
    expect(s.sse?.xmm[0]).toBe((12n << 64n) | 1n);
    expect(s.sse?.mxcsr).toBe(0x1f80);
  });

  it('says when it cannot load a segment base a CPL 3 process may not use', async () => {
    const m = buildTestMachine({ code: Uint8Array.of(0x90), fsBase: 0xffff800012345000n });
    await host.reset(m.state, m.memory);
    await host.step();
    expect(host.limits).toEqual([expect.stringContaining('cannot load FS base 0xffff800012345000')]);
    expect((await host.readState()).fsBase).toBe(0xffff800012345000n);
  });

  it('shows the test machine IDT at address 0 when the kernel lets it map page 0', async () => {
    if (!host.page0Mapped) return; // not root, vm.mmap_min_addr > 0: reads of page 0 fault on the host
    const { state } = await run([0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x00]); // mov rax, [0]
    const idt = systemMemory()[0]!.bytes;
    expect(state.gpr.rax).toBe(Buffer.from(idt).readBigUInt64LE(0));
  });
});
