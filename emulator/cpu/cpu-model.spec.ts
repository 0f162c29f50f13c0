import { describe, expect, it } from 'vitest';
import { modelForQemuCpu, QEMU64_EXTENDED_CPU, QEMU64_SYSTEM_CPU } from './cpu-model.js';

describe('modelForQemuCpu', () => {
  it('models qemu64 with its optional flags in any order, and nothing else', () => {
    expect(modelForQemuCpu('qemu64')?.features.size).toBe(0);
    const a = modelForQemuCpu('qemu64,+movbe,+bmi1,+abm')!;
    const b = modelForQemuCpu('qemu64,+abm,+bmi1,+movbe')!;
    expect([...a.features].sort()).toEqual(['bmi1', 'lzcnt', 'movbe']);
    expect([...a.cpuid]).toEqual([...b.cpuid]);
    expect(modelForQemuCpu('qemu64,+movbe,-movbe')!.features.size).toBe(0);
    // BMI2: leaf 7.0 EBX bit 8 (bmi2.int.spec.ts compares CPUID leaf 7 with QEMU's)
    const bmi = modelForQemuCpu('qemu64,+bmi2,+bmi1')!;
    expect([...bmi.features].sort()).toEqual(['bmi1', 'bmi2']);
    expect(bmi.cpuid.get('7.0')).toEqual([0, (1 << 3) | (1 << 8), 0, 0]);
    for (const refused of ['max', 'Haswell', 'qemu64,+avx2', 'qemu64,movbe', 'qemu64,+adx']) expect(modelForQemuCpu(refused)).toBeUndefined();
  });

  it('sets the CPUID bits QEMU 7.2 reports for the extended model (measured with CPUID under TCG)', () => {
    const m = modelForQemuCpu(QEMU64_EXTENDED_CPU)!;
    expect(m.cpuid.get('1')![2]).toBe((0x80002001 | (1 << 22) | (1 << 23) | (1 << 30)) >>> 0);
    expect(m.cpuid.get('7.0')).toEqual([0, 1 << 3, 0, 0]);
    expect(m.cpuid.get('0x80000001')).toEqual([0x60fb1, 0, 0x5 | (1 << 5), (0x2193fbfd | (1 << 26) | (1 << 27)) >>> 0]);
    expect(m.pdpe1gb).toBe(true);
  });

  it('models +xsave with the leaves QEMU 7.2 reports (CPUID under TCG: 1.ECX bit 26, 0xD.0 = 3/0x240/0x240/0, 0xD.1 EAX XSAVEOPT|XGETBV1)', () => {
    const m = modelForQemuCpu('qemu64,+xsaveopt,+xsave,+xgetbv1')!;
    expect([...m.features].sort()).toEqual(['xgetbv1', 'xsave', 'xsaveopt']);
    expect(m.cpuid.get('1')![2]).toBe(0x84002001);
    expect(m.cpuid.get('0xd.0')).toEqual([3, 0x240, 0x240, 0]);
    expect(m.cpuid.get('0xd.1')).toEqual([5, 0x240, 0, 0]);
    expect(modelForQemuCpu('qemu64,+xsave')!.cpuid.get('0xd.1')).toEqual([0, 0x240, 0, 0]);
    expect(modelForQemuCpu('qemu64,+xsaveopt')).toBeUndefined(); // QEMU drops it without XSAVE
  });

  it('sets leaf 7.0 for +fsgsbase, +smep, +smap, +umip and drops +rdpid, +pcid, +invpcid as QEMU 7.2 TCG does (measured)', () => {
    const m = modelForQemuCpu(QEMU64_SYSTEM_CPU)!;
    expect(m.cpuid.get('7.0')).toEqual([0, (1 | (1 << 7) | (1 << 20)) >>> 0, 1 << 2, 0]);
    expect(m.cpuid.get('1')).toEqual(modelForQemuCpu('qemu64')!.cpuid.get('1'));
    expect([...m.features].sort()).toEqual(['fsgsbase', 'smap', 'smep', 'umip']);
    expect(modelForQemuCpu('qemu64,+rdpid,+pcid,+invpcid')!.features.size).toBe(0);
  });
});
