import { describe, expect, it } from 'vitest';
import type { CampaignResult } from '../harness/campaign-result.js';
import { campaignFixture, manyDivergences } from './fixture.js';
import {
  coverageView, fieldTags, flagDiff, instructionLabel, instructionRef, maskedFlagsText, mnemonicOf, ratesText, registerDiffs,
  systemUnderTestText,
} from './format.js';

describe('instructionLabel', () => {
  it('numbers instructions from 1, as a person counts, with the total', () => {
    expect(instructionLabel(2, 10)).toBe('instruction 3 of 10');
    expect(instructionLabel(0, 1)).toBe('instruction 1 of 1');
    expect(instructionRef(campaignFixture().divergences[0]!)).toBe('instruction 2 of 2 (add r13, [rip+0xffef] @ 0x000000000001000a)');
  });
});

describe('ratesText', () => {
  const base = campaignFixture();
  it('gives the testing rate, then the wall time and what else it went to', () => {
    const r: CampaignResult = { ...base, testsRun: 12_400, testingSeconds: 8.1, seconds: 10.9, startupSeconds: 0.7, minimizeSeconds: 1.9 };
    expect(ratesText(r)).toBe('12,400 tests in 8.1 s of testing (1,531/s); 10.9 s wall: 0.7 s start-up, 1.9 s minimizing');
    expect(ratesText({ ...r, startupSeconds: undefined, minimizeSeconds: undefined })).toBe('12,400 tests in 8.1 s of testing (1,531/s); 10.9 s wall');
  });
  it('says what an old result\'s rate includes, and copes with no time at all', () => {
    expect(ratesText({ ...base, testingSeconds: undefined })).toBe('128,400 tests in 60.4 s wall (2,126/s, start-up and minimizing included)');
    expect(ratesText({ ...base, testsRun: 1, testingSeconds: 0, seconds: 0 })).toBe('1 test in 0.0 s of testing (n/a/s); 0.0 s wall: 0.7 s start-up, 3.6 s minimizing');
  });
});

describe('systemUnderTestText', () => {
  it('names each planted bug with what it does, and the CPU model', () => {
    const r = campaignFixture();
    expect(systemUnderTestText({ ...r, dut: { ...r.dut, mutants: ['rex-b-ignored', 'not-a-known-one'] } })).toBe(
      'emulator (difftest-x86 emulator 0.1.0 (in-process)), CPU model qemu64; planted bugs switched on: rex-b-ignored (REX.B is ignored for ModRM.rm (register and base)); not-a-known-one',
    );
  });
});

describe('filter keys', () => {
  it('takes the mnemonic after prefixes, and fields as signatures name them', () => {
    const [seed, push, bsf] = campaignFixture().divergences;
    expect([mnemonicOf(seed!), mnemonicOf(push!), mnemonicOf(bsf!)]).toEqual(['add', 'push', 'bsf']);
    expect(mnemonicOf({ ...push!, program: [{ ...push!.program[0]!, text: 'lock add [rax], rbx' }] })).toBe('add');
    expect(mnemonicOf({ ...push!, program: [{ ...push!.program[0]!, text: 'rep movsb' }] })).toBe('movsb');
    expect(fieldTags(seed!)).toEqual(['GPR', 'SF']);
    expect(fieldTags(push!)).toEqual(['memory']);
    const big = manyDivergences({ divergences: 50 });
    expect(new Set(big.divergences.flatMap(fieldTags))).toEqual(new Set(['GPR', 'CF', 'AF', 'OF', 'SF', 'ZF', 'memory', 'exception']));
  });
});

describe('coverageView', () => {
  it('takes the missing rows from coverageMissing, and from zero counts in older results', () => {
    const r = campaignFixture();
    expect(coverageView(r)).toMatchObject({ missing: ['adc r/m16, imm16', 'sbb r/m8, imm8'], total: 7 });
    expect(coverageView({ ...r, coverageMissing: [], coverageTotalRows: 6 })).toMatchObject({ missing: ['adc r/m16, imm16'], total: 6 });
  });
});

describe('divergence views', () => {
  it('names differing flags and the masked ones that were ignored', () => {
    const [seed, , bsf] = campaignFixture().divergences;
    expect(flagDiff(seed!)!.flags).toEqual([{ name: 'SF', expected: 1, actual: 0 }]);
    expect(maskedFlagsText(bsf!)).toBe('CF PF AF SF OF (no masked flag differed)');
    const ignored = { ...bsf!, actual: { ...bsf!.actual, rflags: bsf!.expected.rflags ^ 0x801n } };
    expect(maskedFlagsText(ignored)).toBe('CF PF AF SF OF (differed and ignored: CF OF)');
    expect(registerDiffs(seed!)[0]).toMatchObject({ label: 'R13', span: '63..44' });
  });
});
