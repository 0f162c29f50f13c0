/**
 * Where each CPUID feature iced-x86 names for an instruction (Instruction.cpuidFeatures) is
 * announced: leaf, subleaf, register and bit (Intel SDM Vol. 2 CPUID, AMD APM Vol. 3 E.3). Used to
 * tell, for an instruction the host and the QEMU model disagree on, which of them has it.
 * `always`: every x86-64 CPU has it. Features not listed are not judged.
 */
export type CpuidRegs = readonly [eax: number, ebx: number, ecx: number, edx: number];
export type CpuidReader = (leaf: number, subleaf: number) => CpuidRegs | Promise<CpuidRegs>;

export interface FeatureBit {
  readonly leaf: number;
  readonly subleaf: number;
  readonly reg: 0 | 1 | 2 | 3;
  readonly bit: number;
}

const EAX = 0, EBX = 1, ECX = 2, EDX = 3;
const REG_NAMES = ['EAX', 'EBX', 'ECX', 'EDX'] as const;
const bit = (leaf: number, subleaf: number, reg: 0 | 1 | 2 | 3, b: number): FeatureBit => ({ leaf, subleaf, reg, bit: b });

const ALWAYS = new Set([
  'INTEL8086', 'INTEL186', 'INTEL286', 'INTEL386', 'INTEL486', 'X64', 'CPUID', 'FPU', 'FPU287', 'FPU387', 'MULTIBYTENOP', 'PAUSE',
]);

const BITS: Readonly<Record<string, FeatureBit>> = {
  TSC: bit(1, 0, EDX, 4), MSR: bit(1, 0, EDX, 5), CX8: bit(1, 0, EDX, 8), SEP: bit(1, 0, EDX, 11), CMOV: bit(1, 0, EDX, 15),
  CLFSH: bit(1, 0, EDX, 19), MMX: bit(1, 0, EDX, 23), FXSR: bit(1, 0, EDX, 24), SSE: bit(1, 0, EDX, 25), SSE2: bit(1, 0, EDX, 26),
  SSE3: bit(1, 0, ECX, 0), PCLMULQDQ: bit(1, 0, ECX, 1), MONITOR: bit(1, 0, ECX, 3), VMX: bit(1, 0, ECX, 5), SMX: bit(1, 0, ECX, 6),
  SSSE3: bit(1, 0, ECX, 9), FMA: bit(1, 0, ECX, 12), CMPXCHG16B: bit(1, 0, ECX, 13), SSE4_1: bit(1, 0, ECX, 19), SSE4_2: bit(1, 0, ECX, 20),
  MOVBE: bit(1, 0, ECX, 22), POPCNT: bit(1, 0, ECX, 23), AES: bit(1, 0, ECX, 25), XSAVE: bit(1, 0, ECX, 26), AVX: bit(1, 0, ECX, 28),
  F16C: bit(1, 0, ECX, 29), RDRAND: bit(1, 0, ECX, 30),
  FSGSBASE: bit(7, 0, EBX, 0), BMI1: bit(7, 0, EBX, 3), HLE: bit(7, 0, EBX, 4), AVX2: bit(7, 0, EBX, 5), BMI2: bit(7, 0, EBX, 8),
  INVPCID: bit(7, 0, EBX, 10), RTM: bit(7, 0, EBX, 11), MPX: bit(7, 0, EBX, 14), AVX512F: bit(7, 0, EBX, 16), AVX512DQ: bit(7, 0, EBX, 17),
  RDSEED: bit(7, 0, EBX, 18), ADX: bit(7, 0, EBX, 19), SMAP: bit(7, 0, EBX, 20), AVX512_IFMA: bit(7, 0, EBX, 21), CLFLUSHOPT: bit(7, 0, EBX, 23),
  CLWB: bit(7, 0, EBX, 24), AVX512PF: bit(7, 0, EBX, 26), AVX512ER: bit(7, 0, EBX, 27), AVX512CD: bit(7, 0, EBX, 28), SHA: bit(7, 0, EBX, 29),
  AVX512BW: bit(7, 0, EBX, 30), AVX512VL: bit(7, 0, EBX, 31),
  PREFETCHWT1: bit(7, 0, ECX, 0), AVX512_VBMI: bit(7, 0, ECX, 1), PKU: bit(7, 0, ECX, 3), WAITPKG: bit(7, 0, ECX, 5), AVX512_VBMI2: bit(7, 0, ECX, 6),
  CET_SS: bit(7, 0, ECX, 7), GFNI: bit(7, 0, ECX, 8), VAES: bit(7, 0, ECX, 9), VPCLMULQDQ: bit(7, 0, ECX, 10), AVX512_VNNI: bit(7, 0, ECX, 11),
  AVX512_BITALG: bit(7, 0, ECX, 12), AVX512_VPOPCNTDQ: bit(7, 0, ECX, 14), RDPID: bit(7, 0, ECX, 22), CLDEMOTE: bit(7, 0, ECX, 25),
  MOVDIRI: bit(7, 0, ECX, 27), MOVDIR64B: bit(7, 0, ECX, 28), ENQCMD: bit(7, 0, ECX, 29),
  AVX512_4VNNIW: bit(7, 0, EDX, 2), AVX512_4FMAPS: bit(7, 0, EDX, 3), AVX512_VP2INTERSECT: bit(7, 0, EDX, 8), SERIALIZE: bit(7, 0, EDX, 14),
  AVX512_FP16: bit(7, 0, EDX, 23),
  AVX_VNNI: bit(7, 1, EAX, 4), AVX512_BF16: bit(7, 1, EAX, 5),
  XSAVEOPT: bit(0xd, 1, EAX, 0), XSAVEC: bit(0xd, 1, EAX, 1), XSAVES: bit(0xd, 1, EAX, 3),
  SVM: bit(0x80000001, 0, ECX, 2), LZCNT: bit(0x80000001, 0, ECX, 5), SSE4A: bit(0x80000001, 0, ECX, 6), PREFETCHW: bit(0x80000001, 0, ECX, 8),
  XOP: bit(0x80000001, 0, ECX, 11), SKINIT: bit(0x80000001, 0, ECX, 12), LWP: bit(0x80000001, 0, ECX, 15), FMA4: bit(0x80000001, 0, ECX, 16),
  TBM: bit(0x80000001, 0, ECX, 21), MONITORX: bit(0x80000001, 0, ECX, 29),
  SYSCALL: bit(0x80000001, 0, EDX, 11), RDTSCP: bit(0x80000001, 0, EDX, 27), D3NOWEXT: bit(0x80000001, 0, EDX, 30), D3NOW: bit(0x80000001, 0, EDX, 31),
  CLZERO: bit(0x80000008, 0, EBX, 0), INVLPGB: bit(0x80000008, 0, EBX, 3), RDPRU: bit(0x80000008, 0, EBX, 4), MCOMMIT: bit(0x80000008, 0, EBX, 8),
  WBNOINVD: bit(0x80000008, 0, EBX, 9),
};

/** "CPUID.(EAX=07H,ECX=0):EBX[bit 8]" */
export function describeBit(b: FeatureBit): string {
  const leaf = `${b.leaf.toString(16).toUpperCase()}H`;
  const sub = b.leaf === 7 || b.leaf === 0xd ? `,ECX=${b.subleaf}` : '';
  return `CPUID.(EAX=${leaf}${sub}):${REG_NAMES[b.reg]}[bit ${b.bit}]`;
}

export function featureBit(feature: string): FeatureBit | 'always' | undefined {
  return ALWAYS.has(feature) ? 'always' : BITS[feature];
}

/** Whether a CPU (read through `cpuid`) announces `feature`; undefined for features the table does not know. */
export async function hasFeature(cpuid: CpuidReader, feature: string): Promise<boolean | undefined> {
  const b = featureBit(feature);
  if (b === undefined) return undefined;
  if (b === 'always') return true;
  const [maxLeaf] = await cpuid(b.leaf >= 0x80000000 ? 0x80000000 : 0, 0);
  if ((maxLeaf >>> 0) < b.leaf) return false;
  const regs = await cpuid(b.leaf, b.subleaf);
  return ((regs[b.reg] >>> b.bit) & 1) === 1;
}

/** The CPUID of an emulator CpuModel (cpu/cpu-model.ts keys: `1`, `0xb`, `7.0`, `0x80000001`…); leaves it lacks read as zero. */
export function modelCpuid(table: ReadonlyMap<string, readonly [number, number, number, number]>): CpuidReader {
  return (leaf, subleaf) => {
    const name = leaf < 10 ? String(leaf) : `0x${leaf.toString(16)}`;
    return table.get(`${name}.${subleaf}`) ?? table.get(name) ?? [0, 0, 0, 0];
  };
}
