import { describe, expect, it } from 'vitest';
import type { GprName } from '../../contracts/machine-state.js';
import { LAYOUT } from '../../contracts/test-machine.js';
import type { Suppressions } from '../../corpus/suppressions.js';
import type { DivergenceReport } from '../campaign-result.js';
import { decodeOne } from '../asm/decode.js';
import type { FieldDiff } from '../compare.js';
import { machineForCase } from '../lockstep.js';
import { makeCase } from '../minimize/test-fixtures.js';
import { annotateReports, groupDivergences, uncovered } from './group.js';
import { describeHypothesis, fieldChanges, hypothesisKey, matchesHypothesis, type Hypothesis, type NecessaryFeature } from './hypothesis.js';

const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const AF = 0x10n;

/** A report of a divergence at instruction `hex` (alone), from a state with `regs` and `rflags`. */
function report(hex: string, o: { signature: string; count?: number; regs?: Partial<Record<GprName, bigint>>; rflags?: bigint; diffs?: FieldDiff[]; memory?: boolean }): DivergenceReport {
  const c = makeCase({ code: bytes(hex), regs: o.regs, rflags: o.rflags });
  const state = machineForCase(c).state;
  const ins = decodeOne(c.code, LAYOUT.code);
  return {
    signature: o.signature, count: o.count ?? 1, caseId: o.signature, program: [{ address: ins.address, bytes: ins.bytes, text: ins.text }], index: 0,
    initial: state, initialMemory: [], before: state, expected: state, actual: state,
    diffs: o.diffs ?? [{ path: 'gpr.rax', width: 64, expected: 1n, actual: 2n }],
    memoryDiffs: o.memory ? [{ addr: 0x20000n, expected: Uint8Array.of(1), actual: Uint8Array.of(2) }] : [],
    flagMask: 0n, replayCommand: '',
  };
}

const feature = (name: string, kind: NecessaryFeature['kind'] = 'encoding'): NecessaryFeature => ({ name, text: `${name} is there`, kind });

function hypothesis(signature: string, necessary: NecessaryFeature[], fields: string[] = ['gpr']): Hypothesis {
  return {
    signature, caseId: signature, instruction: 'x', mnemonic: signature.split(' ')[0]!, isolated: true, reproduced: true, necessary, valueClasses: [],
    mnemonicTest: necessary.some((f) => f.kind === 'mnemonic') ? 'necessary' : 'not-necessary', fields,
    experiments: [{ feature: necessary[0]?.name ?? 'REX.W', change: 'flipped', outcome: 'agrees' }],
    key: hypothesisKey(necessary, fields), complete: true, seconds: 0.1, runs: 10, labels: { reference: 'QEMU', dut: 'emulator' },
  };
}

const afDiff = (expected: bigint, actual: bigint): FieldDiff => ({ path: 'rflags', width: 64, expected: 0x2n | expected, actual: 0x2n | actual });

describe('fieldChanges', () => {
  it('splits RFLAGS into bits with their direction and classes the rest as the signature does', () => {
    expect(fieldChanges({ diffs: [afDiff(AF | 1n, 0n), { path: 'gpr.r9', width: 64, expected: 1n, actual: 2n }, { path: 'gpr.rcx', width: 64, expected: 1n, actual: 2n }], memoryDiffs: [{}], expectedException: undefined, actualException: { vector: 14 } }))
      .toEqual(['exception -/14', 'gpr', 'memory', 'rflags.AF 1→0', 'rflags.CF 1→0']);
  });
});

describe('matchesHypothesis', () => {
  const rexB = hypothesis('ADD r/m64, r64 reg :: gpr', [feature('REX.B')]);

  it('joins a signature whose divergent instruction has every necessary feature, from its bytes alone', () => {
    expect(matchesHypothesis(rexB, report('4d 21 c8', { signature: 'AND r/m64, r64 reg :: gpr' }))).toBe(true); // and r8, r9
    expect(matchesHypothesis(rexB, report('41 f6 02 a6', { signature: 'TEST r/m8, imm8 mem :: rflags.PF' }))).toBe(true); // test byte [r10], 0xa6
    expect(matchesHypothesis(rexB, report('48 21 c8', { signature: 'AND r/m64, r64 reg :: gpr' }))).toBe(false); // and rax, rcx
    // REX.B that changes nothing (RIP-relative operand) is not the feature
    expect(matchesHypothesis(rexB, report('49 8b 05 10 00 00 00', { signature: 'MOV r64, r/m64 rip-rel :: gpr' }))).toBe(false);
  });

  it('its own signature always joins', () => {
    expect(matchesHypothesis(rexB, report('48 21 c8', { signature: 'ADD r/m64, r64 reg :: gpr' }))).toBe(true);
  });

  it('a state feature is judged on the state before the instruction (CF in = 1 for an instruction that reads CF)', () => {
    const h = hypothesis('SBB r16, r/m16 reg :: gpr', [feature('SBB', 'mnemonic'), feature('0x66'), feature('CF in = 1', 'state')]);
    expect(matchesHypothesis(h, report('66 19 d8', { signature: 'SBB r/m16, r16 reg :: gpr', rflags: 0x3n }))).toBe(true);
    expect(matchesHypothesis(h, report('66 19 d8', { signature: 'SBB r/m16, r16 reg :: gpr', rflags: 0x2n }))).toBe(false);
    expect(matchesHypothesis(h, report('66 11 d8', { signature: 'ADC r/m16, r16 reg :: gpr', rflags: 0x3n }))).toBe(false); // adc: not SBB
    expect(matchesHypothesis(h, report('19 d8', { signature: 'SBB r/m32, r32 reg :: gpr', rflags: 0x3n }))).toBe(false); // no 0x66
  });

  it('a hypothesis without necessary features joins the same differing fields in the same direction', () => {
    const af = hypothesis('ADD r/m8, r8 reg :: rflags.AF', [], ['rflags.AF 1→0']);
    expect(matchesHypothesis(af, report('28 d8', { signature: 'SUB r/m8, r8 reg :: rflags.AF', diffs: [afDiff(AF, 0n)] }))).toBe(true);
    expect(matchesHypothesis(af, report('28 d8', { signature: 'SUB r/m8, r8 reg :: rflags.AF', diffs: [afDiff(0n, AF)] }))).toBe(false);
    expect(matchesHypothesis(af, report('28 d8', { signature: 'SUB r/m8, r8 reg :: gpr,rflags.AF', diffs: [afDiff(AF, 0n), { path: 'gpr.rax', width: 64, expected: 1n, actual: 2n }] }))).toBe(false);
  });
});

describe('groupDivergences', () => {
  const suppressions: Suppressions = {
    format: 'difftest-suppressions/1',
    suppressions: [{ signature: '/^SH[LR]D .* rip-rel :: /', reason: 'QEMU 7.2 SHLD/SHRD bug' }],
  };

  it('one hypothesis gathers every signature that has its features; the rest stay apart, unanalyzed', () => {
    const reports = [
      report('4d 21 c8', { signature: 'AND r/m64, r64 reg :: gpr', count: 5 }),
      report('49 01 c1', { signature: 'ADD r/m64, r64 reg :: gpr', count: 3 }),
      report('41 f6 02 a6', { signature: 'TEST r/m8, imm8 mem :: rflags.PF', count: 2 }),
      report('48 21 c8', { signature: 'AND r/m64, r64 reg :: gpr,rflags.ZF', count: 1 }),
    ];
    const hs = [hypothesis('ADD r/m64, r64 reg :: gpr', [feature('REX.B')])];
    const groups = groupDivergences(reports, hs);
    expect(groups.map((g) => [g.id, g.key, g.cases, g.signatures.length])).toEqual([
      ['G1', 'REX.B', 10, 3],
      ['G2', 'unanalyzed: AND r/m64, r64 reg :: gpr,rflags.ZF', 1, 1],
    ]);
    expect(groups[0]!.analyzed).toBe('ADD r/m64, r64 reg :: gpr');
    expect(groups[0]!.necessary).toEqual(['REX.B']);
    expect(groups[0]!.hypothesis).toMatch(/^diverges when REX.B is there; never without it — in AND, ADD, TEST \(any mnemonic\)/);
    expect(groups[1]!.hypothesis).toMatch(/^not analyzed/);
    const annotated = annotateReports(reports, groups, hs);
    expect(annotated.map((r) => [r.group, r.grouping])).toEqual([['G1', 'hypothesis'], ['G1', 'analyzed'], ['G1', 'hypothesis'], ['G2', 'unanalyzed']]);
    expect(uncovered(reports, hs).map((r) => r.signature)).toEqual(['AND r/m64, r64 reg :: gpr,rflags.ZF']);
  });

  it('suppressed signatures group by the suppression entry that matches them: one QEMU bug, one group', () => {
    const reports = [
      report('0f a4 05 00 00 00 00 05', { signature: 'SHLD r/m32, r32, imm8 rip-rel :: memory', count: 4 }),
      report('0f ac 05 00 00 00 00 05', { signature: 'SHRD r/m32, r32, imm8 rip-rel :: rflags.CF,memory', count: 2 }),
      report('49 01 c1', { signature: 'ADD r/m64, r64 reg :: gpr', count: 1 }),
    ];
    const hs = [hypothesis('ADD r/m64, r64 reg :: gpr', [feature('REX.B')])];
    const groups = groupDivergences(reports, hs, suppressions);
    expect(groups).toHaveLength(2);
    expect(groups[0]).toMatchObject({ id: 'G1', cases: 6, suppressed: { reason: 'QEMU 7.2 SHLD/SHRD bug' }, key: 'suppressed: /^SH[LR]D .* rip-rel :: /' });
    expect(groups[0]!.hypothesis).toMatch(/QEMU 7.2 SHLD\/SHRD bug/);
    expect(uncovered(reports, [], suppressions).map((r) => r.signature)).toEqual(['ADD r/m64, r64 reg :: gpr']);
    expect(annotateReports(reports, groups, hs).map((r) => [r.group, r.grouping])).toEqual([['G1', undefined], ['G1', undefined], ['G2', 'analyzed']]);
  });

  it('hypotheses with the same key are one group; a report joins the most specific hypothesis it matches', () => {
    const reports = [
      report('49 01 c1', { signature: 'ADD r/m64, r64 reg :: gpr', count: 1 }),
      report('4d 21 c8', { signature: 'AND r/m64, r64 reg :: gpr', count: 1 }),
      report('49 c1 e0 45', { signature: 'SHL r/m64, imm8 reg :: gpr', count: 1 }), // shl r8, 0x45: REX.W and REX.B
    ];
    const hs = [
      hypothesis('ADD r/m64, r64 reg :: gpr', [feature('REX.B')]),
      hypothesis('AND r/m64, r64 reg :: gpr', [feature('REX.B')]),
      hypothesis('SUB r/m64, r64 reg :: gpr', [feature('REX.W'), feature('REX.B')]),
    ];
    const groups = groupDivergences(reports, hs);
    expect(groups.map((g) => [g.key, g.signatures])).toEqual([
      ['REX.B', ['ADD r/m64, r64 reg :: gpr', 'AND r/m64, r64 reg :: gpr']],
      ['REX.W + REX.B', ['SHL r/m64, imm8 reg :: gpr']],
    ]);
  });

  it('a hypothesis with features takes a report only if they share a differing field, before one keyed on its fields', () => {
    const af = hypothesis('ADD r/m8, imm8 mem :: rflags.AF', [], ['rflags.AF 1→0']);
    const memoryOperand = hypothesis('IDIV r/m8 mem :: memory', [feature('memory operand')], ['memory']);
    const reports = [
      report('00 03', { signature: 'ADD r/m8, r8 mem :: rflags.AF', diffs: [afDiff(AF, 0n)] }), // add [rbx], al
      report('f6 3b', { signature: 'IDIV r/m8 mem :: memory', diffs: [], memory: true }), // idiv byte [rbx]
      report('f6 33', { signature: 'DIV r/m8 mem :: memory', diffs: [], memory: true }), // div byte [rbx]
    ];
    const groups = groupDivergences(reports, [af, memoryOperand]);
    expect(groups.map((g) => [g.key, g.signatures])).toEqual([
      ['memory operand', ['IDIV r/m8 mem :: memory', 'DIV r/m8 mem :: memory']],
      ['fields: rflags.AF 1→0', ['ADD r/m8, r8 mem :: rflags.AF']],
    ]);
  });

  it('a mnemonic in a key only for want of a sibling to test it does not split a group', () => {
    const imul = { ...hypothesis('IMUL r32, r/m32, imm8 reg :: gpr', [feature('IMUL', 'mnemonic'), feature('REX.B')]), mnemonicTest: 'no-sibling' as const };
    const push = { ...hypothesis('PUSH imm32 reg :: memory', [feature('PUSH', 'mnemonic'), feature('negative immediate')]), mnemonicTest: 'no-sibling' as const };
    const reports = [
      report('45 6b d5 fd', { signature: 'IMUL r32, r/m32, imm8 reg :: gpr', count: 2 }), // imul r10d, r13d, -3
      report('49 01 c1', { signature: 'ADD r/m64, r64 reg :: gpr', count: 3 }),
      report('68 fb ff ff ff', { signature: 'PUSH imm32 reg :: memory', count: 1 }),
    ];
    const groups = groupDivergences(reports, [imul, hypothesis('ADD r/m64, r64 reg :: gpr', [feature('REX.B')]), push]);
    expect(groups.map((g) => [g.key, g.signatures.length, g.analyzed])).toEqual([
      ['REX.B', 2, 'ADD r/m64, r64 reg :: gpr'],
      ['PUSH + negative immediate', 1, 'PUSH imm32 reg :: memory'], // no other hypothesis without PUSH: the key stays
    ]);
  });
});

describe('describeHypothesis', () => {
  it('says which features, whether the mnemonic matters, or what differs when nothing is needed', () => {
    const sbb = hypothesis('SBB', [feature('SBB', 'mnemonic'), { name: '0x66', text: 'the operand-size prefix 0x66 is present', kind: 'encoding' }, { name: 'CF in = 1', text: 'CF is 1 on entry', kind: 'state' }]);
    expect(describeHypothesis(sbb)).toBe('diverges when the operand-size prefix 0x66 is present and CF is 1 on entry; never without any one of them — only in SBB (every sibling row agrees)');
    const af = hypothesis('ADD', [], ['rflags.AF 1→0']);
    expect(describeHypothesis(af, ['ADD', 'SUB', 'INC'])).toBe('rflags.AF differs (QEMU 1, emulator 0) after ADD/SUB/INC; no encoding feature needed');
    expect(describeHypothesis({ ...af, complete: false, isolated: false })).toMatch(/\[no 1-instruction case: state features untested\] \[experiments cut short by the deadline\]$/);
  });
});
