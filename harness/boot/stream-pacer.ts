import type { EmulatorTarget } from '../../emulator/emulator-target.js';
import { stateToRecord } from '../../contracts/register-record.js';
import type { CpuLogStream } from '../../oracle/qemu/cpu-log-stream.js';
import { sameLogged, type LogRecord } from '../../oracle/qemu/cpu-log.js';
import type { KernelQemu } from '../../oracle/qemu/kernel-qemu.js';
import type { DeviceLog } from './device-log.js';
import { compareCheckpoint, type CheckpointResult, type GoodPoint } from './checkpoint.js';
import { snapshotEmulator } from './emulator-snapshot.js';
import type { LockstepEnd, LockstepOptions, Mismatch } from './gdb-lockstep.js';
import type { StepHistory } from './step-history.js';
import { type DecodedCache, isReprint, NOTHING, type ReprintCount, skipReprints } from './stream-common.js';

/** How long QEMU may print nothing while running freely before the run counts as over (halted, shut down). */
export const IDLE_MS = 5_000;
/** How long a stopped QEMU may stay silent before its printed records count as worked off. */
export const DRAIN_MS = 300;

/** What follows the record the emulator stands at (see StreamPacer.nextRecord). */
export type NextRecord =
  /** QEMU's next record; `lastRound`: its current state after it stopped (nothing more to work off after this one). */
  | { readonly kind: 'record'; readonly next: LogRecord; readonly lastRound: boolean }
  /** The run ends: QEMU printed nothing more while running freely (halted, shut down), or a full comparison ended it. */
  | RunEnd
  /** Both machines stood at the same instruction, agreed in full, and QEMU goes on. */
  | { readonly kind: 'continue' };

export interface RunEnd {
  readonly kind: 'end';
  readonly end: LockstepEnd;
  readonly mismatch?: Mismatch;
}

/**
 * What the two streaming channels (log, block) do alike around QEMU's free run: telling QEMU to
 * stop when a checkpoint is due or the run should end, and once the records it printed are worked
 * off and both machines stand at the same instruction, the full comparison (checkpoint.ts), the
 * last clean point (with the emulator's snapshot when asked: memory-bisect.ts re-runs from it),
 * and either the end of the run or QEMU going on.
 */
export class StreamPacer {
  /** QEMU has been told to stop: the records it printed are being worked off. */
  draining = false;
  private stopping: LockstepEnd | undefined;
  private nextCheckpoint: number;
  private readonly every: number;
  private readonly keepSnapshots: boolean;
  lastGood: GoodPoint;
  readonly checkpoints: CheckpointResult[] = [];
  /** Records QEMU printed again for blocks it had not run at the first print, skipped (stream-common.ts isReprint). */
  readonly reprints: ReprintCount = { total: 0, longest: 0 };
  /** The process's CPU time when the run was told to end (the channel's cost, without the last checkpoint). */
  cpuToStop: NodeJS.CpuUsage | undefined;
  private readonly cpu0 = process.cpuUsage();

  constructor(
    private readonly qemu: KernelQemu,
    private readonly emulator: EmulatorTarget,
    private readonly history: StepHistory,
    private readonly decoded: DecodedCache,
    private readonly options: LockstepOptions,
    firstIndex: number,
    icountStart: number,
    /** The emulator's console, for --until boot-ok (LockstepOptions.untilSerial). */
    private readonly console?: DeviceLog,
  ) {
    if (options.untilSerial) console?.watchFor(options.untilSerial);
    this.every = options.checkpointEvery ?? 0;
    this.keepSnapshots = options.keepSnapshots ?? false;
    this.nextCheckpoint = this.every > 0 ? firstIndex + this.every : Number.MAX_SAFE_INTEGER;
    this.lastGood = options.startPoint ?? { index: firstIndex, icount: icountStart };
  }

  /**
   * Before the record of instruction `index` at `rip`: why the run should end there (a signal,
   * --until, the budget), if it should. `icount` is QEMU's count at that record, when known.
   */
  endReason(index: number, firstIndex: number, rip: number, untilAddresses: ReadonlySet<number>, icount: number | undefined): LockstepEnd | undefined {
    const o = this.options;
    if (o.shouldStop?.()) return 'interrupted';
    // --until boot-ok: the emulator has printed the marker itself (QEMU, ahead, printed it first)
    if (this.console?.markerSeen) return 'until';
    if (index > firstIndex && untilAddresses.size > 0 && untilAddresses.has(rip)) return 'until';
    if (o.untilIcount !== undefined && icount !== undefined && icount >= o.untilIcount) return 'until';
    if (index >= (o.maxSteps ?? Number.MAX_SAFE_INTEGER)) return 'budget';
    return undefined;
  }

  /** Tell QEMU to stop when the run should end (`reason`) or a checkpoint is due at `index`. */
  async stopIfDue(index: number, reason: LockstepEnd | undefined): Promise<void> {
    if (this.draining || (!reason && index < this.nextCheckpoint)) return;
    this.stopping = reason;
    if (reason) this.cpuToStop ??= process.cpuUsage(this.cpu0);
    this.draining = true;
    await this.qemu.qmp.execute('stop');
  }

  /**
   * Both machines stand at `index` with QEMU stopped: compare everything. Returns the mismatch, or
   * the end the run was stopping for; otherwise QEMU goes on and the run continues (undefined).
   */
  async aligned(index: number): Promise<RunEnd | undefined> {
    const { image, ...cp } = await compareCheckpoint(this.qemu, this.emulator, this.history, index, this.keepSnapshots);
    this.checkpoints.push(cp);
    if (cp.mismatch) {
      const state = await this.emulator.readState();
      const info = (await this.decoded.at(Number(BigInt.asIntN(64, state.rip)))).info;
      return {
        kind: 'end',
        end: 'mismatch',
        mismatch: {
          ...cp.mismatch, info, before: state, expected: await this.qemu.target.readState(), actual: state,
          qemuStop: { kind: 'step' }, emulatorStop: { kind: 'step' }, flagMask: 0n, icount: await this.qemu.icount(),
        },
      };
    }
    const icount = await this.qemu.icount();
    this.lastGood = { index, icount, snapshot: image ? await snapshotEmulator(this.emulator, image, icount) : undefined };
    if (this.stopping) return { kind: 'end', end: this.stopping };
    this.draining = false;
    this.nextCheckpoint = this.every > 0 ? index + this.every : Number.MAX_SAFE_INTEGER;
    await this.qemu.qmp.execute('cont');
    return undefined;
  }

  /** The next record of `log`, waiting as long as QEMU may take. */
  async read(log: CpuLogStream): Promise<LogRecord | undefined> {
    return log.tryNext() ?? (await log.next(this.draining ? DRAIN_MS : IDLE_MS));
  }

  /** The next record of `log` that is not `cur` printed again (QEMU can print one block several times). */
  async readPast(log: CpuLogStream, cur: LogRecord): Promise<LogRecord | undefined> {
    const next = await this.read(log);
    return next && isReprint(next, cur) ? skipReprints(cur, next, () => this.read(log), this.reprints) : next;
  }

  /**
   * The record after `cur` (the one the emulator's registers match, before instruction `index`).
   * Once QEMU has stopped and every record it printed is worked off, QEMU stands after `cur`'s
   * instruction or block, or before it if it left it unexecuted: its current state is then the
   * last record to compare with, or, standing at `cur`, both sides are compared in full here.
   */
  async nextRecord(log: CpuLogStream, cur: LogRecord, index: number): Promise<NextRecord> {
    // a block printed, then left unexecuted at a stop (or an exit requested before it ran), is printed again
    const next = await this.readPast(log, cur);
    if (next) return { kind: 'record', next, lastRound: false };
    if (!this.draining) return { kind: 'end', end: (await this.qemu.qmp.status()).status === 'shutdown' ? 'shutdown' : 'halted' };
    const words = stateToRecord(await this.qemu.target.readState());
    if (!sameLogged(cur, words)) return { kind: 'record', next: { words, format: 'long64', events: NOTHING, halted: false }, lastRound: true };
    return (await this.aligned(index)) ?? { kind: 'continue' };
  }

  /** CPU time the channel used (to the end's stop, when there was one). */
  cpuMs(): number {
    const cpu = this.cpuToStop ?? process.cpuUsage(this.cpu0);
    return (cpu.user + cpu.system) / 1000;
  }
}
