import type { StopReason } from '../../contracts/execution-target.js';
import { RR, stateToRecord } from '../../contracts/register-record.js';
import type { EmulatorTarget } from '../../emulator/emulator-target.js';
import { type DataAccess, injectInterrupt, readRegisterRecord, setRegisters, traceAccesses } from '../../emulator/harness-hooks.js';
import { CpuLogStream } from '../../oracle/qemu/cpu-log-stream.js';
import { completeRecord, sameLogged } from '../../oracle/qemu/cpu-log.js';
import type { KernelQemu } from '../../oracle/qemu/kernel-qemu.js';
import { compareStates } from '../compare.js';
import { countRule, type RuleCounts } from './boot-rules.js';
import { compareCheckpoint, type CheckpointResult } from './checkpoint.js';
import type { DeviceLog } from './device-log.js';
import type { LockstepEnd, LockstepOptions, LockstepResult, Mismatch } from './gdb-lockstep.js';
import { StepHistory } from './step-history.js';
import { alignWithFirstRecord, isReprint, type ReprintCount, skipReprints, DecodedCache, expectedState, followQemu, NOTHING, sameRecordMasked, signed, stepEntry, u64 } from './stream-common.js';

/**
 * The boot lockstep on the log channel: QEMU runs freely with one instruction per translation
 * block and prints its registers before each one (oracle/qemu/cpu-log-stream.ts); the emulator
 * steps once per record and its registers are compared with the next record. No gdb round trip
 * per instruction: the rate is what QEMU can log and the emulator can check. What a record does not
 * hold (memory, x87, descriptor caches) is compared at checkpoints, where QEMU is stopped, the
 * records it already printed are worked off, and both machines stand at the same instruction.
 * Hardware interrupts QEMU delivered are injected into the emulator at the same boundary.
 */

export const IDLE_MS = 5_000;
/** How long a stopped QEMU may stay silent before its printed records count as worked off. */
export const DRAIN_MS = 300;
export class LogLockstep {
  private readonly rules: RuleCounts = new Map();
  private readonly masked = new Map<string, number>();
  readonly history = new StepHistory();
  private readonly checkpoints: CheckpointResult[] = [];
  private readonly emu = new Uint32Array(RR.LENGTH);

  constructor(
    private readonly qemu: KernelQemu,
    private readonly emulator: EmulatorTarget,
    private readonly devices: DeviceLog,
  ) {
    this.decoded = new DecodedCache(emulator);
  }

  private readonly decoded: DecodedCache;

  async run(options: LockstepOptions = {}): Promise<LockstepResult> {
    const e = this.emulator;
    const q = this.qemu;
    const t0 = performance.now();
    const icountStart = await q.icount();
    const log = await CpuLogStream.start(q);
    const cpu0 = process.cpuUsage();
    let cpuToStop: NodeJS.CpuUsage | undefined;
    await q.qmp.execute('cont');
    let end: LockstepEnd = 'budget';
    const reprints: ReprintCount = { total: 0, longest: 0 };
    let error: string | undefined;
    let mismatch: Mismatch | undefined;
    let index = options.firstIndex ?? 0;
    let reads: DataAccess[] = [];
    let writes: Array<DataAccess & { old: Uint8Array }> = [];
    const stopTrace = traceAccesses(e, { read: (a) => reads.push(a), write: (a) => writes.push(a), oldBytes: false });
    const maxSteps = options.maxSteps ?? Number.MAX_SAFE_INTEGER;
    const checkpointEvery = options.checkpointEvery ?? 0;
    const untilAddresses = new Set((options.untilAddresses ?? []).map((a) => Number(BigInt.asIntN(64, a))));
    /** QEMU has been told to stop: the records it printed are being worked off (for `stopping` or a checkpoint). */
    let draining = false;
    let stopping: LockstepEnd | undefined;
    let nextCheckpoint = checkpointEvery > 0 ? index + checkpointEvery : Number.MAX_SAFE_INTEGER;
    const ec = e.internals.cpu;
    try {
      let cur = await log.next(IDLE_MS);
      if (!cur) throw new Error("QEMU printed no trace after 'log cpu,int,nochain'");
      alignWithFirstRecord(e, cur, this.rules, this.emu);
      for (;;) {
        const rip = signed(cur.words, RR.RIP);
        if (!draining) {
          const reason: LockstepEnd | undefined = options.shouldStop?.()
            ? 'interrupted'
            : index > (options.firstIndex ?? 0) && untilAddresses.size > 0 && untilAddresses.has(rip)
              ? 'until'
              : options.untilIcount !== undefined && icountStart + log.count - 1 >= options.untilIcount
                ? 'until'
                : index >= maxSteps
                  ? 'budget'
                  : undefined;
          if (reason || index >= nextCheckpoint) {
            stopping = reason;
            if (reason) cpuToStop ??= process.cpuUsage(cpu0);
            draining = true;
            await q.qmp.execute('stop');
          }
        }
        let next = log.tryNext() ?? (await log.next(draining ? DRAIN_MS : IDLE_MS));
        if (next && isReprint(next, cur)) next = await skipReprints(cur, next, () => log.tryNext() ?? log.next(draining ? DRAIN_MS : IDLE_MS), reprints);
        let lastRound = false;
        if (!next) {
          if (!draining) {
            end = (await q.qmp.status()).status === 'shutdown' ? 'shutdown' : 'halted';
            break;
          }
          // Worked off: QEMU stands after `cur`'s instruction, or before it if it left it unexecuted.
          const qs = await q.target.readState();
          const words = stateToRecord(qs);
          if (!sameLogged(cur, words)) {
            next = { words, format: 'long64', events: NOTHING, halted: false };
            lastRound = true;
          } else {
            const done = await this.aligned(index);
            if (done.mismatch) {
              mismatch = done.mismatch;
              end = 'mismatch';
              break;
            }
            if (stopping) {
              end = stopping;
              break;
            }
            draining = false;
            nextCheckpoint = index + checkpointEvery;
            await q.qmp.execute('cont');
            continue;
          }
        }
        const entry = this.decoded.cached(rip) ?? (await this.decoded.at(rip));
        const info = entry.info;
        // the registers before this instruction: the last record the emulator matched
        this.history.keepRecord(index, this.emu);
        let followed: string[] | undefined;
        const emulatorStop: StopReason = entry.farTransfer ? await stepEntry(e, entry, this.rules, (followed ??= [])) : e.stepSync(1);
        const devices = this.devices.take();
        // REP under icount: QEMU's extra block finds rCX=0 and moves on
        if (!lastRound && info.repCounter && signed(next.words, RR.RIP) === rip && ec.rip !== rip && (next.words[RR.GPR + 2]! | (info.repCounter.bits === 64 ? next.words[RR.GPR + 3]! : 0)) === 0) {
          // the extra block can be printed again too (stream-common.ts isReprint)
          const take = () => log.tryNext() ?? log.next(draining ? DRAIN_MS : IDLE_MS);
          const after = await skipReprints(next, await take(), take, reprints);
          if (after) next = after;
          else lastRound = true; // the extra block is the last thing QEMU did: compare with its current state
          if (!after) next = { words: stateToRecord(await q.target.readState()), format: 'long64', events: NOTHING, halted: false };
          countRule(this.rules, 'rep-under-icount');
        }
        if (next.events.length) {
          // An exception QEMU raised fetching the next instruction (the first user instruction after
          // IRETQ, not present yet: #PF) comes with no record of that instruction, which never ran:
          // the emulator takes the same fault in a step of its own, then both are compared.
          if (!lastRound && next.events.some((ev) => ev.exception) && ec.rip !== signed(next.words, RR.RIP)) {
            e.stepSync(1);
            (followed ??= []).push('fault fetching the next instruction');
          }
          for (const ev of next.events) {
            if (ev.exception || ev.software) continue; // the emulator raises its own
            injectInterrupt(e, ev.vector);
            (followed ??= []).push(`interrupt 0x${ev.vector.toString(16)}`);
            countRule(this.rules, 'interrupts-injected');
          }
        }
        const readDevice = devices.length > 0 && devices.some((d) => d.kind === 'in' || d.kind === 'mmio-read');
        if (readDevice || entry.nonDeterministic) await followQemu(e, this.rules, info, next.words, readDevice, (followed ??= []));
        readRegisterRecord(e, this.emu);
        if (next.format !== 'long64') completeRecord(next, this.emu);
        const flagMask = info.decoded.flags.undefined;
        const same = sameRecordMasked(next.words, this.emu, flagMask);
        this.history.add({ index, rip: entry.rip, bytes: info.decoded.bytes, text: info.decoded.text, reads, writes, gprsWritten: info.gprsWritten, devices, followed: followed ?? NOTHING });
        if (reads.length) reads = [];
        if (writes.length) writes = [];
        if (!same || emulatorStop.kind === 'crash' || emulatorStop.kind === 'triple-fault') {
          const actual = await e.readState();
          const expected = expectedState(next.words, actual);
          mismatch = {
            index, icount: icountStart + log.count, rip: entry.rip, info, before: expectedState(cur.words, actual), expected, actual,
            diffs: compareStates(expected, actual, { flagMask: BigInt(flagMask) }), memory: [], devices: [],
            qemuStop: { kind: 'step' }, emulatorStop, flagMask: BigInt(flagMask), found: 'step',
          };
          end = 'mismatch';
          break;
        }
        if (flagMask && ((next.words[RR.RFLAGS]! ^ this.emu[RR.RFLAGS]!) & flagMask) !== 0) {
          setRegisters(e, { rflags: BigInt(next.words[RR.RFLAGS]!) });
          this.emu[RR.RFLAGS] = next.words[RR.RFLAGS]!;
          this.masked.set(info.decoded.mnemonic, (this.masked.get(info.decoded.mnemonic) ?? 0) + 1);
          countRule(this.rules, 'undefined-flags');
        }
        index++;
        cur = next;
        if (lastRound) {
          const done = await this.aligned(index);
          if (done.mismatch) {
            mismatch = done.mismatch;
            end = 'mismatch';
            break;
          }
          if (stopping) {
            end = stopping;
            break;
          }
          draining = false;
          nextCheckpoint = index + checkpointEvery;
          await q.qmp.execute('cont');
        }
        if (options.onProgress && (index & 4095) === 0) options.onProgress({ compared: index, rip: u64(cur.words, RR.RIP), icount: icountStart + log.count });
      }
    } catch (err) {
      end = 'error';
      error = (err as Error).message.split('\n')[0];
    } finally {
      stopTrace();
      await q.qmp.execute('stop').catch(() => undefined);
      await log.stop();
    }
    const finalState = await e.readState();
    const cpu = cpuToStop ?? process.cpuUsage(cpu0);
    return {
      end,
      error,
      compared: index,
      mismatch,
      rules: this.rules,
      masked: this.masked,
      history: this.history,
      lastIndex: mismatch ? mismatch.index : index - 1,
      icountStart,
      icountEnd: await q.icount().catch(() => icountStart + log.count),
      seconds: (performance.now() - t0) / 1000,
      checkpoints: this.checkpoints,
      finalState,
      stream: { waitedMs: log.waitedMs, parseMs: log.parseMs, bytes: log.bytes, cpuMs: (cpu.user + cpu.system) / 1000, reprints: reprints.total, longestReprints: reprints.longest },
    };
  }

  /** Both machines stand at the same instruction with QEMU stopped: compare everything. */
  private async aligned(index: number): Promise<{ mismatch?: Mismatch }> {
    const cp = await compareCheckpoint(this.qemu, this.emulator, this.history, index);
    this.checkpoints.push(cp);
    if (!cp.mismatch) return {};
    const state = await this.emulator.readState();
    return {
      mismatch: {
        ...cp.mismatch, info: (await this.decoded.at(Number(BigInt.asIntN(64, state.rip)))).info, before: state, expected: await this.qemu.target.readState(), actual: state,
        qemuStop: { kind: 'step' }, emulatorStop: { kind: 'step' }, flagMask: 0n, icount: await this.qemu.icount(),
      },
    };
  }
}
