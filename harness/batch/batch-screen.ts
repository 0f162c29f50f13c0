import type { Case } from '../../corpus/case-schema.js';
import type { ExecutionTarget, StopReason } from '../../contracts/execution-target.js';
import type { MachineState } from '../../contracts/machine-state.js';
import { BATCH, batchProgram, batchStops, RECORD, RECORD_STATUS, type BatchProgram } from './batch-layout.js';
import { batchIneligible, finalUndefinedFlags, stageBatch, type CaseImage } from './batch-image.js';
import { isNativeBatchTarget, NativeBatch, type NativeBatchTarget } from './native-batch.js';
import { LockstepRunner, SCRUBBED } from '../lockstep.js';

/**
 * Two outcome records agree when they are equal, except for RFLAGS bits left undefined at the
 * end of a case that completed (an exception's frame holds RFLAGS from the middle of the case).
 */
export function recordsAgree(expected: Uint8Array, actual: Uint8Array, undefinedFlags: bigint | undefined): boolean {
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

/** Batches staged in this process: each gets the next serial, so no target holds records stamped with it yet. */
let batchSerial = 0;

/** How many leading records carry `serial`. */
function freshRecords(records: Uint8Array, serial: bigint): number {
  const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
  let k = 0;
  while ((k + 1) * BATCH.recordBytes <= records.length && view.getBigUint64(k * BATCH.recordBytes + RECORD.serial, true) === serial) k++;
  return k;
}

const recordStatus = (records: Uint8Array, k: number) => new DataView(records.buffer, records.byteOffset).getUint32(k * BATCH.recordBytes + RECORD.status, true);

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
  /** Cases that went through a batch (the rest were ineligible, did not fit, or came after a batch that stopped early too often). */
  readonly batched: number;
  /** Whether every batch ran to its end on both targets. */
  readonly completed: boolean;
  /** Batches run: more than one when a batch stopped early (the cases after the one it stopped in go in the next) or the cases did not fit in one. */
  readonly rounds: number;
}

/** One batch run on both targets. */
export interface BatchRound {
  /** The cases staged (a prefix of those given), as both targets ran them. */
  readonly images: readonly CaseImage[];
  /** Records of both targets for the first `complete` cases (complete × BATCH.recordBytes each). */
  readonly reference: Uint8Array;
  readonly dut: Uint8Array;
  /**
   * Cases whose records are complete on both targets: all of them when both batches ran to their
   * end, else those before the case a target stopped in (the control block's index).
   */
  readonly complete: number;
  /** Both targets ran the batch to its end. */
  readonly completed: boolean;
}

/** A batch that stops early costs a gdb stub its whole wall-clock budget: this many at most per screen. */
const MAX_STOPPED_BATCHES = 3;

export interface BatchScreenOptions {
  /**
   * Run the batch natively (native-batch.ts) on targets that can (the in-process emulator): on by
   * default for both. Off, the target runs the guest runner like a gdb stub (tests compare the two).
   */
  readonly native?: { readonly reference?: boolean; readonly dut?: boolean };
}

/**
 * Runs many cases in one go on both targets and compares their outcome records. A gdb target
 * runs the guest-side runner; the in-process emulator runs the same staged cases natively,
 * producing the same records without executing the runner (whose instructions a bug of the
 * emulator's would otherwise break for every case). Agreement means the per-case lockstep would
 * find no difference either (same registers, flags, selectors, bases, exception and compared
 * memory); any disagreement, and any case that cannot be batched, is left to the per-case
 * lockstep, which is authoritative.
 */
export class BatchScreen {
  private loaded = new WeakSet<ExecutionTarget>();
  private native: NativeBatch | undefined;

  constructor(
    readonly reference: ExecutionTarget,
    readonly dut: ExecutionTarget,
    private readonly options: BatchScreenOptions = {},
  ) {}

  /** Forget what the targets hold (after a restart). */
  invalidate(): void {
    this.loaded = new WeakSet();
  }

  async screen(cases: readonly Case[]): Promise<ScreenResult> {
    const agreed = cases.map(() => false);
    const differed = cases.map(() => false);
    // a target that can run the batch neither natively nor as the guest runner: every case runs alone
    if ([this.reference, this.dut].some((t) => t.runsBatchRunner === false && !isNativeBatchTarget(t))) {
      return { agreed, differed, batched: 0, completed: true, rounds: 0 };
    }
    let pending = cases.flatMap((c, i) => (batchIneligible(c) ? [] : [i]));
    let batched = 0;
    let rounds = 0;
    let stopped = 0;
    let completed = true;
    while (pending.length > 0 && stopped < MAX_STOPPED_BATCHES) {
      const round = await this.runBatch(pending.map((i) => cases[i]!));
      if (round.images.length === 0) break;
      rounds++;
      batched += round.completed ? round.images.length : Math.min(round.complete + 1, round.images.length);
      for (let k = 0; k < round.complete; k++) {
        const i = pending[k]!;
        const o = k * BATCH.recordBytes;
        const dutRecord = round.dut.subarray(o, o + BATCH.recordBytes);
        // a case the native batch could not finish is left to the per-case lockstep, which decides
        if (recordStatus(round.dut, k) === RECORD_STATUS.unfinished || recordStatus(round.reference, k) === RECORD_STATUS.unfinished) continue;
        agreed[i] = recordsAgree(round.reference.subarray(o, o + BATCH.recordBytes), dutRecord, finalUndefinedFlags(cases[i]!));
        differed[i] = !agreed[i];
      }
      if (!round.completed) {
        completed = false;
        stopped++;
      }
      // a stopped batch: the case it stopped in runs alone, the ones after it go in the next batch
      pending = pending.slice(round.completed ? round.images.length : round.complete + 1);
    }
    return { agreed, differed, batched, completed, rounds };
  }

  /** Run the first cases of `cases` that fit in one batch (all batch-eligible) on both targets. */
  async runBatch(cases: readonly Case[]): Promise<BatchRound> {
    const program = await batchProgram();
    const staged = stageBatch(cases, program.caseDone, BigInt(++batchSerial));
    const empty = new Uint8Array(0);
    if (staged.count === 0) return { images: [], reference: empty, dut: empty, complete: 0, completed: false };
    const targets = [this.reference, this.dut];
    const native = targets.map((t, i) => this.nativeFor(program, t, i === 0 ? this.options.native?.reference : this.options.native?.dut));
    // Guest batches first, so that a gdb stub runs while the in-process emulator (which keeps the
    // event loop busy) runs natively or loads; otherwise the stub's packets would wait for it.
    const guestRuns: Array<Promise<StopReason> | undefined> = [];
    for (const [i, t] of targets.entries()) {
      if (native[i]) continue;
      const runner = this.loaded.has(t) ? [program.gateway] : program.system;
      // the control block and the staging area are NX under the batch's page tables (batch-layout.ts
      // pageTables): no code is ever translated from them, so a target may skip its stub for them
      if (t.writeDataMemory) {
        await t.reset(program.state, runner);
        await t.writeDataMemory(staged.writes);
      } else {
        await t.reset(program.state, [...runner, ...staged.writes]);
      }
      this.loaded.add(t);
      const run = t.runUntil(batchStops(program), staged.budget);
      run.catch(() => undefined); // awaited below
      guestRuns[i] = run;
    }
    const records: Uint8Array[] = [];
    for (const [i, t] of targets.entries()) {
      const n = native[i];
      if (!n) continue;
      records[i] = await n.run(t as NativeBatchTarget, staged, this.loaded.has(t) ? [] : program.system);
      this.loaded.add(t);
    }
    const stops: Array<StopReason | undefined> = [];
    await Promise.all(
      targets.map(async (t, i) => {
        const run = guestRuns[i];
        if (!run) return;
        const stop = await run;
        stops[i] = stop;
        // a batch that stopped: the control block's index is the case being run, the records below it are complete
        const written = isDone(program, stop) ? staged.count : Math.min(staged.count, await this.caseIndex(t));
        records[i] = written === 0 ? empty : await t.readMemory(BATCH.results, written * BATCH.recordBytes, 'phys');
      }),
    );
    // ... and stamped with this batch's serial, unless a broken runner left older records in place
    const complete = Math.min(...records.map((r) => freshRecords(r, staged.serial)));
    const completed = complete === staged.count && records.every((r) => r.length === staged.count * BATCH.recordBytes);
    if (stops.some((s) => s !== undefined && !isDone(program, s))) await this.restore(program, stops);
    const cut = (r: Uint8Array) => r.subarray(0, complete * BATCH.recordBytes);
    return { images: staged.images, reference: cut(records[0]!), dut: cut(records[1]!), complete, completed };
  }

  /** The native batch for `t`, or undefined when it runs the guest runner. */
  private nativeFor(program: BatchProgram, t: ExecutionTarget, wanted: boolean | undefined): NativeBatch | undefined {
    if (wanted === false || !isNativeBatchTarget(t)) return undefined;
    return (this.native ??= new NativeBatch(program));
  }

  /** The control block's index of the case being run (or the count, after the last). */
  private async caseIndex(t: ExecutionTarget): Promise<number> {
    const q = await t.readMemory(BATCH.ctrl, 8, 'phys');
    return Number(new DataView(q.buffer, q.byteOffset).getBigUint64(0, true));
  }

  /**
   * Zero the test machine's writable pages on `t`: a plain write on an in-process target, else
   * the runner's scrub entry (a few packets for a gdb stub instead of 160 KiB of hex); false when
   * the target did not get to the end.
   */
  async scrub(t: ExecutionTarget): Promise<boolean> {
    if (isNativeBatchTarget(t) || t.localMemory) {
      await t.writeMemory(SCRUBBED.addr, new Uint8Array(SCRUBBED.length), 'phys');
      return true;
    }
    const program = await batchProgram();
    await t.reset(at(program, program.scrub), this.loaded.has(t) ? [program.gateway] : program.system);
    this.loaded.add(t);
    // the batch's stops, not only its end: a gdb stub would otherwise remove and re-insert 35 breakpoints (QEMU 7.2 flushes its translations on each)
    const r = await t.runUntil(batchStops(program), SCRUBBED.length / 8 + 100);
    return isDone(program, r);
  }

  /**
   * A batch that did not reach its end (a HLT that never wakes, a crash, a triple fault) may
   * leave a target halted or on the batch's GDT/IDT, which a gdb stub cannot reset: targets that
   * can (QEMU) start the next load from a freshly reset CPU, others run the runner's restoring tail.
   */
  private async restore(program: BatchProgram, stops: ReadonlyArray<StopReason | undefined>): Promise<void> {
    await Promise.all(
      [this.reference, this.dut].map(async (t, i) => {
        const s = stops[i];
        if (s === undefined || isDone(program, s)) return;
        this.loaded.delete(t);
        if (t.resetCpuOnNextLoad) {
          t.resetCpuOnNextLoad();
          return;
        }
        await t.reset(at(program, program.finish), program.system);
        this.loaded.add(t);
        const r = await t.runUntil(batchStops(program), 100);
        if (!isDone(program, r)) {
          throw new BatchRecoveryError(`${t.name} did not return from an aborted batch (${r.kind})`);
        }
      }),
    );
  }
}

const isDone = (program: BatchProgram, s: StopReason) => s.kind === 'breakpoint' && s.rip === program.done;
