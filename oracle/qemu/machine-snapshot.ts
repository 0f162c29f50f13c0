import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { MachineState } from '../../contracts/machine-state.js';
import { parseCpuExtras, type CpuExtras } from './cpu-extras.js';
import type { KernelQemu } from './kernel-qemu.js';
import { probeMsrs, PROBED_MSRS, type MsrInfo } from './msr-probe.js';

/**
 * Everything QEMU's machine holds that the emulator needs to continue from the same point:
 * registers and flags, segment selectors with their descriptor caches, GDTR/IDTR/TR/LDTR, control
 * registers, EFER and the base MSRs (gdb stub plus `info registers`), the other MSRs (RDMSR probe),
 * debug registers, x87 and SSE state, and all of RAM (QMP pmemsave).
 */
export interface QemuMachineSnapshot {
  readonly state: MachineState;
  readonly msrs: ReadonlyMap<number, bigint>;
  readonly msrInfo: readonly MsrInfo[];
  readonly extras: CpuExtras;
  /** Instructions QEMU had retired at the start point, before the MSR probe. */
  readonly icount: number;
  /** Instructions the MSR probe retired in QEMU (its instruction count moved on by these). */
  readonly probeInstructions: number;
  readonly ram: Uint8Array;
  readonly timings: { readonly registersMs: number; readonly msrsMs: number; readonly ramMs: number };
}

async function isDirectory(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

export async function snapshotMachine(k: KernelQemu): Promise<QemuMachineSnapshot> {
  const q = k.target;
  const t0 = performance.now();
  const icount = await k.icount();
  const state = await q.readState({ system: true });
  const extras = parseCpuExtras(await q.monitor('info registers'));
  const t1 = performance.now();
  const msrs = await probeMsrs(q, extras.cpl);
  const probeInstructions = (await k.icount()) - icount;
  const t2 = performance.now();
  // /dev/shm when there is one: 512 MiB through the page cache of a loaded disk took 5 s, in tmpfs ~0.3 s.
  const file = (await isDirectory('/dev/shm')) ? `/dev/shm/difftest-ram-${process.pid}-${Date.now()}.bin` : path.join(q.qemu.dir, 'ram.bin');
  const bytes = q.qemu.memoryMiB * 1024 * 1024;
  let ram: Uint8Array;
  try {
    await k.qmp.execute('pmemsave', { val: 0, size: bytes, filename: file }, 120_000);
    ram = new Uint8Array(await readFile(file));
  } finally {
    await rm(file, { force: true });
  }
  if (ram.length !== bytes) throw new Error(`pmemsave wrote ${ram.length} bytes of ${bytes}`);
  const t3 = performance.now();
  return {
    state,
    msrs,
    msrInfo: PROBED_MSRS,
    extras,
    icount,
    probeInstructions,
    ram,
    timings: { registersMs: t1 - t0, msrsMs: t2 - t1, ramMs: t3 - t2 },
  };
}
