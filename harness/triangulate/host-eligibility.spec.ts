import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAYOUT } from '../../contracts/test-machine.js';
import { qemu64Model } from '../../emulator/cpu/cpu-model.js';
import { HostRunner } from '../../oracle/host/host-runner.js';
import { hostRunsUnavailable } from '../../oracle/host/runner-build.js';
import { hasFeature, modelCpuid } from './cpuid-features.js';
import { hostCannotJudge, instructionFacts, undefinedResult, type CpuidViews } from './host-eligibility.js';

/** Which instructions the host cannot judge: the host's CPUID is read by executing CPUID on it; the model's is the emulator's qemu64 table. */
const unavailable = hostRunsUnavailable();
let runner: HostRunner;

describe.skipIf(unavailable !== undefined)(`host eligibility${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  beforeAll(async () => {
    runner = await HostRunner.start();
  });
  afterAll(async () => {
    await runner?.close();
  });
  const views = (): CpuidViews => ({ host: (l, s) => runner.cpuid(l, s), model: modelCpuid(qemu64Model().cpuid), modelName: 'qemu64' });
  const reason = async (bytes: number[]) => hostCannotJudge(instructionFacts(Uint8Array.from(bytes), LAYOUT.code)[0]!, views());

  it('privileged, UMIP and descriptor-dependent instructions', async () => {
    expect(await reason([0xf4])).toBe('`hlt` is privileged: it raises #GP at CPL 3, where the host runs cases');
    expect(await reason([0x0f, 0x01, 0x0c, 0x24])).toMatch(/^`sidt \[rsp\]`: the host kernel enables UMIP/);
    expect(await reason([0x8e, 0xd8])).toMatch(/^`mov ds, eax` uses a segment register/);
    expect(await reason([0x48, 0x01, 0xd8])).toBeUndefined(); // add rax, rbx
  });

  it("SARX (BMI2): qemu64 lacks it; the verdict follows the host's own CPUID", async () => {
    const sarx = [0xc4, 0xe2, 0xf2, 0xf7, 0xc0]; // sarx rax, rax, rcx
    const hostHas = await hasFeature((l, s) => runner.cpuid(l, s), 'BMI2');
    expect(await hasFeature(modelCpuid(qemu64Model().cpuid), 'BMI2')).toBe(false);
    if (hostHas) expect(await reason(sarx)).toBe('qemu64 lacks BMI2 (CPUID.(EAX=7H,ECX=0):EBX[bit 8]) but the host has it: the host runs `sarx rax, rax, rcx`, where the model must raise #UD');
    else expect(await reason(sarx)).toBeUndefined(); // both lack it: the host's #UD is a valid opinion
  });

  it('SHLD/SHRD counts above the operand size leave the result undefined', () => {
    expect(undefinedResult('SHLD r/m16, r16, imm8', Uint8Array.of(0x66, 0x0f, 0xa4, 0xc8, 23), { gpr: { rcx: 0n } })).toMatch(/count of 23 on a 16-bit operand/);
    expect(undefinedResult('SHLD r/m16, r16, imm8', Uint8Array.of(0x66, 0x0f, 0xa4, 0xc8, 16), { gpr: { rcx: 0n } })).toBeUndefined();
    expect(undefinedResult('SHRD r/m32, r32, CL', Uint8Array.of(0x0f, 0xad, 0xc8), { gpr: { rcx: 0x3fn } })).toBeUndefined(); // masked to 31
  });
});
