import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestMachine, LAYOUT } from '../../contracts/test-machine.js';
import { QemuTarget } from '../../oracle/qemu/qemu-target.js';
import { modelForQemuCpu } from '../cpu/cpu-model.js';
import { EmulatorTarget } from '../emulator-target.js';
import { ALL_ROWS } from '../isa/table.js';
import { nasm } from '../test-support/nasm.js';

/**
 * BMI2's VEX rows (BZHI, MULX, PDEP, PEXT, RORX, SARX, SHLX, SHRX; exec/bmi2.ts through
 * decode/vex.ts) on QEMU 7.2 `-cpu qemu64,+bmi1,+bmi2` and on the emulator with that model: each
 * instruction alone from the same registers, 32- and 64-bit forms (the 32-bit sources with junk
 * in their upper halves), register and memory sources, R8–R15 in every field. Edge values: BZHI
 * indexes at and past the operand size and with junk above bits 7:0, shift and rotate counts past
 * the operand size (masked), PDEP/PEXT with zero, all-ones and half masks, MULX with one register
 * as both destinations and with RDX as a destination. All GPRs and the flags the SDM defines must
 * agree. Then the #UD cases (VEX.L = 1, a prefix before VEX, other VEX.pp) and the CPU models
 * without the feature: under `+bmi1` alone QEMU 7.2 runs BZHI/SARX/SHLX/SHRX (it checks BMI1) and
 * raises #UD for MULX/PDEP/PEXT/RORX; under `+bmi2` alone the first four are #UD.
 */
const CPU = 'qemu64,+bmi1,+bmi2';
const ONLY_BMI1 = 'qemu64,+bmi1';
const ONLY_BMI2 = 'qemu64,+bmi2';
const qemu: Record<string, QemuTarget> = {};
const emu: Record<string, EmulatorTarget> = {};

beforeAll(async () => {
  const cpus = [CPU, ONLY_BMI1, ONLY_BMI2];
  const launched = await Promise.all(cpus.map((cpuModel) => QemuTarget.launch({ cpuModel })));
  cpus.forEach((cpu, i) => {
    qemu[cpu] = launched[i]!;
    emu[cpu] = new EmulatorTarget({ model: modelForQemuCpu(cpu)! });
  });
}, 60_000);

afterAll(async () => {
  await Promise.all(Object.values(qemu).map((q) => q.close()));
});

const ONES = 0xffffffffffffffffn;
const SOURCES = [0n, ONES, 0x8000000000000001n, 0x123456789abcdef0n, 0xfffffffe80000000n];
/** Counts and indexes: bits 7:0 past 31 and 63, and junk above them. */
const COUNTS = [0n, 1n, 7n, 31n, 32n, 33n, 63n, 64n, 65n, 0xffn, 0xffff_ffff_0000_0121n];
const MASKS = [0n, ONES, 0xffffffffn, 0xffffffff00000000n, 0x5555555555555555n, 0x8000000000000001n, 0x0f0f00ff00f0f0f0n];

interface Outcome {
  readonly stop: bigint;
  readonly gpr: Record<string, bigint>;
  readonly rflags: bigint;
  readonly memory: bigint;
}

async function runOn(t: QemuTarget | EmulatorTarget, code: Uint8Array, regs: Record<string, bigint>, memory: bigint): Promise<Outcome> {
  const data = new Uint8Array(16);
  new DataView(data.buffer).setBigUint64(0, memory, true);
  // flags all set before: instructions that write none must leave them so
  const tm = buildTestMachine({ code, regs: { ...regs, rsi: LAYOUT.data }, rflags: 0x8d7n, memory: [{ addr: LAYOUT.data, bytes: data }] });
  await t.reset(tm.state, tm.memory);
  const stop = await t.runUntil([tm.endAddress, ...tm.exceptionStops], 10);
  const s = await t.readState();
  const m = await t.readMemory(LAYOUT.data, 8, 'virt');
  return { stop: stop.kind === 'breakpoint' ? stop.rip : -1n, gpr: s.gpr, rflags: s.rflags, memory: new DataView(m.buffer, m.byteOffset).getBigUint64(0, true) };
}

/** One instruction on the emulator and QEMU of `cpu`; registers, memory and defined flags must agree. Returns QEMU's outcome. */
async function same(asm: string, regs: Record<string, bigint>, memory = 0n, cpu = CPU): Promise<Outcome> {
  const code = nasm(asm, Number(LAYOUT.code));
  const e = await runOn(emu[cpu]!, code, regs, memory);
  const q = await runOn(qemu[cpu]!, code, regs, memory);
  const row = ALL_ROWS.find((r) => r.vex && asm.startsWith(`${r.mnemonic.toLowerCase()} `));
  const mask = ~BigInt(row?.flagsUndefined ?? 0);
  expect({ ...e, rflags: e.rflags & mask }, `${asm} ${JSON.stringify(regs, (_, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))} mem 0x${memory.toString(16)}`).toEqual({ ...q, rflags: q.rflags & mask });
  return q;
}

const end = (asm: string) => LAYOUT.code + BigInt(nasm(asm, Number(LAYOUT.code)).length);
const UD = LAYOUT.handlers + 6n * LAYOUT.handlerStride;

/** Each instruction in a 64-bit, a 32-bit and a memory form; `a` is the first source (E or B), `b` the second. */
const FORMS: Record<string, Array<[string, string]>> = {
  bzhi: [['64-bit', 'bzhi rax, rbx, rcx'], ['32-bit', 'bzhi r9d, r10d, r11d'], ['memory', 'bzhi r15, [rsi], r13']],
  shlx: [['64-bit', 'shlx rax, rbx, rcx'], ['32-bit', 'shlx r9d, r10d, r11d'], ['memory', 'shlx r15d, [rsi], r13d']],
  sarx: [['64-bit', 'sarx rax, rbx, rcx'], ['32-bit', 'sarx r9d, r10d, r11d'], ['memory', 'sarx r15, [rsi], r13']],
  shrx: [['64-bit', 'shrx rax, rbx, rcx'], ['32-bit', 'shrx r9d, r10d, r11d'], ['memory', 'shrx r15d, [rsi], r13d']],
  pdep: [['64-bit', 'pdep rax, rbx, rcx'], ['32-bit', 'pdep r9d, r10d, r11d'], ['memory', 'pdep r15, r13, [rsi]']],
  pext: [['64-bit', 'pext rax, rbx, rcx'], ['32-bit', 'pext r9d, r10d, r11d'], ['memory', 'pext r15d, r13d, [rsi]']],
};
/** Register values for `a` (rbx/r10, or memory) and `b` (rcx/r11/r13). */
const operands = (a: bigint, b: bigint, memoryIsA: boolean) => ({ regs: { rbx: a, r10: a, rcx: b, r11: b, r13: memoryIsA ? b : a, rax: ONES, r9: ONES, r15: ONES }, memory: memoryIsA ? a : b });

describe(`BMI2 VEX rows against QEMU (-cpu ${CPU})`, () => {
  for (const [m, forms] of Object.entries(FORMS)) {
    const seconds = m === 'pdep' || m === 'pext' ? MASKS : COUNTS;
    for (const [form, asm] of forms) {
      it(`${m.toUpperCase()} ${form}`, async () => {
        // for PDEP/PEXT the memory operand is the mask (b), for the others the source (a)
        const memoryIsA = m !== 'pdep' && m !== 'pext';
        for (const a of SOURCES) for (const b of seconds) {
          const { regs, memory } = operands(a, b, memoryIsA);
          if (!memoryIsA && form === 'memory') regs.r13 = a;
          expect((await same(asm, regs, memory)).stop).toBe(end(asm));
        }
      });
    }
  }

  for (const [form, asm] of [['64-bit', 'rorx rax, rbx'], ['32-bit', 'rorx r9d, r10d'], ['memory', 'rorx r15, [rsi]']] as const) {
    it(`RORX ${form}`, async () => {
      for (const imm of [0, 1, 4, 31, 32, 33, 63, 64, 0xff]) for (const v of SOURCES) {
        const { regs, memory } = operands(v, 0n, true);
        const text = `${asm}, ${imm}`;
        expect((await same(text, regs, memory)).stop).toBe(end(text));
      }
    });
  }

  for (const [form, asm] of [['64-bit', 'mulx rax, rbx, rcx'], ['32-bit', 'mulx r9d, r12d, r11d'], ['memory', 'mulx r15, r14, [rsi]'], ['32-bit memory', 'mulx r15d, r14d, [rsi]']] as const) {
    it(`MULX ${form}`, async () => {
      for (const rdx of SOURCES) for (const v of [0n, 1n, ONES, 0x8000000000000000n, 0xdeadbeefcafef00dn]) {
        expect((await same(asm, { rdx, rcx: v, r11: v, rax: ONES, rbx: ONES, r9: ONES, r12: ONES }, v)).stop).toBe(end(asm));
      }
    });
  }

  it('MULX with one register as both destinations keeps the high half (SDM), and with RDX as one', async () => {
    for (const asm of ['mulx rax, rax, rcx', 'mulx r8d, r8d, ecx', 'mulx rdx, rbx, rcx', 'mulx rbx, rdx, rcx', 'mulx rcx, rbx, rcx', 'mulx rdx, rdx, rdx']) {
      const q = await same(asm, { rdx: 0xfedcba9876543210n, rcx: 0x123456789n, rax: 5n, rbx: 6n, r8: 7n });
      expect(q.stop).toBe(end(asm));
    }
    const both = await same('mulx rax, rax, rcx', { rdx: ONES, rcx: 3n });
    expect(both.gpr.rax).toBe(2n); // (2^64 - 1) × 3: high half 2, low half 2^64 - 3
  });

  // BZHI rax, rbx, rcx is C4 E2 F0 F5 C3: R̄X̄B̄ 111, map 0F38; W 1, vvvv̄ 1110 (RCX), L 0, pp 00
  const undefinedForms: Array<[string, string]> = [
    ['BZHI with VEX.L = 1', 'db 0xc4, 0xe2, 0xf4, 0xf5, 0xc3'],
    ['BZHI with VEX.pp = 66', 'db 0xc4, 0xe2, 0xf1, 0xf5, 0xc3'],
    ['MULX with VEX.L = 1', 'db 0xc4, 0xe2, 0xf7, 0xf6, 0xc3'],
    ['0F38 F6 with VEX.pp = none', 'db 0xc4, 0xe2, 0xf0, 0xf6, 0xc3'],
    ['SHLX with VEX.L = 1', 'db 0xc4, 0xe2, 0xf5, 0xf7, 0xc3'],
    ['RORX with VEX.L = 1', 'db 0xc4, 0xe3, 0xff, 0xf0, 0xc3, 0x05'],
    ['0F3A F0 with VEX.pp = F3', 'db 0xc4, 0xe3, 0xfa, 0xf0, 0xc3, 0x05'],
    ['an F2 prefix before VEX (PDEP)', 'db 0xf2, 0xc4, 0xe2, 0xf3, 0xf5, 0xc3'],
    ['a REX prefix before VEX (SARX)', 'db 0x48, 0xc4, 0xe2, 0xf2, 0xf7, 0xc3'],
  ];
  for (const [name, asm] of undefinedForms) {
    it(`#UD: ${name}`, async () => {
      expect((await same(asm, { rbx: 5n, rcx: 3n, rdx: 7n })).stop).toBe(UD);
    });
  }

  const underBmi1 = ['bzhi rax, rbx, rcx', 'shlx eax, ebx, ecx', 'sarx rax, [rsi], rcx', 'shrx eax, ebx, ecx'];
  const onlyBmi2 = ['mulx rax, rbx, rcx', 'pdep eax, ebx, ecx', 'pext rax, rbx, [rsi]', 'rorx eax, ebx, 3'];
  it('CPUID leaf 7 (EBX: BMI1 bit 3, BMI2 bit 8) as QEMU reports it, under each of the three models', async () => {
    const asm = 'cpuid';
    for (const cpu of [CPU, ONLY_BMI1, ONLY_BMI2]) {
      const q = await same(asm, { rax: 7n, rcx: 0n }, 0n, cpu);
      expect(q.gpr.rbx & 0x108n, cpu).toBe((cpu.includes('+bmi1') ? 8n : 0n) | (cpu.includes('+bmi2') ? 0x100n : 0n));
    }
  });

  it(`-cpu ${ONLY_BMI1}: BZHI/SHLX/SARX/SHRX run as QEMU 7.2 runs them (it checks BMI1; the SDM: #UD), MULX/PDEP/PEXT/RORX are #UD`, async () => {
    for (const asm of underBmi1) expect((await same(asm, { rbx: 0x8000_0000_f0f0n, rcx: 0x24n }, 0xf00dn, ONLY_BMI1)).stop).toBe(end(asm));
    for (const asm of onlyBmi2) expect((await same(asm, { rbx: 6n, rcx: 0x0201n, rdx: 9n }, 0xf00dn, ONLY_BMI1)).stop).toBe(UD);
  });

  it(`-cpu ${ONLY_BMI2}: MULX/PDEP/PEXT/RORX run, BZHI/SHLX/SARX/SHRX are #UD (QEMU 7.2 checks BMI1 for them)`, async () => {
    for (const asm of onlyBmi2) expect((await same(asm, { rbx: 0x8000_0000_f0f0n, rcx: 0x24n, rdx: 9n }, 0xf00dn, ONLY_BMI2)).stop).toBe(end(asm));
    for (const asm of underBmi1) expect((await same(asm, { rbx: 6n, rcx: 0x0201n }, 0xf00dn, ONLY_BMI2)).stop).toBe(UD);
  });
});
