import type { EmulatorTarget } from '../../emulator/emulator-target.js';
import { readDebugRegisters, readMsr } from '../../emulator/harness-hooks.js';
import type { QemuMachineSnapshot } from '../../oracle/qemu/machine-snapshot.js';
import { PROBED_MSRS } from '../../oracle/qemu/msr-probe.js';

/**
 * The emulator's machine at a clean checkpoint, in the shape a transplant takes (transplant.ts),
 * so that a re-run can start a fresh emulator there while a relaunched QEMU runs to the same
 * instruction count: registers with descriptor caches and tables, the MSRs it models, debug
 * registers, and RAM. RAM is the checkpoint's image of QEMU's memory, which the checkpoint found
 * equal to the emulator's: nothing is copied. QEMU is not probed again there (an MSR probe moves
 * its clock on, and the re-run must see the interrupts the first run saw).
 */
export async function snapshotEmulator(e: EmulatorTarget, ram: Uint8Array, icount: number): Promise<QemuMachineSnapshot> {
  const t0 = performance.now();
  const state = await e.readState({ system: true });
  const msrs = new Map<number, bigint>();
  for (const m of PROBED_MSRS) {
    const v = readMsr(e, m.index);
    if (v !== undefined) msrs.set(m.index, v);
  }
  const cpl = state.seg.cs.selector & 3;
  return {
    state,
    msrs,
    msrInfo: PROBED_MSRS.filter((m) => msrs.has(m.index)),
    extras: { dr: readDebugRegisters(e), interruptShadow: false, a20: true, smm: false, cpl, halted: false },
    icount,
    probeInstructions: 0,
    ram,
    timings: { registersMs: performance.now() - t0, msrsMs: 0, ramMs: 0 },
  };
}
