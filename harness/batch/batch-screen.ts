import type { Case } from '../../corpus/case-schema.js';
import type { ExecutionTarget, StopReason } from '../../contracts/execution-target.js';
import type { MachineState } from '../../contracts/machine-state.js';
import { buildTestMachine, LAYOUT } from '../../contracts/test-machine.js';
import { BATCH, BATCH_CODE_PAGE_STOP, RECORD, RECORD_STATUS } from './batch-layout.js';
import { batchProgram, type BatchProgram } from './batch-layout.js';
import { batchIneligible, finalUndefinedFlags, stageBatch } from './batch-image.js';
import { LockstepRunner, SCRUBBED } from '../lockstep.js';

/**
 * The batch's stop plus the per-case lockstep's (block end, exception stops), which a batch
 * never reaches (its trampolines and IDT lead elsewhere): keeping them inserted spares a gdb
 * stub like QEMU's removing and re-inserting 34 breakpoints, and flushing its translated code
 * each time, whenever a case falls back to the per-case lockstep.
 */
let perCaseStops: bigint[] | undefined;
const BATCH_STOPS = (program: BatchProgram): bigint[] => [
  program.done,
  BATCH_CODE_PAGE_STOP,
  ...(perCaseStops ??= [LAYOUT.blockEnd, ...buildTestMachine({ code: new Uint8Array(0) }).exceptionStops]),
];

/**
 * Two outcome records agree when they are equal, except for RFLAGS bits left undefined at the
 * end of a case that completed (an exception's frame holds RFLAGS from the middle of the case).
 */
function recordsAgree(expected: Uint8Array, actual: Uint8Array, undefinedFlags: bigint | undefined): boolean {
  if (Buffer.compare(expected, actual) === 0) return true;
  if (!undefinedFlags) return false;
  const e = new DataView(expected.buffer, expected.byteOffset, expected.byteLength);
  const a = new DataView(actual.buffer, actual.byteOffset, actual.byteLength);
  if (e.getBigUint64(RECORD.status, true) !== BigInt(RECORD_STATUS.completed)) return false;
  for (let o = 0; o < BATCH.recordBytes; o += 8) {
    const x = e.getBigUint64(o, true);
    const y = a.getBigUint64(o, true);
    if (o === RECORD.rflags ? (x ^ y) & ~undefinedFlags : x !== y) return false;
  }
  return true;
}

/** The batch state entering the runner at `entry` (through the gateway, which jumps to RBX). */
function at(program: BatchProgram, entry: bigint): MachineState {
  return { ...program.state, gpr: { ...program.state.gpr, rbx: entry } };
}

/** A LockstepRunner on `screen`'s targets whose scrub after a divergence is the runner's guest loop. */
export function runnerWithGuestScrub(screen: BatchScreen): LockstepRunner {
  const runner = new LockstepRunner(screen.reference, screen.dut);
  runner.scrubber = (t) => screen.scrub(t);
  return runner;
}

/** Thrown when a target could not be brought back from a batch (the caller restarts it). */
export class BatchRecoveryError extends Error {}

export interface ScreenResult {
  /** Per case: true when both targets recorded identical outcomes in the batch. False: run it alone. */
  readonly agreed: boolean[];
  /**
   * Per case: the batch ran it and the records differ. Its final states differ too, so a
   * per-case block run would only confirm that: step mode can start at once.
   */
  readonly differed: boolean[];
  /** Cases that went through the batch (the rest were ineligible or did not fit). */
  readonly batched: number;
  /** Whether the batch itself ran to its end on both targets. */
  readonly completed: boolean;
}

/**
 * Runs many cases in one go on both targets with the guest-side runner and compares their
 * outcome records. Agreement means the per-case lockstep would find no difference either (same
 * registers, flags, selectors, bases, exception and compared memory); any disagreement, and any
 * case that cannot be batched, is left to the per-case lockstep, which is authoritative.
 */
export class BatchScreen {
  private loaded = new WeakSet<ExecutionTarget>();

  constructor(
    readonly reference: ExecutionTarget,
    readonly dut: ExecutionTarget,
  ) {}

  /** Forget what the targets hold (after a restart). */
  invalidate(): void {
    this.loaded = new WeakSet();
  }

  async screen(cases: readonly Case[]): Promise<ScreenResult> {
    const agreed = cases.map(() => false);
    const differed = cases.map(() => false);
    const program = await batchProgram();
    const eligible = cases.flatMap((c, i) => (batchIneligible(c) ? [] : [i]));
    const staged = stageBatch(
      eligible.map((i) => cases[i]!),
      program.caseDone,
    );
    const picked = eligible.slice(0, staged.count);
    if (picked.length === 0) return { agreed, differed, batched: 0, completed: false };
    const load = async (t: ExecutionTarget) => {
      await t.reset(program.state, this.loaded.has(t) ? [program.gateway, ...staged.writes] : [...program.system, ...staged.writes]);
      this.loaded.add(t);
    };
    // The reference first, and running while the DUT (maybe an in-process emulator that keeps
    // the event loop busy) loads and runs: otherwise its packets would wait for the emulator.
    await load(this.reference);
    const referenceRun = this.reference.runUntil(BATCH_STOPS(program), staged.budget);
    referenceRun.catch(() => undefined);
    await load(this.dut);
    const dutStop = await this.dut.runUntil(BATCH_STOPS(program), staged.budget);
    const stops = [await referenceRun, dutStop];
    const atDone = (s: StopReason) => s.kind === 'breakpoint' && s.rip === program.done;
    if (!stops.every(atDone)) {
      await this.restore(program, stops);
      return { agreed, differed, batched: picked.length, completed: false };
    }
    const length = picked.length * BATCH.recordBytes;
    const [expected, actual] = await Promise.all([this.reference, this.dut].map((t) => t.readMemory(BATCH.results, length, 'phys')));
    picked.forEach((caseIndex, k) => {
      const o = k * BATCH.recordBytes;
      agreed[caseIndex] = recordsAgree(expected!.subarray(o, o + BATCH.recordBytes), actual!.subarray(o, o + BATCH.recordBytes), finalUndefinedFlags(cases[caseIndex]!));
      differed[caseIndex] = !agreed[caseIndex];
    });
    return { agreed, differed, batched: picked.length, completed: true };
  }

  /**
   * Zero the test machine's writable pages on `t` with the runner's scrub entry (a few packets
   * for a gdb stub instead of 160 KiB of hex); false when the target did not get to the end.
   */
  async scrub(t: ExecutionTarget): Promise<boolean> {
    const program = await batchProgram();
    await t.reset(at(program, program.scrub), this.loaded.has(t) ? [program.gateway] : program.system);
    this.loaded.add(t);
    // the batch's stops, not only its end: a gdb stub would otherwise remove and re-insert 35 breakpoints (QEMU 7.2 flushes its translations on each)
    const r = await t.runUntil(BATCH_STOPS(program), SCRUBBED.length / 8 + 100);
    return r.kind === 'breakpoint' && r.rip === program.done;
  }

  /**
   * A batch that did not reach its end (a HLT that never wakes, a crash, a triple fault) may
   * leave a target halted or on the batch's GDT/IDT, which a gdb stub cannot reset: targets that
   * can (QEMU) start the next load from a freshly reset CPU, others run the runner's restoring tail.
   */
  private async restore(program: BatchProgram, stops: StopReason[]): Promise<void> {
    await Promise.all(
      [this.reference, this.dut].map(async (t, i) => {
        const s = stops[i]!;
        if (s.kind === 'breakpoint' && s.rip === program.done) return;
        this.loaded.delete(t);
        if (t.resetCpuOnNextLoad) {
          t.resetCpuOnNextLoad();
          return;
        }
        await t.reset(at(program, program.finish), program.system);
        this.loaded.add(t);
        const r = await t.runUntil(BATCH_STOPS(program), 100);
        if (!(r.kind === 'breakpoint' && r.rip === program.done)) {
          throw new BatchRecoveryError(`${t.name} did not return from an aborted batch (${r.kind})`);
        }
      }),
    );
  }
}
