import type { StopReason } from '../../contracts/execution-target.js';
import { recordDiffs, recordToState, RR, stateToRecord } from '../../contracts/register-record.js';
import type { EmulatorTarget } from '../../emulator/emulator-target.js';
import { type DataAccess, injectInterrupt, readRegisterRecord, setRegisters, traceAccesses } from '../../emulator/harness-hooks.js';
import { CpuLogStream } from '../../oracle/qemu/cpu-log-stream.js';
import { completeRecord, type DeliveredEvent, type LogRecord } from '../../oracle/qemu/cpu-log.js';
import type { KernelQemu } from '../../oracle/qemu/kernel-qemu.js';
import { compareStates } from '../compare.js';
import { countRule, type RuleCounts } from './boot-rules.js';
import type { GoodPoint } from './checkpoint.js';
import type { DeviceLog } from './device-log.js';
import { compareDeviceWrites, maySendToDevice } from './device-writes.js';
import type { LockstepEnd, LockstepOptions, LockstepResult, Mismatch } from './gdb-lockstep.js';
import { StepHistory } from './step-history.js';
import { IDLE_MS, StreamPacer } from './stream-pacer.js';
import { alignWithFirstRecord, interruptedBeforeRunning, type DecodedEntry, DecodedCache, expectedState, followQemu, NOTHING, sameRecordMasked, signed, stepEntry, u64 } from './stream-common.js';

/**
 * The boot lockstep at translation-block granularity: QEMU runs without `singlestep` and prints
 * its registers before every block it executes (`-d cpu,int,nochain`: a record per block, ~4-5
 * kernel instructions, so it logs and runs several times faster); the emulator steps until it
 * stands where QEMU's next block starts, and the registers are compared there. A block is
 * straight-line code, so the emulator's first arrival at that address is where QEMU's block ended,
 * except when a block branches back into itself: when the registers differ, the emulator goes on
 * to its next arrival there (up to MAX_BLOCK instructions) before it calls it a mismatch.
 *
 * Under -icount QEMU ends a block after every I/O instruction (port, MMIO, RDTSC), so a device
 * read or a clock is the block's last instruction and QEMU's record after it holds its result:
 * the declared rules apply there as on the log channel. Hardware interrupts are delivered between
 * blocks; QEMU's `int` line names the instruction boundary (pc=), where the emulator takes the
 * same interrupt. Memory, x87 and descriptor caches are compared at checkpoints.
 *
 * A mismatch found here names the block, not the instruction: the session re-runs the stretch on
 * the log channel (one record per instruction) to find the first instruction that differs.
 */

/** Instructions the emulator may run looking for the end of one of QEMU's blocks. */
const MAX_BLOCK = 4096;

export interface BlockLockstepResult extends LockstepResult {
  /** QEMU's blocks compared. */
  readonly blocks: number;
  /** The block that mismatched: QEMU's state at its start and the instructions the emulator ran in it. */
  readonly failedBlock?: FailedBlock;
  /** The last point where everything agreed, memory included (the start, or a checkpoint), with QEMU's instruction count there. */
  readonly lastGood: GoodPoint;
}

/** The hardware interrupts QEMU delivered before `next` (exceptions and INT n the emulator raises itself). */
function hardwareInterrupts(next: LogRecord): DeliveredEvent[] {
  return next.events.filter((ev) => !ev.exception && !ev.software);
}

/** Where the emulator's run of a block ends: where QEMU took the first interrupt after it, or `next`'s address. */
function blockEnd(next: LogRecord, interrupts: readonly DeliveredEvent[]): number {
  return interrupts.length ? Number(BigInt.asIntN(64, interrupts[0]!.pc)) : signed(next.words, RR.RIP);
}

/** The block the emulator did not end as QEMU did: what QEMU's records said, and where the emulator went. */
export interface FailedBlock {
  readonly startIndex: number;
  readonly instructions: number;
  /** Where QEMU's block started (its record) and where its next record stood. */
  readonly qemuFrom: bigint;
  readonly qemuTo: bigint;
  /** The hardware interrupt QEMU delivered after the block: vector, where, and whether before any of the block ran. */
  readonly interrupt?: { readonly vector: number; readonly pc: bigint; readonly beforeRunning: boolean };
  /** The addresses of the emulator's first and last instructions in the block (up to 8 each). */
  readonly emulatorFirst: readonly bigint[];
  readonly emulatorLast: readonly bigint[];
}

export class BlockLockstep {
  private readonly rules: RuleCounts = new Map();
  private readonly masked = new Map<string, number>();
  readonly history = new StepHistory();
  private readonly emu = new Uint32Array(RR.LENGTH);
  private readonly decoded: DecodedCache;
  /** A linear address through the emulator's page tables (undefined when unmapped). */
  private readonly translate = (lin: bigint): number | undefined => {
    const p = this.emulator.internals.cpu.mmu.peekTranslate(Number(BigInt.asIntN(64, lin)));
    return p < 0 ? undefined : p;
  };
  /** The addresses of the current block's first 8 instructions, and of its last 8 (a ring): a failed block's report. */
  private readonly blockFirst = new Float64Array(8);
  private readonly blockLast = new Float64Array(8);
  /** Where the emulator's last RDTSC/RDTSCP ran (the clock is followed at the end of its block). */
  private tscRip = Number.NaN;

  constructor(
    private readonly qemu: KernelQemu,
    private readonly emulator: EmulatorTarget,
    private readonly devices: DeviceLog,
    /**
     * Keep each instruction's registers and accesses for a report's trace (costs ~40% of the
     * emulator side). Off when a mismatch is re-run on the log channel, which keeps its own.
     */
    private readonly keepHistory = false,
  ) {
    this.decoded = new DecodedCache(emulator);
  }

  async run(options: LockstepOptions = {}): Promise<BlockLockstepResult> {
    const e = this.emulator;
    const q = this.qemu;
    const ec = e.internals.cpu;
    const t0 = performance.now();
    const icountStart = await q.icount();
    const log = await CpuLogStream.start(q, { blocks: true });
    const pacer = new StreamPacer(q, e, this.history, this.decoded, options, 0, icountStart, this.devices);
    const previousTsc = ec.tscOverride;
    ec.tscOverride = () => {
      this.tscRip = ec.rip;
      return previousTsc ? previousTsc() : BigInt(ec.icount) + ec.tscOffset;
    };
    await q.qmp.execute('cont');
    let end: LockstepEnd = 'budget';
    let error: string | undefined;
    let mismatch: Mismatch | undefined;
    let failedBlock: BlockLockstepResult['failedBlock'];
    let index = 0;
    let blocks = 0;
    let reads: DataAccess[] = [];
    let writes: Array<DataAccess & { old: Uint8Array }> = [];
    const keepHistory = this.keepHistory;
    const stopTrace = keepHistory ? traceAccesses(e, { read: (a) => reads.push(a), write: (a) => writes.push(a), oldBytes: false }) : () => undefined;
    const untilAddresses = new Set((options.untilAddresses ?? []).map((a) => Number(BigInt.asIntN(64, a))));
    const before = new Uint32Array(RR.LENGTH);
    try {
      let cur: LogRecord | undefined = await log.next(IDLE_MS);
      if (!cur) throw new Error("QEMU printed no trace after 'log cpu,int,nochain'");
      alignWithFirstRecord(e, cur, this.rules, this.emu);
      for (;;) {
        // (no --until ICOUNT here: a record per block does not name every instruction count)
        if (!pacer.draining) await pacer.stopIfDue(index, pacer.endReason(index, 0, signed(cur.words, RR.RIP), untilAddresses, undefined));
        const got = await pacer.nextRecord(log, cur, index);
        if (got.kind === 'continue') continue;
        if (got.kind === 'end') {
          ({ end, mismatch } = got);
          break;
        }
        let { next, lastRound } = got;

        // Run the emulator to the end of QEMU's block: where the interrupt QEMU delivered after it
        // was taken, or where its next block starts.
        let interrupts = hardwareInterrupts(next);
        let target = blockEnd(next, interrupts);
        const blockStart = index;
        /** RFLAGS bits left undefined by the block's instructions (and not defined again after). */
        let undefinedFlags = 0;
        let followEntry: DecodedEntry | undefined;
        let readDevice = false;
        let firstDiffs: string[] | undefined;
        let emulatorStop: StopReason = { kind: 'step' };
        let matched = false;
        let lastRip = ec.rip;
        let followed: string[] | undefined;
        /** A device write that differs ends the block's comparison at that instruction. */
        let deviceDiffs: readonly string[] | undefined;
        // QEMU took the interrupt before running any of the block: the emulator runs none of it either
        const runNone = interrupts.length > 0 && interruptedBeforeRunning(cur, next);
        for (let n = 0; n < MAX_BLOCK; n++) {
          if (!(runNone && n === 0)) {
            const rip = ec.rip;
            lastRip = rip;
            const k = index - blockStart;
            if (k < 8) this.blockFirst[k] = rip;
            this.blockLast[k & 7] = rip;
            const entry = this.decoded.cached(rip) ?? (await this.decoded.at(rip));
            const info = entry.info;
            // the registers before an instruction that may send to a device: QEMU's OUT or store follows from them
            const sends = maySendToDevice(info);
            if (keepHistory || sends) readRegisterRecord(e, before);
            if (keepHistory) this.history.keepRecord(index, before);
            this.tscRip = Number.NaN;
            emulatorStop = entry.farTransfer ? await stepEntry(e, entry, this.rules, (followed ??= [])) : e.stepSync(1);
            const devices = this.devices.take();
            if (sends && (devices.length || info.portIo === 'out')) {
              const check = compareDeviceWrites(info, recordToState(before), devices, this.translate, e.internals.bus.ramSize);
              if (check.compared) countRule(this.rules, 'device-write-compared', check.compared);
              if (check.diffs.length) deviceDiffs = check.diffs;
            }
            if (keepHistory) {
              this.history.add({ index, rip: entry.rip, bytes: info.decoded.bytes, text: info.decoded.text, reads, writes, gprsWritten: info.gprsWritten, devices, followed: NOTHING });
              if (reads.length) reads = [];
              if (writes.length) writes = [];
            }
            index++;
            undefinedFlags = (undefinedFlags & ~info.decoded.flags.modified) | info.decoded.flags.undefined;
            // only the block's last instruction can read a device or a clock (QEMU ends blocks there)
            readDevice = devices.length > 0 && devices.some((d) => d.kind === 'in' || d.kind === 'mmio-read');
            followEntry = readDevice || entry.nonDeterministic || this.tscRip === rip ? entry : undefined;
            if (emulatorStop.kind === 'crash' || emulatorStop.kind === 'triple-fault' || deviceDiffs) break;
            // REP under icount: after the last iteration QEMU runs the instruction once more (rCX=0),
            // a block of its own: its record is the one after `next`
            if (info.repCounter && target === rip && ec.rip !== rip && interrupts.length === 0 && (next.words[RR.GPR + 2]! | (info.repCounter.bits === 64 ? next.words[RR.GPR + 3]! : 0)) === 0) {
              // the extra block can be printed again too (stream-common.ts isReprint)
              const after = await pacer.readPast(log, next);
              next = after ?? { words: stateToRecord(await q.target.readState()), format: 'long64', events: NOTHING, halted: false };
              if (!after) lastRound = true;
              // an interrupt QEMU delivered after that extra block comes with the record after it
              // (at the REP's next instruction): the emulator takes it there
              interrupts = hardwareInterrupts(next);
              target = blockEnd(next, interrupts);
              countRule(this.rules, 'rep-under-icount');
            }
            if (ec.rip !== target) continue;
          }
          if (interrupts.length) {
            for (const ev of interrupts) {
              injectInterrupt(e, ev.vector);
              (followed ??= []).push(`interrupt 0x${ev.vector.toString(16)}`);
              countRule(this.rules, 'interrupts-injected');
            }
          }
          if (followEntry) await followQemu(e, this.rules, followEntry.info, next.words, readDevice, (followed ??= []));
          readRegisterRecord(e, this.emu);
          if (next.format !== 'long64') completeRecord(next, this.emu);
          if (sameRecordMasked(next.words, this.emu, undefinedFlags)) {
            matched = true;
            break;
          }
          // the block may have branched back into itself: QEMU's block ends at a later arrival here
          firstDiffs ??= recordDiffs(next.words, this.emu, undefinedFlags);
          if (interrupts.length || followEntry) break;
        }
        blocks++;
        if (!matched || deviceDiffs) {
          if (next.format !== 'long64') {
            readRegisterRecord(e, this.emu);
            completeRecord(next, this.emu);
          }
          const actual = await e.readState();
          const expected = expectedState(next.words, actual);
          const lastEntry = await this.decoded.at(lastRip);
          mismatch = {
            index: index - 1, icount: icountStart + index, rip: lastEntry.rip, info: lastEntry.info,
            before: expectedState(cur.words, actual), expected, actual,
            diffs: deviceDiffs ? [] : compareStates(expected, actual, { flagMask: BigInt(undefinedFlags) }), memory: [], devices: deviceDiffs ?? [],
            qemuStop: { kind: 'step' }, emulatorStop, flagMask: BigInt(undefinedFlags), found: 'step',
          };
          const ran = index - blockStart;
          const addr = (x: number) => BigInt.asUintN(64, BigInt(x));
          const lastCount = Math.max(0, Math.min(8, ran - 8));
          failedBlock = {
            startIndex: blockStart, instructions: ran, qemuFrom: u64(cur.words, RR.RIP), qemuTo: u64(next.words, RR.RIP),
            interrupt: interrupts.length ? { vector: interrupts[0]!.vector, pc: BigInt.asUintN(64, interrupts[0]!.pc), beforeRunning: runNone } : undefined,
            emulatorFirst: Array.from(this.blockFirst.subarray(0, Math.min(8, ran)), addr),
            emulatorLast: Array.from({ length: lastCount }, (_, k) => addr(this.blockLast[(ran - lastCount + k) & 7]!)),
          };
          void firstDiffs;
          end = 'mismatch';
          break;
        }
        if (undefinedFlags && ((next.words[RR.RFLAGS]! ^ this.emu[RR.RFLAGS]!) & undefinedFlags) !== 0) {
          setRegisters(e, { rflags: BigInt(next.words[RR.RFLAGS]!) });
          this.emu[RR.RFLAGS] = next.words[RR.RFLAGS]!;
          this.masked.set('(block)', (this.masked.get('(block)') ?? 0) + 1);
          countRule(this.rules, 'undefined-flags');
        }
        cur = next;
        if (lastRound) {
          const done = await pacer.aligned(index);
          if (done) {
            ({ end, mismatch } = done);
            break;
          }
        }
        if (options.onProgress && (blocks & 1023) === 0) options.onProgress({ compared: index, rip: u64(cur.words, RR.RIP), icount: icountStart + index });
      }
    } catch (err) {
      end = 'error';
      error = (err as Error).message.split('\n')[0];
    } finally {
      stopTrace();
      ec.tscOverride = previousTsc;
      await q.qmp.execute('stop').catch(() => undefined);
      await log.stop();
    }
    const finalState = await e.readState();
    return {
      end,
      error,
      compared: mismatch ? mismatch.index : index,
      mismatch,
      rules: this.rules,
      masked: this.masked,
      history: this.history,
      lastIndex: mismatch ? mismatch.index : index - 1,
      icountStart,
      icountEnd: await q.icount().catch(() => icountStart + index),
      seconds: (performance.now() - t0) / 1000,
      checkpoints: pacer.checkpoints,
      finalState,
      stream: { waitedMs: log.waitedMs, parseMs: log.parseMs, bytes: log.bytes, cpuMs: pacer.cpuMs(), reprints: pacer.reprints.total, longestReprints: pacer.reprints.longest },
      blocks,
      failedBlock,
      lastGood: pacer.lastGood,
    };
  }
}
