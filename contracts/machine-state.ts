import { z } from 'zod';
import { hex64, hex80, hex128, hexBytes, u16, u32 } from './hex.js';

/** General-purpose registers in gdb's x86-64 order (which is not the encoding order). */
export const GPR_NAMES = [
  'rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15',
] as const;
export type GprName = (typeof GPR_NAMES)[number];

/** Register numbers as the instruction encoding uses them (ModRM/REX): rax=0 … r15=15. */
export const GPR_BY_ENCODING: readonly GprName[] = [
  'rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15',
];

/**
 * The 16 registers as an object in GPR_BY_ENCODING order, `value(n)` for register number n. An
 * object literal: the generator builds one per case, and Object.fromEntries over the names cost
 * it ~7 µs each time.
 */
export function gprsByEncoding<T>(value: (num: number) => T): Record<GprName, T> {
  return {
    rax: value(0), rcx: value(1), rdx: value(2), rbx: value(3), rsp: value(4), rbp: value(5), rsi: value(6), rdi: value(7),
    r8: value(8), r9: value(9), r10: value(10), r11: value(11), r12: value(12), r13: value(13), r14: value(14), r15: value(15),
  };
}

export const SEGMENT_NAMES = ['cs', 'ss', 'ds', 'es', 'fs', 'gs'] as const;
export type SegmentName = (typeof SEGMENT_NAMES)[number];

export const CONTROL_NAMES = ['cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer'] as const;
export type ControlName = (typeof CONTROL_NAMES)[number];

/**
 * A segment register: the visible selector plus, when the target can tell, its hidden
 * descriptor cache. `attrs` uses QEMU's encoding (descriptor high dword & 0x00f0ff00:
 * type/S/DPL/P at bits 8–15, AVL/L/DB/G at bits 20–23) so `info registers` reads back directly.
 */
export const SegmentSchema = z.object({
  selector: u16,
  base: hex64.optional(),
  limit: u32.optional(),
  attrs: u32.optional(),
});
export type Segment = z.output<typeof SegmentSchema>;

export const TableRegisterSchema = z.object({ base: hex64, limit: u32 });
export type TableRegister = z.output<typeof TableRegisterSchema>;

export const GprSchema = z.object(
  Object.fromEntries(GPR_NAMES.map((n) => [n, hex64])) as Record<GprName, typeof hex64>,
);

export const FpuSchema = z.object({
  fcw: u16,
  /** FSW including TOP (bits 13–11). */
  fsw: u16,
  /**
   * The eight x87 data registers as 80-bit values (64-bit significand + 16-bit sign/exponent),
   * in *physical* order R0..R7 (ST(i) is R[(TOP + i) & 7]): QEMU 7.2's gdb stub reports and
   * writes gdb's st0..st7 that way.
   */
  st: z.array(hex80).length(8),
  /**
   * Abridged tag word (FXSAVE's: bit i set when R(i) is not empty). Optional: QEMU's gdb stub
   * reports ftag as a constant 0 and ignores writes, so the QEMU target leaves it out (the tags
   * show up in memory through FNSTENV/FNSAVE); QEMU's `info registers` prints it as FTW.
   */
  ftw: z.number().int().min(0).max(0xff).optional(),
});

export const SseSchema = z.object({
  mxcsr: u32,
  xmm: z.array(hex128).length(16),
});

/**
 * Everything the harness compares about a CPU. Shared by targets, corpus and reports.
 * Optional parts are compared only when both sides report them.
 */
export const MachineStateSchema = z.object({
  gpr: GprSchema,
  rip: hex64,
  rflags: hex64,
  seg: z.object(
    Object.fromEntries(SEGMENT_NAMES.map((n) => [n, SegmentSchema])) as Record<SegmentName, typeof SegmentSchema>,
  ),
  fsBase: hex64,
  gsBase: hex64,
  kernelGsBase: hex64,
  cr0: hex64,
  cr2: hex64,
  cr3: hex64,
  cr4: hex64,
  cr8: hex64,
  efer: hex64,
  gdtr: TableRegisterSchema.optional(),
  idtr: TableRegisterSchema.optional(),
  tr: SegmentSchema.optional(),
  ldtr: SegmentSchema.optional(),
  fpu: FpuSchema.optional(),
  sse: SseSchema.optional(),
});
export type MachineState = z.output<typeof MachineStateSchema>;
export type MachineStateJson = z.input<typeof MachineStateSchema>;

/** A piece of guest memory: physical address + bytes. */
export const MemoryRegionSchema = z.object({
  addr: hex64,
  bytes: hexBytes,
});
export type MemoryRegion = z.output<typeof MemoryRegionSchema>;

export function encodeMachineState(state: MachineState): MachineStateJson {
  return MachineStateSchema.encode(state);
}

export function decodeMachineState(json: unknown): MachineState {
  return MachineStateSchema.decode(json as MachineStateJson);
}

export function cloneMachineState(state: MachineState): MachineState {
  return structuredClone(state);
}

/** RFLAGS bits by name (Intel SDM Vol. 1 §3.4.3). */
export const RFLAGS = {
  CF: 1n << 0n,
  PF: 1n << 2n,
  AF: 1n << 4n,
  ZF: 1n << 6n,
  SF: 1n << 7n,
  TF: 1n << 8n,
  IF: 1n << 9n,
  DF: 1n << 10n,
  OF: 1n << 11n,
} as const;
export const ARITH_FLAGS_MASK = RFLAGS.CF | RFLAGS.PF | RFLAGS.AF | RFLAGS.ZF | RFLAGS.SF | RFLAGS.OF;

export function flagSet(rflags: bigint, flag: keyof typeof RFLAGS): boolean {
  return (rflags & RFLAGS[flag]) !== 0n;
}
