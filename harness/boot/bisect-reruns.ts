import { EmulatorTarget, type EmulatorTargetOptions } from '../../emulator/emulator-target.js';
import type { KernelQemu, RunOutcome } from '../../oracle/qemu/kernel-qemu.js';
import { snapshotMachine } from '../../oracle/qemu/machine-snapshot.js';
import type { GoodPoint } from './checkpoint.js';
import { DeviceLog } from './device-log.js';
import { GdbLockstep, type LockstepResult } from './gdb-lockstep.js';
import { LogLockstep } from './log-lockstep.js';
import { bisectCheckpointMismatch, verifyMemoryBefore, type Bisection } from './memory-bisect.js';
import { transplant } from './transplant.js';

/**
 * The re-runs a bisection (memory-bisect.ts) asks for, on this boot: a QEMU relaunched to the
 * start point (the start's MSR probe repeated, so that its virtual clock, hence its interrupts,
 * run as in the first run) and on to the clean point's exact instruction count; a fresh emulator
 * holding the machine there (the clean point's snapshot, or the start transplanted again).
 */

export interface RerunContext {
  /** A QEMU booted again to the start point. */
  readonly reachStart: () => Promise<{ qemu: KernelQemu; outcome: RunOutcome | undefined }>;
  /** QEMU's instruction count at the start point, before the MSR probe. */
  readonly startIcount: number;
  readonly emulator: EmulatorTargetOptions;
  /** Closes what stays open past the bisection (the last re-run's QEMU, kept for the report). */
  readonly closers: Array<() => Promise<void>>;
  readonly shouldStop: () => boolean;
  readonly progress: (line: string) => void;
}

export interface LocatedRun {
  readonly bisection: Bisection;
  /** The located run's machines, standing at its end (for the report's trace and page walks). */
  readonly at?: { readonly qemu: KernelQemu; readonly emulator: EmulatorTarget };
}

/**
 * The machine at `from` again: QEMU booted to the start point, the start's MSR probe repeated (so
 * that its instruction count and virtual clock run as in the first run), then run to `from`'s exact
 * count; a fresh emulator holding `from`'s snapshot (or, at the start, QEMU's state transplanted).
 * Every re-run starts this way, so that the instruction counts its checkpoints record mean the same
 * in a re-run of the re-run.
 */
export async function relaunchAt(from: GoodPoint, c: RerunContext): Promise<{ qemu: KernelQemu; emulator: EmulatorTarget }> {
  const { qemu, outcome } = await c.reachStart();
  c.closers.push(() => qemu.close());
  if (!outcome || (await qemu.icount()) !== c.startIcount) throw new Error(`the re-run's QEMU did not reach the start point again (${outcome?.kind}, instruction ${await qemu.icount()})`);
  const probe = await snapshotMachine(qemu);
  const emulator = new EmulatorTarget(c.emulator);
  if (from.snapshot) {
    const at = await qemu.runToIcount(from.icount);
    if (at.kind !== 'icount' || (await qemu.icount()) !== from.icount) throw new Error(`the re-run's QEMU did not stop at instruction ${from.icount.toLocaleString('en-US')} (${at.kind})`);
  }
  await transplant(from.snapshot ?? probe, emulator);
  return { qemu, emulator };
}

/**
 * Re-runs `first`'s stretch: a checkpoint's difference down to the first write that differs, or
 * (a register difference) the memory before it checked for an earlier write (memory-bisect.ts).
 */
export async function bisectByRerunning(first: LockstepResult, c: RerunContext): Promise<LocatedRun | undefined> {
  const trigger = first.mismatch?.found === 'step' ? 'register' : 'checkpoint';
  let held: { qemu: KernelQemu; emulator: EmulatorTarget } | undefined;
  const relaunch = async (from: GoodPoint) => {
    if (held) await held.qemu.close();
    held = undefined;
    held = await relaunchAt(from, c);
    return held;
  };
  const bisection = await (trigger === 'register' ? verifyMemoryBefore : bisectCheckpointMismatch)(first, {
    log: async (from, to, every) => {
      const { qemu, emulator } = await relaunch(from);
      return new LogLockstep(qemu, emulator, new DeviceLog(emulator)).run({ firstIndex: from.index, startPoint: from, maxSteps: to, checkpointEvery: every, keepSnapshots: true, shouldStop: c.shouldStop });
    },
    gdb: async (from, to) => {
      const { qemu, emulator } = await relaunch(from);
      return new GdbLockstep(qemu, emulator, new DeviceLog(emulator)).run({ firstIndex: from.index, maxSteps: to, shouldStop: c.shouldStop });
    },
    progress: c.progress,
  }).catch((err: unknown): Bisection => ({
    trigger,
    checkpointIndex: trigger === 'register' ? first.mismatch!.index : (first.checkpoints.at(-1)?.index ?? first.compared), lastGoodIndex: first.lastGood?.index ?? 0, levels: [], seconds: 0,
    note: `bisecting failed: ${(err as Error).message.split('\n')[0]}`,
  }));
  if (!bisection) return undefined;
  return { bisection, at: bisection.located?.mismatch ? held : undefined };
}
