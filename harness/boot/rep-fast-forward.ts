import type { StopReason } from '../../contracts/execution-target.js';
import type { MachineState } from '../../contracts/machine-state.js';
import type { EmulatorTarget } from '../../emulator/emulator-target.js';
import type { KernelQemu } from '../../oracle/qemu/kernel-qemu.js';
import type { InsnInfo } from './instruction-info.js';

/**
 * Long REP MOVS/STOS run to their end on both sides instead of one iteration per gdb round trip:
 * the kernel clears its 17 MB BSS with one `rep stosq` (2.2 million iterations, half an hour of
 * single steps). QEMU continues to a breakpoint after the instruction, the emulator runs until it
 * leaves it, and the lockstep compares the states and the stored bytes once, at the end. Only
 * with IF=0, so that QEMU, running freely, takes no interrupt on the way.
 */

/** Iterations below which single steps are cheap enough. */
export const REP_FAST_FORWARD_MIN = 64;

const IF = 0x200n;

const DF = 0x400n;

/**
 * Whether the instruction at `before` may run to its end in one go: a REP MOVS/STOS, IF clear,
 * enough iterations, and every page it will read or write mapped (`mapped` asks the page tables,
 * equal on both sides): a page fault inside would send QEMU, running freely, through the kernel's
 * fault handler, which is better compared instruction by instruction.
 */
export function canFastForward(info: InsnInfo, before: MachineState, mapped: (lin: bigint) => boolean): boolean {
  if (!info.repCounter || !/^(a32 )?rep (movs|stos)/.test(info.decoded.text)) return false;
  if (before.rflags & IF) return false;
  const count = before.gpr.rcx & ((1n << BigInt(info.repCounter.bits)) - 1n);
  if (count <= BigInt(REP_FAST_FORWARD_MIN)) return false;
  const elem = BigInt(info.memory[0]?.size ?? 1);
  const span = count * elem;
  const down = (before.rflags & DF) !== 0n;
  const ranges = [before.gpr.rdi, ...(/movs/.test(info.decoded.mnemonic) ? [before.gpr.rsi] : [])].map((r) => (down ? r - span + elem : r));
  for (const start of ranges) {
    for (let page = start & ~0xfffn; page < start + span; page += 0x1000n) if (!mapped(page)) return false;
  }
  return true;
}

export interface FastForward {
  readonly qemuStop: StopReason;
  readonly emulatorStop: StopReason;
  /** Linear range the instruction stored to (from RDI before and after, either direction). */
  readonly stored: { readonly start: bigint; readonly length: number };
  readonly iterations: bigint;
}

export async function fastForwardRep(k: KernelQemu, e: EmulatorTarget, info: InsnInfo, before: MachineState): Promise<FastForward> {
  const next = before.rip + BigInt(info.decoded.length);
  const count = before.gpr.rcx & ((1n << BigInt(info.repCounter!.bits)) - 1n);
  const q = await k.runTo([next], { maxIcount: Number.MAX_SAFE_INTEGER, sliceMs: 5000 });
  const qemuStop: StopReason = q.kind === 'breakpoint' ? { kind: 'step' } : q.kind === 'shutdown' ? { kind: 'triple-fault' } : { kind: 'limit' };
  const stop = await e.runUntil([next], Number(count) + 2);
  const emulatorStop: StopReason = stop.kind === 'breakpoint' ? { kind: 'step' } : stop;
  const after = await e.readState();
  const elem = BigInt(info.memory.find((m) => m.access !== 'read')?.size ?? 1);
  const a = before.gpr.rdi;
  const b = after.gpr.rdi;
  // DF=0 stores upwards from RDI, DF=1 downwards ending at RDI's first element
  const start = b >= a ? a : b + elem;
  const length = Number(b >= a ? b - a : a - b);
  return { qemuStop, emulatorStop, stored: { start, length }, iterations: count };
}
