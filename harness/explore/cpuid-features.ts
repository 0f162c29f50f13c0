/**
 * Whose fault is a #UD disagreement? The SDM makes an instruction #UD when the CPUID bit of its
 * feature is clear, so the feature iced-x86 names for an encoding, read against the CPUID the CPU
 * model reports (the emulator's model, measured from QEMU's), says which side follows the model:
 * QEMU running an instruction whose feature the model lacks is QEMU's fault, the emulator raising
 * #UD for one whose feature the model has is the emulator's.
 */
import { CpuidFeature, Decoder, DecoderOptions, Instruction } from 'iced-x86';
import type { CpuModel } from '../../emulator/cpu/cpu-model.js';

/** CPUID leaf (as CpuModel keys them), register (EAX..EDX = 0..3) and bit of a feature (SDM Vol. 2 CPUID, AMD APM for the AMD ones). */
const FEATURE_BITS: Readonly<Record<string, readonly [string, number, number]>> = {
  SSE3: ['1', 2, 0], PCLMULQDQ: ['1', 2, 1], MONITOR: ['1', 2, 3], VMX: ['1', 2, 5], SMX: ['1', 2, 6], SSSE3: ['1', 2, 9], FMA: ['1', 2, 12],
  CMPXCHG16B: ['1', 2, 13], SSE4_1: ['1', 2, 19], SSE4_2: ['1', 2, 20], MOVBE: ['1', 2, 22], POPCNT: ['1', 2, 23], AES: ['1', 2, 25],
  XSAVE: ['1', 2, 26], AVX: ['1', 2, 28], F16C: ['1', 2, 29], RDRAND: ['1', 2, 30],
  FPU: ['1', 3, 0], TSC: ['1', 3, 4], MSR: ['1', 3, 5], CX8: ['1', 3, 8], SEP: ['1', 3, 11], CMOV: ['1', 3, 15], CLFSH: ['1', 3, 19],
  MMX: ['1', 3, 23], FXSR: ['1', 3, 24], SSE: ['1', 3, 25], SSE2: ['1', 3, 26],
  FSGSBASE: ['7.0', 1, 0], BMI1: ['7.0', 1, 3], HLE: ['7.0', 1, 4], AVX2: ['7.0', 1, 5], SMEP: ['7.0', 1, 7], BMI2: ['7.0', 1, 8],
  INVPCID: ['7.0', 1, 10], RTM: ['7.0', 1, 11], MPX: ['7.0', 1, 14], AVX512F: ['7.0', 1, 16], AVX512DQ: ['7.0', 1, 17], RDSEED: ['7.0', 1, 18],
  ADX: ['7.0', 1, 19], SMAP: ['7.0', 1, 20], CLFLUSHOPT: ['7.0', 1, 23], CLWB: ['7.0', 1, 24], SHA: ['7.0', 1, 29], AVX512BW: ['7.0', 1, 30],
  AVX512VL: ['7.0', 1, 31], AVX512CD: ['7.0', 1, 28], PKU: ['7.0', 2, 3], GFNI: ['7.0', 2, 8], VAES: ['7.0', 2, 9], VPCLMULQDQ: ['7.0', 2, 10],
  RDPID: ['7.0', 2, 22],
  LAHFSAHF: ['0x80000001', 2, 0], SVM: ['0x80000001', 2, 2], LZCNT: ['0x80000001', 2, 5], SSE4A: ['0x80000001', 2, 6], PREFETCHW: ['0x80000001', 2, 8],
  XOP: ['0x80000001', 2, 11], FMA4: ['0x80000001', 2, 16], TBM: ['0x80000001', 2, 21], SYSCALL: ['0x80000001', 3, 11],
  RDTSCP: ['0x80000001', 3, 27], D3NOWEXT: ['0x80000001', 3, 30], D3NOW: ['0x80000001', 3, 31],
};

/** Features every x86-64 CPU has, so no model lacks them. */
const BASELINE = new Set(['INTEL8086', 'INTEL186', 'INTEL286', 'INTEL386', 'INTEL486', 'X64', 'CPUID', 'FPU387', 'FPU287', 'FPU']);

export interface FeatureCheck {
  /** iced-x86's CPUID feature names for the encoding (baseline ones left out). */
  readonly features: string[];
  /** Those the model's CPUID does not report. */
  readonly missing: string[];
  /** Those this table cannot check. */
  readonly unknown: string[];
}

const ins = new Instruction();

/** iced's features for `bytes` (one valid instruction), checked against the model's CPUID; undefined when iced decodes none. */
export function checkFeatures(bytes: Uint8Array, model: CpuModel): FeatureCheck | undefined {
  const d = new Decoder(64, bytes, DecoderOptions.None);
  try {
    d.decodeOut(ins);
  } finally {
    d.free();
  }
  if (ins.isInvalid) return undefined;
  const features = [...ins.cpuidFeatures()].map((f) => CpuidFeature[f] ?? String(f)).filter((f) => !BASELINE.has(f));
  const missing: string[] = [];
  const unknown: string[] = [];
  for (const f of features) {
    // iced names some as alternatives (HLE_or_RTM) or pairs (AVX_and_AES): each part is checked
    const parts = f.split(/_and_|_or_/);
    const bits = parts.map((p) => FEATURE_BITS[p]);
    if (bits.some((b) => b === undefined)) {
      unknown.push(f);
      continue;
    }
    const has = bits.map((b) => ((model.cpuid.get(b![0])?.[b![1]] ?? 0) >>> b![2]) & 1);
    const present = f.includes('_or_') ? has.some(Boolean) : has.every(Boolean);
    if (!present) missing.push(f);
  }
  return { features, missing, unknown };
}
