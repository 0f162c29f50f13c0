import { readFile, rm } from 'node:fs/promises';
import type { ExecutionTarget } from '../../contracts/execution-target.js';
import type { KernelQemu } from '../../oracle/qemu/kernel-qemu.js';

/**
 * A system under test that boots the kernel itself (no transplant) and is compared with QEMU over
 * the gdb protocol, one instruction at a time (qemu-pair-lockstep.ts): a second QEMU
 * (`--dut qemu`), or any full-system emulator with a gdb stub (`--dut gdb:…`), started with the
 * same kernel, initrd, command line and memory size.
 */
export interface PairDut {
  readonly target: ExecutionTarget;
  /** Run until RIP reaches one of `addresses` (a long REP MOVS/STOS run to its end); true when it got there. */
  runTo(addresses: readonly bigint[]): Promise<boolean>;
  /** All of its RAM from physical address 0 (`bytes` long), for the full comparison. */
  ram(bytes: number): Promise<Uint8Array>;
}

/** All of a QEMU's RAM, by QMP pmemsave into a file in /dev/shm (far faster than gdb reads). */
export async function qemuRam(k: KernelQemu): Promise<Uint8Array> {
  const file = `/dev/shm/difftest-pair-${process.pid}-${k.target.qemu.pid}.bin`;
  try {
    await k.qmp.execute('pmemsave', { val: 0, size: k.target.qemu.memoryMiB << 20, filename: file }, 120_000);
    return new Uint8Array(await readFile(file));
  } finally {
    await rm(file, { force: true });
  }
}

/** A second QEMU: breakpoints through KernelQemu, RAM by QMP pmemsave. */
export function kernelQemuDut(k: KernelQemu): PairDut {
  return {
    target: k.target,
    runTo: async (addresses) => (await k.runTo(addresses, { maxIcount: Number.MAX_SAFE_INTEGER })).kind === 'breakpoint',
    ram: () => qemuRam(k),
  };
}

/** Instructions a continue may take (a gdb target turns it into a wall-clock budget, ~2 s per million). */
const RUN_BUDGET = 1e9;
/** Reads RAM over the stub in pieces this large (the target splits them into packets). */
const RAM_PIECE = 1 << 20;

/** Any gdb stub: its own continue-to-breakpoint, RAM read over `m` packets (physical addresses). */
export function gdbStubDut(t: ExecutionTarget): PairDut {
  return {
    target: t,
    runTo: async (addresses) => {
      const stop = await t.runUntil(addresses, RUN_BUDGET);
      return stop.kind === 'breakpoint';
    },
    ram: async (bytes) => {
      const out = new Uint8Array(bytes);
      for (let at = 0; at < bytes; at += RAM_PIECE) out.set(await t.readMemory(BigInt(at), Math.min(RAM_PIECE, bytes - at), 'phys'), at);
      return out;
    },
  };
}
