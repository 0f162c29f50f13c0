import type { GprName, MachineState, MemoryRegion } from './machine-state.js';
import { LAYOUT, type TestMachine } from './test-machine.js';
import { buildRealModeMachine, LAYOUT32, realSegment } from './test-machine-32.js';

/**
 * The real-mode test machine of the `real16` family: the real-mode machine of test-machine-32.ts
 * (an IVT at 0 sending vector v to 0000:(0x6000 + 16·v), each a HLT; CR0.PE = 0) with the pages
 * of the 64-bit layout reached through real-mode segments:
 *   CS = 0x1000: the code page 0x10000, IP from 0;
 *   SS = 0x0800: the stack pages 0x8000–0xffff are SS offsets 0–0x7fff;
 *   DS = ES = 0x2000: the data page 0x20000 is at offset 0;
 *   FS, GS: the case's fsBase/gsBase (multiples of 16 below 1 MiB), selector = base / 16.
 * Every linear address is physical (no paging) and an offset is 16 bits, so a memory operand
 * reaches the data page through DS/ES (or an FS/GS based near it), the stack through SS.
 */
export const REAL16 = {
  cs: 0x1000,
  ss: 0x0800,
  ds: 0x2000,
  es: 0x2000,
} as const;

/** Linear base of each fixed segment (selector · 16). */
export const REAL16_BASES = {
  cs: BigInt(REAL16.cs) * 16n,
  ss: BigInt(REAL16.ss) * 16n,
  ds: BigInt(REAL16.ds) * 16n,
  es: BigInt(REAL16.es) * 16n,
} as const;

/** The block-end stop as an IP in CS (the emulator stops on RIP; QEMU's gdb breakpoints are linear). */
export const BLOCK_END_IP16 = LAYOUT.blockEnd - REAL16_BASES.cs;

export interface TestMachine16Options {
  readonly code: Uint8Array;
  readonly memory?: readonly MemoryRegion[];
  readonly regs?: Partial<Record<GprName, bigint>>;
  readonly rflags?: bigint;
  readonly fsBase?: bigint;
  readonly gsBase?: bigint;
}

/** Why a base cannot be a real-mode FS/GS base (one line), or undefined. */
export function realBaseProblem(base: bigint): string | undefined {
  if (base < 0n || base > 0xffff0n || base % 16n !== 0n) return `a real-mode segment base is selector·16: 0x${base.toString(16)} is not a multiple of 16 in 0–0xffff0`;
  return undefined;
}

export function buildTestMachine16(options: TestMachine16Options): TestMachine {
  const fsBase = options.fsBase ?? 0n;
  const gsBase = options.gsBase ?? 0n;
  for (const b of [fsBase, gsBase]) {
    const problem = realBaseProblem(b);
    if (problem) throw new RangeError(problem);
  }
  const m = buildRealModeMachine({ code: options.code, memory: options.memory, regs: options.regs, rflags: options.rflags });
  const state: MachineState = {
    ...m.state,
    seg: { ...m.state.seg, fs: realSegment(Number(fsBase >> 4n)), gs: realSegment(Number(gsBase >> 4n)) },
    fsBase,
    gsBase,
  };
  // `jmp rel16` (E9 cw): the 64-bit machine's rel32 jump decodes differently in 16-bit code
  const from = LAYOUT32.code + BigInt(options.code.length);
  const rel = Number(BLOCK_END_IP16 - (BigInt(options.code.length) + 3n)) & 0xffff;
  const trampoline = { addr: from, bytes: Uint8Array.of(0xe9, rel & 0xff, rel >> 8) };
  return {
    state,
    memory: m.memory,
    caseMemory: [{ addr: LAYOUT32.code, bytes: options.code }, ...(options.memory ?? [])],
    endAddress: m.endAddress,
    trampoline,
    exceptionStops: m.exceptionStops,
    blockEndStops: [LAYOUT.blockEnd, BLOCK_END_IP16],
  };
}
