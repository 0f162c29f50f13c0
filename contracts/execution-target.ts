import type { MachineState, MemoryRegion } from './machine-state.js';

export type AddressSpace = 'virt' | 'phys';

/** Why a target stopped running. Exceptions are not a stop reason: they are delivered
 * through the guest IDT, and the test machine puts a stop address on every vector. */
export type StopReason =
  | { kind: 'step' } // retired the requested number of instructions
  | { kind: 'breakpoint'; rip: bigint } // reached one of the stop addresses
  | { kind: 'limit' } // the instruction or time budget ran out first
  | { kind: 'halted'; rip: bigint } // HLT with interrupts that will never come
  | { kind: 'triple-fault' } // shutdown: the machine is no longer usable until reset
  | { kind: 'crash'; message: string }; // the system under test failed internally

export interface TargetInfo {
  /** e.g. "qemu 7.2.22" or "difftest-emulator 0.1.0" */
  readonly implementation: string;
  /** CPU model in use (QEMU `-cpu` value, or the emulator's CPUID model name). */
  readonly cpuModel: string;
}

export interface ReadStateOptions {
  /** Also read descriptor caches, GDTR/IDTR/TR/LDTR (slower on gdb targets). */
  readonly system?: boolean;
}

/** The one seam: everything the harness compares is an ExecutionTarget. */
export interface ExecutionTarget {
  readonly name: string;
  info(): TargetInfo;
  /** Load registers and memory (physical addresses) without restarting the target. Memory
   * outside `memory` is left as it is, so `reset(state, [])` rewrites the registers only. */
  reset(state: MachineState, memory: readonly MemoryRegion[]): Promise<void>;
  /** Retire `n` instructions (default 1). An exception counts as the instruction that raised it. */
  step(n?: number): Promise<StopReason>;
  /** Run until RIP reaches one of `stops` (checked before executing there) or the budget runs out. */
  runUntil(stops: readonly bigint[], maxInstructions: number): Promise<StopReason>;
  readState(options?: ReadStateOptions): Promise<MachineState>;
  readMemory(addr: bigint, length: number, space: AddressSpace): Promise<Uint8Array>;
  writeMemory(addr: bigint, bytes: Uint8Array, space: AddressSpace): Promise<void>;
  /**
   * Optional: the last run was abandoned (a HLT that never woke, an interrupted batch), so the
   * CPU may hold state a register write cannot undo (halted, descriptor tables the stub cannot
   * load). The next reset then starts from a freshly reset CPU. Targets whose reset() already
   * rebuilds the whole CPU need not implement it.
   */
  resetCpuOnNextLoad?(): void;
  /**
   * Optional: the next reset redoes the whole ordered system setup (control registers, EFER,
   * selectors) even where the state asks for the one last loaded: the code run since may have
   * changed them itself. Targets whose reset() always writes them need not implement it.
   */
  forgetSystemState?(): void;
  /**
   * Optional: write physical memory that the target never executes (NX under every page table it
   * runs with) by a path cheaper than writeMemory (QEMU: its RAM file, which skips the gdb stub
   * but also the invalidation of translated code, hence the restriction the caller vouches for).
   */
  writeDataMemory?(regions: readonly MemoryRegion[]): Promise<void>;
  /**
   * Optional: memory writes are cheap (a local process), so pages are zeroed by a plain write
   * rather than by running the batch runner's guest loop.
   */
  readonly localMemory?: boolean;
  /**
   * Optional, false for a target that cannot run the guest-side batch runner (it needs CPL 0:
   * the host CPU runs cases at CPL 3): its cases are not screened in batches but run one by one.
   */
  readonly runsBatchRunner?: boolean;
  close(): Promise<void>;
}
