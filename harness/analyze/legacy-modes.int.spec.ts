import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASE_FORMAT, type Case } from '../../corpus/case-schema.js';
import { EmulatorTarget } from '../../emulator/emulator-target.js';
import { setMutants, type MutantName } from '../../emulator/mutants.js';
import { QemuTarget } from '../../oracle/qemu/qemu-target.js';
import { initAssembler } from '../asm/assembler.js';
import { LockstepRunner } from '../lockstep.js';
import { caseInstructions } from '../minimize/instructions.js';
import { minimizeCase } from '../minimize/minimize.js';
import { divergenceSignature } from '../signature.js';
import { analyzeDivergence } from './analyze.js';

/**
 * Minimization and root-cause analysis of protected32 and real16 cases, against a real QEMU with
 * a planted bug in the emulator. Both decode the case in its own mode: decoded as 64-bit code,
 * `inc eax` (40) is a REX prefix of the instruction after it (the two cannot be told apart, so
 * neither can be dropped), and 16-bit code's `sbb ax, bx` reads as a 32-bit SBB.
 */
let qemu: QemuTarget;
let runner: LockstepRunner;
beforeAll(async () => {
  qemu = await QemuTarget.launch();
  runner = new LockstepRunner(qemu, new EmulatorTarget());
}, 60_000);
afterAll(async () => {
  setMutants([]);
  await qemu?.close();
});

async function legacyCase(mode: 'protected32' | 'real16', lines: string[], regs: Case['regs'], rflags: bigint): Promise<Case> {
  const ks = await initAssembler(mode === 'real16' ? 16 : 32);
  return {
    format: CASE_FORMAT, id: `planted-${mode}`, mode, code: ks.assemble(lines.join('\n'), 0n), asm: lines, regs, rflags,
    memory: [], maxSteps: 100, provenance: { generator: 'legacy-modes.int.spec' },
  };
}

async function minimizeAndAnalyze(c: Case, mutant: MutantName) {
  setMutants([mutant]);
  const first = await runner.run(c, { mode: 'step' });
  expect(first.outcome).toBe('divergence');
  const wanted = divergenceSignature(first.divergence!);
  const stillFails = async (x: Case) => {
    const r = await runner.run(x, { mode: 'block' });
    return r.outcome === 'divergence' && divergenceSignature(r.divergence!) === wanted;
  };
  const min = await minimizeCase(c, stillFails, { divergenceRip: first.divergence!.rip, budget: 300 });
  const hypothesis = await analyzeDivergence(runner, c, first.divergence!, { deadline: Date.now() + 20_000 });
  return { min: min.case, hypothesis };
}

describe('minimize and analyze outside 64-bit mode (planted bugs)', () => {
  it('protected32, af-never-set: INC EAX (40) alone, keyed on AF', async () => {
    const c = await legacyCase('protected32', ['inc eax', 'mov ebx, ecx', 'push esi', 'lea edx, [edx + 1]'], { rax: 0xfn, rbx: 1n, rcx: 2n, rdx: 5n, rsi: 9n }, 0x2n);
    expect(caseInstructions(c)).toHaveLength(4);
    const { min, hypothesis } = await minimizeAndAnalyze(c, 'af-never-set');
    expect(min.mode).toBe('protected32');
    expect(caseInstructions(min).map((i) => i.text)).toEqual(['inc eax']);
    expect(Buffer.from(min.code).toString('hex')).toBe('40');
    expect(hypothesis.complete).toBe(true);
    expect(hypothesis.key).toBe('fields: rflags.AF 1→0');
    expect(hypothesis.instruction).toMatch(/^inc eax/);
  }, 120_000);

  it('real16, sbb16-no-carry: SBB AX, BX alone (no 0x66: 16-bit is the default size), keyed on SBB with CF in', async () => {
    const c = await legacyCase('real16', ['inc cx', 'sbb ax, bx', 'push si'], { rax: 0x1234n, rbx: 0x11n, rcx: 3n, rsi: 4n }, 0x3n);
    expect(Buffer.from(c.code).toString('hex')).toBe('4119d856');
    const { min, hypothesis } = await minimizeAndAnalyze(c, 'sbb16-no-carry');
    expect(min.mode).toBe('real16');
    expect(caseInstructions(min).map((i) => i.text)).toEqual(['sbb ax, bx']);
    expect(hypothesis.complete).toBe(true);
    expect(hypothesis.necessary.map((f) => f.name)).toEqual(expect.arrayContaining(['SBB', 'CF in = 1']));
    expect(hypothesis.necessary.map((f) => f.name)).not.toContain('0x66');
  }, 120_000);
});
