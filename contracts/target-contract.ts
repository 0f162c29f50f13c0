import { describe, expect, it } from 'vitest';
import { seedCase, SEED_DATA_ADDR, SEED_VALUE } from '../harness/samples/seed-case.js';
import type { ExecutionTarget } from './execution-target.js';
import { flagSet, GPR_NAMES, type MachineState } from './machine-state.js';
import { buildTestMachine, classifyException, LAYOUT } from './test-machine.js';

/**
 * The target contract (rp2040js's pattern): one suite, run against every ExecutionTarget —
 * QEMU over gdb and our emulator — so each expectation is checked on the real thing too.
 * Expectations are what the Intel SDM specifies; QEMU running them is the check.
 */
export interface TargetContractOptions {
  /**
   * The target runs the test machine's code at CPL 3 (the host CPU): HLT, privileged at CPL 3,
   * raises #GP there instead of halting, so that expectation is left out.
   */
  readonly cpl3?: boolean;
}

export function targetContract(name: string, target: () => ExecutionTarget, options: TargetContractOptions = {}): void {
  function arith(state: MachineState) {
    const f = state.rflags;
    return { CF: flagSet(f, 'CF'), ZF: flagSet(f, 'ZF'), SF: flagSet(f, 'SF'), OF: flagSet(f, 'OF'), PF: flagSet(f, 'PF'), AF: flagSet(f, 'AF') };
  }
  const exceptionOf = (s: MachineState) => classifyException(s, (a, n) => target().readMemory(a, n, 'virt'));

  describe(`${name} on the test machine`, () => {
    it('runs the seed case add r13, [rip+disp] one instruction at a time', async () => {
      const frag = seedCase();
      const m = buildTestMachine({ code: frag.code, memory: frag.memory });
      await target().reset(m.state, m.memory);

      expect((await target().step()).kind).toBe('step');
      let s = await target().readState();
      expect(s.rip).toBe(LAYOUT.code + 10n);
      expect(s.gpr.r13).toBe(0x1111111111111111n);

      expect((await target().step()).kind).toBe('step');
      s = await target().readState();
      expect(s.rip).toBe(LAYOUT.code + 17n);
      expect(s.gpr.r13).toBe(0xefbed000dc0fcbcfn); // the seed notes' hand value 0xEFBF0000DBFFCCF is wrong
      expect(arith(s)).toEqual({ CF: false, ZF: false, SF: true, OF: false, PF: true, AF: false });
      // the operand the add read is still there, little-endian
      const read = await target().readMemory(SEED_DATA_ADDR, 8, 'virt');
      expect(Buffer.from(read).readBigUInt64LE()).toBe(SEED_VALUE);

      await target().step(2);
      s = await target().readState();
      expect(s.rip).toBe(m.endAddress);
      expect(s.gpr.rdi).toBe(0xefbed000dc0fcbcfn);
      const stored = await target().readMemory(LAYOUT.stackTop - 8n, 8, 'phys');
      expect(Buffer.from(stored).readBigUInt64LE()).toBe(0xefbed000dc0fcbcfn);
    });

    it('reports a read of an unmapped page as #PF with error code and CR2', async () => {
      // mov rax, [0x30008]  (48 8b 04 25 disp32): first page the tables leave unmapped
      const code = Uint8Array.from([0x48, 0x8b, 0x04, 0x25, 0x08, 0x00, 0x03, 0x00]);
      const m = buildTestMachine({ code });
      await target().reset(m.state, m.memory);
      await target().step();
      const s = await target().readState();
      expect(await exceptionOf(s)).toEqual({ vector: 14, errorCode: 0, cr2: 0x30008n, rip: LAYOUT.code });
    });

    it('reports a write to a read-only page as #PF with P|W set', async () => {
      // mov [0x100], eax (89 04 25 disp32): page 0 holds the IDT, present but read-only, CR0.WP=1
      const code = Uint8Array.from([0x89, 0x04, 0x25, 0x00, 0x01, 0x00, 0x00]);
      const m = buildTestMachine({ code });
      await target().reset(m.state, m.memory);
      await target().step();
      expect(await exceptionOf(await target().readState())).toEqual({ vector: 14, errorCode: 0x3, cr2: 0x100n, rip: LAYOUT.code });
    });

    it('applies 0x67 to the RIP-relative form (EIP-relative) and truncates register addresses', async () => {
      const frag = seedCase();
      // 67 prefix on the add: one byte longer, so the displacement shrinks by one
      const disp = Number(SEED_DATA_ADDR - (LAYOUT.code + 10n + 8n));
      const d = Buffer.alloc(4);
      d.writeInt32LE(disp);
      const code = Uint8Array.from([...frag.code.subarray(0, 10), 0x67, 0x4c, 0x03, 0x2d, ...d]);
      let m = buildTestMachine({ code, memory: frag.memory });
      await target().reset(m.state, m.memory);
      await target().step(2);
      let s = await target().readState();
      expect(s.rip).toBe(LAYOUT.code + 18n);
      expect(s.gpr.r13).toBe(0xefbed000dc0fcbcfn);

      // add r13, [eax+ebx] with the upper halves set: only the low 32 bits form the address
      const code2 = Uint8Array.from([...frag.code.subarray(0, 10), 0x67, 0x4c, 0x03, 0x2c, 0x18]);
      m = buildTestMachine({ code: code2, memory: frag.memory, regs: { rax: 0xffff_0000_0001_0000n, rbx: 0x1234_0000_0001_0000n } });
      await target().reset(m.state, m.memory);
      await target().step(2);
      s = await target().readState();
      expect(await exceptionOf(s)).toBeUndefined();
      expect(s.gpr.r13).toBe(0xefbed000dc0fcbcfn);

      // the same without 0x67 is a non-canonical address: #GP(0)
      const code3 = Uint8Array.from([...frag.code.subarray(0, 10), 0x4c, 0x03, 0x2c, 0x18]);
      m = buildTestMachine({ code: code3, memory: frag.memory, regs: { rax: 0xffff_0000_0001_0000n, rbx: 0x1234_0000_0001_0000n } });
      await target().reset(m.state, m.memory);
      await target().step(2);
      expect(await exceptionOf(await target().readState())).toEqual({ vector: 13, errorCode: 0, cr2: undefined, rip: LAYOUT.code + 10n });
    });

    it('reset() loads every register exactly', async () => {
      const regs = Object.fromEntries(GPR_NAMES.map((n, i) => [n, BigInt.asUintN(64, 0x0123456789abcdefn * BigInt(i + 3))]));
      const m = buildTestMachine({ code: Uint8Array.of(0x90), regs });
      const want = { ...m.state, rflags: 0x8d7n, fsBase: 0xffff800012345000n, gsBase: 0x7fff00001000n, kernelGsBase: 0x42n };
      await target().reset(want, m.caseMemory);
      const got = await target().readState({ system: true });
      expect(got.gpr).toEqual(want.gpr);
      expect(got.rip).toBe(want.rip);
      expect(got.rflags).toBe(want.rflags);
      expect([got.fsBase, got.gsBase, got.kernelGsBase]).toEqual([want.fsBase, want.gsBase, want.kernelGsBase]);
      expect([got.cr0, got.cr3, got.cr4, got.efer]).toEqual([want.cr0, want.cr3, want.cr4, want.efer]);
      expect(got.seg.cs).toEqual(want.seg.cs);
      expect(got.seg.ss).toEqual(want.seg.ss);
      expect(got.gdtr).toEqual(want.gdtr);
    });

    it('reports a triple fault as a stop and recovers on the next reset()', async () => {
      // RSP points at an unmapped page: #PF → #DF while pushing the frame → shutdown
      const code = Uint8Array.from([0x48, 0x8b, 0x04, 0x25, 0x08, 0x00, 0x03, 0x00]);
      const m = buildTestMachine({ code, regs: { rsp: 0x50000n } });
      await target().reset(m.state, m.memory);
      expect((await target().step()).kind).toBe('triple-fault');
      const frag = seedCase();
      const m2 = buildTestMachine({ code: frag.code, memory: frag.memory });
      await target().reset(m2.state, m2.memory);
      await target().step(2);
      expect((await target().readState()).gpr.r13).toBe(0xefbed000dc0fcbcfn);
    });

    it.skipIf(options.cpl3)('reports HLT with nothing to wake it as halted (RIP after it), stepping or running, and recovers on the next reset()', async () => {
      const code = Uint8Array.from([0x90, 0xf4, 0x0f, 0x0b]); // nop; hlt; ud2
      const m = buildTestMachine({ code });
      await target().reset(m.state, m.memory);
      expect((await target().step()).kind).toBe('step');
      expect(await target().step()).toEqual({ kind: 'halted', rip: LAYOUT.code + 2n });
      expect((await target().readState()).rip).toBe(LAYOUT.code + 2n);
      await target().reset(m.state, m.caseMemory);
      expect(await target().runUntil([m.endAddress, ...m.exceptionStops], 100)).toEqual({ kind: 'halted', rip: LAYOUT.code + 2n });
      const frag = seedCase();
      const m2 = buildTestMachine({ code: frag.code, memory: frag.memory });
      await target().reset(m2.state, m2.memory);
      await target().step(2);
      expect((await target().readState()).gpr.r13).toBe(0xefbed000dc0fcbcfn);
    });

    it('runUntil stops at the end address or at an exception stop', async () => {
      const frag = seedCase();
      const m = buildTestMachine({ code: frag.code, memory: frag.memory });
      await target().reset(m.state, m.memory);
      expect(await target().runUntil([m.endAddress, ...m.exceptionStops], 1000)).toEqual({ kind: 'breakpoint', rip: m.endAddress });
      const code = Uint8Array.from([0x90, 0x90, 0x0f, 0x0b, 0x90]); // nop; nop; ud2
      const m2 = buildTestMachine({ code });
      await target().reset(m2.state, m2.caseMemory);
      const stop = await target().runUntil([m2.endAddress, ...m2.exceptionStops], 1000);
      expect(stop).toEqual({ kind: 'breakpoint', rip: m2.exceptionStops[6] });
      expect(await exceptionOf(await target().readState())).toMatchObject({ vector: 6, rip: LAYOUT.code + 2n });
    });
  });

  describe(`${name} reset contract`, () => {
    it('keeps memory outside the regions it is given', async () => {
      const frag = seedCase();
      const m = buildTestMachine({ code: frag.code, memory: frag.memory });
      await target().reset(m.state, m.memory);
      await target().writeMemory(0x21000n, Uint8Array.of(1, 2, 3, 4), 'phys');
      await target().reset(m.state, m.caseMemory);
      expect([...(await target().readMemory(0x21000n, 4, 'phys'))]).toEqual([1, 2, 3, 4]);
      await target().step(2);
      expect((await target().readState()).gpr.r13).toBe(0xefbed000dc0fcbcfn);
    });
  });
}
