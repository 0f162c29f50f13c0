import type { Feature } from '../isa/row.js';

/** What the emulated CPU claims and does where models differ. */
export interface CpuModel {
  readonly name: string;
  readonly features: ReadonlySet<Feature>;
  /** CPUID leaves: key `leaf` or `leaf.subleaf` → [eax, ebx, ecx, edx]. Missing leaves answer as the highest basic leaf. */
  readonly cpuid: ReadonlyMap<string, readonly [number, number, number, number]>;
  readonly maxBasicLeaf: number;
  readonly maxExtLeaf: number;
  readonly physBits: number;
  readonly pdpe1gb: boolean;
  /**
   * Non-canonical stack references raise #SS on hardware; QEMU 7.2 raises #GP for every
   * non-canonical data access. false = QEMU's behaviour.
   */
  readonly stackFaultOnNonCanonical: boolean;
}

/**
 * QEMU 7.2's `-cpu qemu64` under TCG, measured by executing CPUID in it (bench/emulator-cpuid-dump.ts):
 * AuthenticAMD, family 15 model 107 stepping 1 (signature 0x60fb1), level 0xd, xlevel 0x8000000a,
 * no POPCNT/ABM/BMI1/MOVBE/RDTSCP/RDRAND/PDPE1GB. So POPCNT, MOVBE, RDTSCP and RDRAND are #UD, and
 * F3 0F BC/BD run as BSF/BSR (QEMU ignores the F3 without BMI1/ABM).
 * Leaves not listed read as zero (those measured as all-zero are omitted).
 */
const QEMU64_CPUID: ReadonlyArray<[string, [number, number, number, number]]> = [
  ['0', [0xd, 0x68747541, 0x444d4163, 0x69746e65]],
  ['1', [0x60fb1, 0x800, 0x80002001, 0x78bfbfd]],
  ['5', [0, 0, 0x3, 0]],
  ['0xb', [0, 0x1, 0x100, 0]],
  ['0x80000000', [0x8000000a, 0x68747541, 0x444d4163, 0x69746e65]],
  ['0x80000001', [0x60fb1, 0, 0x5, 0x2193fbfd]],
  ['0x80000002', [0x554d4551, 0x72695620, 0x6c617574, 0x55504320]],
  ['0x80000003', [0x72657620, 0x6e6f6973, 0x352e3220, 0x2b]],
  ['0x80000005', [0x1ff01ff, 0x1ff01ff, 0x40020140, 0x40020140]],
  ['0x80000006', [0, 0x42004200, 0x2008140, 0x808140]],
  ['0x80000008', [0x3028, 0, 0, 0]],
  ['0x8000000a', [0x1, 0x10, 0, 0]],
  ['0x40000000', [0x40000001, 0x54474354, 0x43544743, 0x47435447]],
];

export function qemu64Model(): CpuModel {
  return {
    name: 'qemu64',
    features: new Set(),
    cpuid: new Map(QEMU64_CPUID),
    maxBasicLeaf: 0xd,
    maxExtLeaf: 0x8000000a,
    physBits: 40,
    pdpe1gb: false,
    stackFaultOnNonCanonical: false,
  };
}

/** The QEMU `-cpu` string that extendedModel() matches. */
export const QEMU64_EXTENDED_CPU = 'qemu64,+popcnt,+movbe,+bmi1,+abm,+rdtscp,+rdrand,+pdpe1gb';

/**
 * qemu64 plus the optional integer extensions, as QEMU 7.2 reports them for QEMU64_EXTENDED_CPU
 * (measured with CPUID under TCG): leaf 1 ECX gains MOVBE (22), POPCNT (23), RDRAND (30);
 * leaf 7 EBX BMI1 (3); 0x8000_0001 ECX ABM/LZCNT (5), EDX PDPE1GB (26) and RDTSCP (27).
 * Every other leaf reads as qemu64's.
 */
export function extendedModel(): CpuModel {
  const base = qemu64Model();
  const cpuid = new Map(base.cpuid);
  const l1 = cpuid.get('1')!;
  cpuid.set('1', [l1[0], l1[1], (l1[2] | (1 << 22) | (1 << 23) | (1 << 30)) >>> 0, l1[3]]);
  const e1 = cpuid.get('0x80000001')!;
  cpuid.set('0x80000001', [e1[0], e1[1], e1[2] | (1 << 5), (e1[3] | (1 << 26) | (1 << 27)) >>> 0]);
  cpuid.set('7.0', [0, 1 << 3, 0, 0]);
  return {
    ...base,
    name: QEMU64_EXTENDED_CPU,
    features: new Set(['popcnt', 'lzcnt', 'bmi1', 'movbe', 'rdtscp', 'rdrand']),
    cpuid,
    pdpe1gb: true,
  };
}

/** The emulator's model for a QEMU `-cpu` string it matches, if any. */
export function modelForQemuCpu(cpu: string): CpuModel | undefined {
  if (cpu === 'qemu64') return qemu64Model();
  if (cpu === QEMU64_EXTENDED_CPU) return extendedModel();
  return undefined;
}
