import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASE_FORMAT, type Case, decodeCase } from '../corpus/case-schema.js';
import { QEMU64_EXTENDED_CPU } from '../emulator/cpu/cpu-model.js';
import { QemuTarget } from '../oracle/qemu/qemu-target.js';
import type { MachineState } from '../contracts/machine-state.js';
import { LAYOUT } from '../contracts/test-machine.js';
import { nasmAssemble } from './asm/nasm-ref.js';
import { LockstepRunner } from './lockstep.js';
import { FRAGMENT_SYNC_RULES, RESULT_SYNC_RULES } from './sync-rules.js';
import { CorruptingTarget } from './testing/corrupting-target.js';

/**
 * The result sync rules against real nondeterminism: two QEMUs (CPU model with RDTSCP and
 * RDRAND) have independent time-stamp counters and random numbers, so a case that uses them
 * matches only because the rules follow the reference's results — and a difference anywhere
 * the rules do not cover (a planted one) is still found.
 */

let a: QemuTarget;
let b: QemuTarget;
beforeAll(async () => {
  [a, b] = await Promise.all([QemuTarget.launch({ cpuModel: QEMU64_EXTENDED_CPU }), QemuTarget.launch({ cpuModel: QEMU64_EXTENDED_CPU })]);
}, 60_000);
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

const LINES = [
  'mov rax, -1',
  'mov rdx, -1',
  'rdtsc',
  'mov rbx, rax',
  'mov rcx, -1',
  'rdrand rcx',
  'mov r8, rcx',
  'rdrand r9w',
  'pushfq',
  'rdtscp',
  'mov [rsp-16], rax',
];

function tscCase(): Case {
  return decodeCase({
    format: CASE_FORMAT,
    id: 'tsc-rdrand',
    code: Buffer.from(nasmAssemble(LINES, LAYOUT.code)).toString('hex'),
    asm: LINES,
    regs: { r9: '0x1111111111111111' },
    provenance: { generator: 'hand' },
  });
}

/** `b` with a planted change after each instruction whose text starts with `prefix`. */
function planted(prefix: string, corrupt: (s: MachineState) => MachineState): CorruptingTarget {
  return new CorruptingTarget(b, (ins) => ins.text.startsWith(prefix), corrupt);
}

describe('result sync rules (QEMU vs QEMU, extended CPU model)', () => {
  it('are listed among the fragment sync rules', () => {
    const names = FRAGMENT_SYNC_RULES.map((r) => r.name);
    for (const r of RESULT_SYNC_RULES) expect(names).toContain(r.name);
  });

  it('make RDTSC, RDRAND and RDTSCP results match, in block and in step mode', async () => {
    const runner = new LockstepRunner(a, b);
    for (const mode of ['block', 'step'] as const) {
      const r = await runner.run(tscCase(), { mode });
      expect(r.outcome).toBe('match');
      expect(r.end).toBe('completed');
      expect(new Set(r.followed?.map((f) => f.rule))).toEqual(new Set(['rdtsc', 'rdrand-rdseed', 'rdtscp']));
    }
  });

  it('still compare the bits the rule does not follow: RDX upper half after RDTSC', async () => {
    const runner = new LockstepRunner(a, planted('rdtsc', (s) => ({ ...s, gpr: { ...s.gpr, rdx: s.gpr.rdx | (1n << 63n) } })));
    const r = await runner.run(tscCase(), { mode: 'step' });
    expect(r.outcome).toBe('divergence');
    expect(r.divergence!.instruction?.mnemonic).toBe('rdtsc');
    expect(r.divergence!.diffs.map((d) => d.path)).toEqual(['gpr.rdx']);
  });

  it('still compare the flags RDRAND clears (ZF) and the upper bits a 16-bit RDRAND keeps', async () => {
    const zf = await new LockstepRunner(a, planted('rdrand', (s) => ({ ...s, rflags: s.rflags | 0x40n }))).run(tscCase(), { mode: 'step' });
    expect(zf.outcome).toBe('divergence');
    expect(zf.divergence!.diffs.map((d) => d.path)).toEqual(['rflags']);
    const upper = await new LockstepRunner(a, planted('rdrand r9w', (s) => ({ ...s, gpr: { ...s.gpr, r9: s.gpr.r9 ^ (1n << 40n) } }))).run(tscCase(), {
      mode: 'step',
    });
    expect(upper.outcome).toBe('divergence');
    expect(upper.divergence!.instruction?.text).toBe('rdrand r9w');
    expect(upper.divergence!.diffs.map((d) => d.path)).toEqual(['gpr.r9']);
  });
});
