import type { MachineState } from '../../contracts/machine-state.js';
import type { EmulatorTarget } from '../../emulator/emulator-target.js';
import { loadDebugRegisters, ramView, readDebugRegisters, readMsr, writeMsr } from '../../emulator/harness-hooks.js';
import type { QemuMachineSnapshot } from '../../oracle/qemu/machine-snapshot.js';
import { compareStates, type FieldDiff } from '../compare.js';

/**
 * QEMU's machine, moved into the emulator: the state through reset() (registers, descriptor
 * caches, tables, control registers, x87), all of RAM, the MSRs the emulator models and the debug
 * registers; then read back from the emulator and compared with what was read from QEMU. What the
 * emulator cannot hold is listed, never dropped silently.
 */

export interface TransplantReport {
  /** Differences between QEMU's state and the emulator's read back (expected: none). */
  readonly stateDiffs: readonly FieldDiff[];
  /** MSRs loaded and read back equal. */
  readonly msrsLoaded: readonly string[];
  /** MSRs QEMU has that the emulator does not model (RDMSR/WRMSR of them will diverge). */
  readonly msrsNotModelled: ReadonlyArray<{ readonly name: string; readonly value: bigint }>;
  /** MSRs loaded but read back different. */
  readonly msrMismatches: ReadonlyArray<{ readonly name: string; readonly expected: bigint; readonly actual: bigint | undefined }>;
  /** Debug registers read back different (index, expected, actual). */
  readonly drMismatches: ReadonlyArray<{ readonly index: number; readonly expected: bigint; readonly actual: bigint }>;
  /** Pages of RAM that read back different (expected: none). */
  readonly ramPagesDiffering: number;
  /** Parts of QEMU's state the emulator has no place for. */
  readonly notCarried: readonly string[];
  readonly ms: number;
}

export interface Transplanted {
  readonly report: TransplantReport;
  /** The emulator's state as read back (with descriptor caches and tables). */
  readonly state: MachineState;
}

/** The TSC keeps counting between the probe and the read-back; a few ticks of drift are expected. */
const TSC = 0x10;

function differingPages(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  const pages = Math.ceil(Math.max(a.length, b.length) / 4096);
  const av = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const bv = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  for (let p = 0; p < pages; p++) {
    const s = p * 4096;
    if (av.compare(bv, s, Math.min(s + 4096, bv.length), s, Math.min(s + 4096, av.length)) !== 0) n++;
  }
  return n;
}

export async function transplant(snapshot: QemuMachineSnapshot, emulator: EmulatorTarget): Promise<Transplanted> {
  const t0 = performance.now();
  await emulator.reset(snapshot.state, [{ addr: 0n, bytes: snapshot.ram }]);
  const msrsLoaded: string[] = [];
  const msrsNotModelled: Array<{ name: string; value: bigint }> = [];
  for (const info of snapshot.msrInfo) {
    const value = snapshot.msrs.get(info.index);
    if (value === undefined) continue;
    if (writeMsr(emulator, info.index, value)) msrsLoaded.push(info.name);
    else msrsNotModelled.push({ name: info.name, value });
  }
  loadDebugRegisters(emulator, snapshot.extras.dr);

  // Read everything back.
  const state = await emulator.readState({ system: true });
  const stateDiffs = compareStates(snapshot.state, state);
  const msrMismatches: Array<{ name: string; expected: bigint; actual: bigint | undefined }> = [];
  for (const info of snapshot.msrInfo) {
    if (!msrsLoaded.includes(info.name)) continue;
    const expected = snapshot.msrs.get(info.index)!;
    const actual = readMsr(emulator, info.index);
    const ok = info.index === TSC ? actual !== undefined && actual >= expected && actual - expected < 1000n : actual === expected;
    if (!ok) msrMismatches.push({ name: info.name, expected, actual });
  }
  const dr = readDebugRegisters(emulator);
  const drMismatches = [0, 1, 2, 3, 6, 7].filter((i) => dr[i] !== snapshot.extras.dr[i]).map((i) => ({ index: i, expected: snapshot.extras.dr[i]!, actual: dr[i]! }));
  const ram = ramView(emulator).subarray(0, snapshot.ram.length);
  const notCarried: string[] = [];
  if (snapshot.extras.interruptShadow) notCarried.push('interrupt shadow (QEMU II=1): the emulator has no interrupt sources');
  if (snapshot.extras.halted) notCarried.push('HLT state: QEMU was halted');
  if (snapshot.extras.smm) notCarried.push('SMM');
  if (msrsNotModelled.length) notCarried.push(`MSRs the emulator does not model: ${msrsNotModelled.map((m) => m.name).join(', ')}`);
  return {
    state,
    report: {
      stateDiffs,
      msrsLoaded,
      msrsNotModelled,
      msrMismatches,
      drMismatches,
      ramPagesDiffering: differingPages(snapshot.ram, ram),
      notCarried,
      ms: performance.now() - t0,
    },
  };
}
