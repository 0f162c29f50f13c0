import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { EmulatorTarget } from '../../emulator/emulator-target.js';
import { ramView } from '../../emulator/harness-hooks.js';
import type { KernelQemu } from '../../oracle/qemu/kernel-qemu.js';
import type { QemuMachineSnapshot } from '../../oracle/qemu/machine-snapshot.js';
import { compareMemory, compareStates, type FieldDiff } from '../compare.js';
import { architecturalCaches, type MemoryMismatch } from './gdb-lockstep.js';
import type { StepHistory } from './step-history.js';

/**
 * A full comparison at a point both sides agree on instruction by instruction: descriptor caches
 * and table registers (QEMU's `info registers`), and every page of RAM (QMP pmemsave against the
 * emulator's RAM). What the per-instruction comparison cannot see shows up here: a write the
 * emulator made to a wrong place or missed, accessed/dirty bits, a descriptor cache loaded wrong.
 */

export interface CheckpointResult {
  /** Instructions compared when it ran. */
  readonly index: number;
  readonly ms: number;
  readonly pagesDiffering: number;
  readonly systemDiffs: readonly FieldDiff[];
  readonly mismatch?: {
    readonly index: number;
    readonly rip: bigint;
    readonly diffs: readonly FieldDiff[];
    readonly memory: readonly MemoryMismatch[];
    readonly devices: readonly string[];
    readonly found: 'checkpoint';
  };
  /** QEMU's RAM at a clean checkpoint (equal to the emulator's), when asked for: a re-run from here restores it. */
  readonly image?: Uint8Array;
}

/**
 * The last point where everything agreed, memory included: the start point, or a clean checkpoint.
 * A re-run reaches it again (QEMU by its exact instruction count, the emulator from `snapshot`;
 * without one, the point is the start and the emulator is transplanted from QEMU as the first time).
 */
export interface GoodPoint {
  /** Instructions compared there (the next one's lockstep index). */
  readonly index: number;
  /** QEMU's instruction count since reset there. */
  readonly icount: number;
  /** The emulator's machine there, in the shape a transplant takes. */
  readonly snapshot?: QemuMachineSnapshot;
}

const PAGE = 4096;
/** Differing ranges reported in full (the count of pages is always given). */
const MAX_RANGES = 16;

async function ramDumpPath(k: KernelQemu): Promise<string> {
  const shm = (await stat('/dev/shm').catch(() => undefined))?.isDirectory();
  return shm ? `/dev/shm/difftest-checkpoint-${process.pid}.bin` : path.join(k.target.qemu.dir, 'checkpoint.bin');
}

export async function compareCheckpoint(k: KernelQemu, e: EmulatorTarget, history: StepHistory, index: number, keepImage = false): Promise<CheckpointResult> {
  const t0 = performance.now();
  const [qs, es] = [await k.target.readState({ system: true }), await e.readState({ system: true })];
  const systemDiffs = compareStates(architecturalCaches(qs), architecturalCaches(es));
  const file = await ramDumpPath(k);
  const size = k.target.qemu.memoryMiB * 1024 * 1024;
  let qemuRam: Uint8Array;
  try {
    await k.qmp.execute('pmemsave', { val: 0, size, filename: file }, 120_000);
    qemuRam = new Uint8Array(await readFile(file));
  } finally {
    await rm(file, { force: true });
  }
  const emuRam = ramView(e);
  const a = Buffer.from(qemuRam.buffer, qemuRam.byteOffset, qemuRam.byteLength);
  const b = Buffer.from(emuRam.buffer, emuRam.byteOffset, Math.min(emuRam.byteLength, size));
  let pagesDiffering = 0;
  const memory: MemoryMismatch[] = [];
  for (let p = 0; p < size; p += PAGE) {
    if (a.compare(b, p, p + PAGE, p, p + PAGE) === 0) continue;
    pagesDiffering++;
    if (memory.length >= MAX_RANGES) continue;
    for (const d of compareMemory(BigInt(p), qemuRam.subarray(p, p + PAGE), emuRam.subarray(p, p + PAGE))) {
      if (memory.length < MAX_RANGES) memory.push({ phys: Number(d.addr), lin: undefined, expected: d.expected, actual: d.actual, source: 'checkpoint' });
    }
  }
  void history;
  const ms = performance.now() - t0;
  if (!systemDiffs.length && !pagesDiffering) return { index, ms, pagesDiffering, systemDiffs, ...(keepImage ? { image: qemuRam } : {}) };
  return {
    index,
    ms,
    pagesDiffering,
    systemDiffs,
    mismatch: { index: Math.max(0, index - 1), rip: qs.rip, diffs: systemDiffs, memory, devices: [], found: 'checkpoint' },
  };
}
