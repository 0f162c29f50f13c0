import type { StopReason } from '../../contracts/execution-target.js';
import { recordToState, RR, stateToRecord } from '../../contracts/register-record.js';
import type { EmulatorTarget } from '../../emulator/emulator-target.js';
import { type DataAccess, injectInterrupt, readRegisterRecord, setRegisters, traceAccesses } from '../../emulator/harness-hooks.js';
import { CpuLogStream } from '../../oracle/qemu/cpu-log-stream.js';
import { completeRecord } from '../../oracle/qemu/cpu-log.js';
import type { KernelQemu } from '../../oracle/qemu/kernel-qemu.js';
import { compareStates } from '../compare.js';
import { countRule, type RuleCounts } from './boot-rules.js';
import type { DeviceLog } from './device-log.js';
import { compareDeviceWrites } from './device-writes.js';
import type { LockstepEnd, LockstepOptions, LockstepResult, Mismatch } from './gdb-lockstep.js';
import { StepHistory } from './step-history.js';
import { IDLE_MS, StreamPacer } from './stream-pacer.js';
import { alignWithFirstRecord, interruptedBeforeRunning, DecodedCache, expectedState, followQemu, NOTHING, sameRecordMasked, signed, stepEntry, u64 } from './stream-common.js';

/**
 * The boot lockstep on the log channel: QEMU runs freely with one instruction per translation
 * block and prints its registers before each one (oracle/qemu/cpu-log-stream.ts); the emulator
 * steps once per record and its registers are compared with the next record. No gdb round trip
 * per instruction: the rate is what QEMU can log and the emulator can check. What a record does not
 * hold (memory, x87, descriptor caches) is compared at checkpoints, where QEMU is stopped, the
 * records it already printed are worked off, and both machines stand at the same instruction.
 * Hardware interrupts QEMU delivered are injected into the emulator at the same boundary.
 */

export class LogLockstep {
  private readonly rules: RuleCounts = new Map();
  private readonly masked = new Map<string, number>();
  readonly history = new StepHistory();
  private readonly emu = new Uint32Array(RR.LENGTH);

  constructor(
    private readonly qemu: KernelQemu,
    private readonly emulator: EmulatorTarget,
    private readonly devices: DeviceLog,
  ) {
    this.decoded = new DecodedCache(emulator);
  }

  private readonly decoded: DecodedCache;
  /** A linear address through the emulator's page tables (undefined when unmapped). */
  private readonly translate = (lin: bigint): number | undefined => {
    const p = this.emulator.internals.cpu.mmu.peekTranslate(Number(BigInt.asIntN(64, lin)));
    return p < 0 ? undefined : p;
  };

  async run(options: LockstepOptions = {}): Promise<LockstepResult> {
    const e = this.emulator;
    const q = this.qemu;
    const t0 = performance.now();
    const icountStart = await q.icount();
    const log = await CpuLogStream.start(q);
    const firstIndex = options.firstIndex ?? 0;
    const pacer = new StreamPacer(q, e, this.history, this.decoded, options, firstIndex, icountStart, this.devices);
    await q.qmp.execute('cont');
    let end: LockstepEnd = 'budget';
    let error: string | undefined;
    let mismatch: Mismatch | undefined;
    let index = firstIndex;
    let reads: DataAccess[] = [];
    let writes: Array<DataAccess & { old: Uint8Array }> = [];
    const stopTrace = traceAccesses(e, { read: (a) => reads.push(a), write: (a) => writes.push(a), oldBytes: false });
    const untilAddresses = new Set((options.untilAddresses ?? []).map((a) => Number(BigInt.asIntN(64, a))));
    const ec = e.internals.cpu;
    try {
      let cur = await log.next(IDLE_MS);
      if (!cur) throw new Error("QEMU printed no trace after 'log cpu,int,nochain'");
      alignWithFirstRecord(e, cur, this.rules, this.emu);
      for (;;) {
        const rip = signed(cur.words, RR.RIP);
        if (!pacer.draining) await pacer.stopIfDue(index, pacer.endReason(index, firstIndex, rip, untilAddresses, icountStart + log.count - 1));
        const got = await pacer.nextRecord(log, cur, index);
        if (got.kind === 'continue') continue;
        if (got.kind === 'end') {
          ({ end, mismatch } = got);
          break;
        }
        let { next, lastRound } = got;
        const entry = this.decoded.cached(rip) ?? (await this.decoded.at(rip));
        const info = entry.info;
        // the registers before this instruction: the last record the emulator matched
        this.history.keepRecord(index, this.emu);
        let followed: string[] | undefined;
        // QEMU took an interrupt before running cur's instruction: the emulator does not run it either
        const runNone = interruptedBeforeRunning(cur, next);
        const emulatorStop: StopReason = runNone ? { kind: 'step' } : entry.farTransfer ? await stepEntry(e, entry, this.rules, (followed ??= [])) : e.stepSync(1);
        const devices = this.devices.take();
        // REP under icount: QEMU's extra block finds rCX=0 and moves on
        if (!lastRound && info.repCounter && signed(next.words, RR.RIP) === rip && ec.rip !== rip && (next.words[RR.GPR + 2]! | (info.repCounter.bits === 64 ? next.words[RR.GPR + 3]! : 0)) === 0) {
          // the extra block can be printed again too (stream-common.ts isReprint)
          const after = await pacer.readPast(log, next);
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
        const flagMask = runNone ? 0 : info.decoded.flags.undefined;
        const same = sameRecordMasked(next.words, this.emu, flagMask);
        // OUT and device-memory writes: what QEMU sent follows from the instruction and `cur`, its registers before it
        let deviceDiffs: readonly string[] = NOTHING;
        if (devices.length || info.portIo === 'out') {
          const check = compareDeviceWrites(info, recordToState(cur.words), devices, this.translate, e.internals.bus.ramSize);
          if (check.compared) countRule(this.rules, 'device-write-compared', check.compared);
          deviceDiffs = check.diffs;
        }
        if (!runNone) this.history.add({ index, rip: entry.rip, bytes: info.decoded.bytes, text: info.decoded.text, reads, writes, gprsWritten: info.gprsWritten, devices, followed: followed ?? NOTHING });
        if (reads.length) reads = [];
        if (writes.length) writes = [];
        if (!same || deviceDiffs.length || emulatorStop.kind === 'crash' || emulatorStop.kind === 'triple-fault') {
          const actual = await e.readState();
          const expected = expectedState(next.words, actual);
          mismatch = {
            index, icount: icountStart + log.count, rip: entry.rip, info, before: expectedState(cur.words, actual), expected, actual,
            diffs: compareStates(expected, actual, { flagMask: BigInt(flagMask) }), memory: [], devices: deviceDiffs,
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
        if (!runNone) index++;
        cur = next;
        if (lastRound) {
          const done = await pacer.aligned(index);
          if (done) {
            ({ end, mismatch } = done);
            break;
          }
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
      checkpoints: pacer.checkpoints,
      lastGood: pacer.lastGood,
      finalState,
      stream: { waitedMs: log.waitedMs, parseMs: log.parseMs, bytes: log.bytes, cpuMs: pacer.cpuMs(), reprints: pacer.reprints.total, longestReprints: pacer.reprints.longest },
    };
  }
}
