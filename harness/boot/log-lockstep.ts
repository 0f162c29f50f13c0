import type { StopReason } from '../../contracts/execution-target.js';
import type { GprName, MachineState } from '../../contracts/machine-state.js';
import { recordDiffs, recordToState, RR, sameRecord, stateToRecord } from '../../contracts/register-record.js';
import type { EmulatorTarget } from '../../emulator/emulator-target.js';
import { type DataAccess, injectInterrupt, readRegisterRecord, setRegisters, traceAccesses } from '../../emulator/harness-hooks.js';
import { CpuLogStream } from '../../oracle/qemu/cpu-log-stream.js';
import type { KernelQemu } from '../../oracle/qemu/kernel-qemu.js';
import { compareStates } from '../compare.js';
import { followOracle } from '../sync-rules.js';
import { countRule, type RuleCounts } from './boot-rules.js';
import { compareCheckpoint, type CheckpointResult } from './checkpoint.js';
import type { DeviceLog } from './device-log.js';
import type { LockstepEnd, LockstepOptions, LockstepResult, Mismatch } from './gdb-lockstep.js';
import { instructionInfo, type InsnInfo } from './instruction-info.js';
import { StepHistory } from './step-history.js';

/**
 * The boot lockstep on the log channel: QEMU runs freely with one instruction per translation
 * block and prints its registers before each one (oracle/qemu/cpu-log-stream.ts); the emulator
 * steps once per record and its registers are compared with the next record. No gdb round trip
 * per instruction: the rate is what QEMU can log and the emulator can check. What a record does not
 * hold (memory, x87, descriptor caches) is compared at checkpoints, where QEMU is stopped, the
 * records it already printed are worked off, and both machines stand at the same instruction.
 * Hardware interrupts QEMU delivered are injected into the emulator at the same boundary.
 */

const IDLE_MS = 5_000;

function u64(w: Uint32Array, at: number): bigint {
  return (BigInt(w[at + 1]!) << 32n) | BigInt(w[at]!);
}

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
  ) {}

  /**
   * Decoded instructions by address, valid while the emulator has dropped no decoded code (a write
   * to a page holding code bumps its codeEpoch) and CR3 and the mode are the same: re-reading and
   * re-keying 15 bytes per instruction was a fifth of the comparison's time.
   */
  private decoded = new Map<bigint, InsnInfo>();
  private decodedEpoch = -1;
  private decodedKey = '';

  private async instructionAt(rip: bigint): Promise<InsnInfo> {
    const c = this.emulator.internals.cpu;
    const key = `${c.cr3}:${c.long64}:${c.default32}`;
    if (c.codeEpoch !== this.decodedEpoch || key !== this.decodedKey) {
      this.decoded.clear();
      this.decodedEpoch = c.codeEpoch;
      this.decodedKey = key;
    }
    const hit = this.decoded.get(rip);
    if (hit) return hit;
    const info = await this.decode(rip);
    if (this.decoded.size > 100_000) this.decoded.clear();
    this.decoded.set(rip, info);
    return info;
  }

  private async decode(rip: bigint): Promise<InsnInfo> {
    const c = this.emulator.internals.cpu;
    const bytes = await this.emulator.readMemory(rip, 15, 'virt').catch(async () => {
      const room = Number(4096n - (rip & 0xfffn));
      return this.emulator.readMemory(rip, Math.min(15, room), 'virt').catch(() => new Uint8Array(0));
    });
    return instructionInfo(rip, bytes, c.long64 ? 64 : c.default32 ? 32 : 16);
  }

  /** QEMU's state as a MachineState: the record's fields, the rest as the emulator has them. */
  private expectedState(w: Uint32Array, actual: MachineState): MachineState {
    const r = recordToState(w);
    return { ...actual, ...r, seg: { ...actual.seg, ...Object.fromEntries(Object.entries(r.seg).map(([k, v]) => [k, { ...actual.seg[k as keyof MachineState['seg']], selector: v.selector }])) }, kernelGsBase: actual.kernelGsBase, cr8: actual.cr8 };
  }

  async run(options: LockstepOptions = {}): Promise<LockstepResult> {
    const e = this.emulator;
    const q = this.qemu;
    const t0 = performance.now();
    const icountStart = await q.icount();
    const log = await CpuLogStream.start(q);
    await q.qmp.execute('cont');
    let end: LockstepEnd = 'budget';
    let error: string | undefined;
    let mismatch: Mismatch | undefined;
    let index = 0;
    const reads: DataAccess[] = [];
    const writes: Array<DataAccess & { old: Uint8Array }> = [];
    const stopTrace = traceAccesses(e, { read: (a) => reads.push(a), write: (a) => writes.push(a) });
    const maxSteps = options.maxSteps ?? Number.MAX_SAFE_INTEGER;
    const checkpointEvery = options.checkpointEvery ?? 0;
    const untilAddresses = new Set(options.untilAddresses ?? []);
    /** QEMU has been told to stop: the records it printed are being worked off (for `stopping` or a checkpoint). */
    let draining = false;
    let stopping: LockstepEnd | undefined;
    let nextCheckpoint = checkpointEvery > 0 ? checkpointEvery : Number.MAX_SAFE_INTEGER;
    let before: MachineState = await e.readState();
    try {
      let cur = await log.next(IDLE_MS);
      if (!cur) throw new Error("QEMU printed no trace after 'log cpu,int,nochain'");
      // With IF=1 an interrupt that came due while QEMU stood at the start point is delivered
      // before its first record (at kernel_init: the handler's first instruction is that record).
      for (const ev of cur.events) {
        if (ev.exception || ev.software) continue;
        injectInterrupt(e, ev.vector);
        countRule(this.rules, 'interrupts-injected');
      }
      readRegisterRecord(e, this.emu);
      const startDiffs = recordDiffs(cur.words, this.emu);
      if (startDiffs.length) throw new Error(`the first trace record differs from the transplanted state in ${startDiffs.join(', ')}`);
      for (;;) {
        const rip = u64(cur.words, RR.RIP);
        if (!draining) {
          const reason: LockstepEnd | undefined = options.shouldStop?.()
            ? 'interrupted'
            : index > 0 && untilAddresses.has(rip)
              ? 'until'
              : options.untilIcount !== undefined && icountStart + log.count - 1 >= options.untilIcount
                ? 'until'
                : index >= maxSteps
                  ? 'budget'
                  : undefined;
          if (reason || index >= nextCheckpoint) {
            stopping = reason;
            draining = true;
            await q.qmp.execute('stop');
          }
        }
        let next = log.tryNext() ?? (await log.next(draining ? 300 : IDLE_MS));
        // a block printed, then left unexecuted at a stop, is printed again when QEMU goes on
        if (next && sameRecord(next.words, cur.words)) next = log.tryNext() ?? (await log.next(draining ? 300 : IDLE_MS));
        let lastRound = false;
        if (!next) {
          if (!draining) {
            end = (await q.qmp.status()).status === 'shutdown' ? 'shutdown' : 'halted';
            break;
          }
          // Worked off: QEMU stands after `cur`'s instruction, or before it if it left it unexecuted.
          const qs = await q.target.readState();
          const words = stateToRecord(qs);
          if (!sameRecord(words, cur.words)) {
            next = { words, events: [], halted: false };
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
        const info = await this.instructionAt(rip);
        reads.length = 0;
        writes.length = 0;
        const keep = index % 16 === 0 || index < 64;
        if (keep) before = await e.readState();
        const emulatorStop: StopReason = e.stepSync(1);
        const devices = this.devices.take();
        // REP under icount: QEMU's extra block finds rCX=0 and moves on
        const ec = e.internals.cpu;
        if (!lastRound && info.repCounter && u64(next.words, RR.RIP) === rip && ec.rip !== Number(BigInt.asIntN(64, rip)) && (next.words[RR.GPR + 2]! | (info.repCounter.bits === 64 ? next.words[RR.GPR + 3]! : 0)) === 0) {
          const after = await log.next(draining ? 300 : IDLE_MS);
          if (after) next = after;
          else lastRound = true; // the extra block is the last thing QEMU did: compare with its current state
          if (!after) next = { words: stateToRecord(await q.target.readState()), events: [], halted: false };
          countRule(this.rules, 'rep-under-icount');
        }
        const followed: string[] = [];
        // An exception QEMU raised fetching the next instruction (the first user instruction after
        // IRETQ, not present yet: #PF) comes with no record of that instruction, which never ran:
        // the emulator takes the same fault in a step of its own, then both are compared.
        if (!lastRound && next.events.some((ev) => ev.exception) && ec.rip !== Number(BigInt.asIntN(64, u64(next.words, RR.RIP)))) {
          e.stepSync(1);
          followed.push('fault fetching the next instruction');
        }
        for (const ev of next.events) {
          if (ev.exception || ev.software) continue; // the emulator raises its own
          injectInterrupt(e, ev.vector);
          followed.push(`interrupt 0x${ev.vector.toString(16)}`);
          countRule(this.rules, 'interrupts-injected');
        }
        const readDevice = devices.some((d) => d.kind === 'in' || d.kind === 'mmio-read');
        if (readDevice || /^rd(tscp?|rand|seed)$/.test(info.decoded.mnemonic)) {
          const actual = await e.readState();
          const expected = this.expectedState(next.words, actual);
          if (readDevice) {
            const gpr: Partial<Record<GprName, bigint>> = {};
            for (const g of info.gprsWritten) gpr[g] = expected.gpr[g];
            const flags = BigInt(info.decoded.flags.modified);
            setRegisters(e, { gpr, rflags: (actual.rflags & ~flags) | (expected.rflags & flags) });
            followed.push('device-read');
            countRule(this.rules, 'device-read');
          }
          const follow = followOracle(info.decoded, expected, await e.readState());
          if (follow) {
            setRegisters(e, { gpr: follow.state.gpr, rflags: follow.state.rflags });
            followed.push(follow.rule);
            countRule(this.rules, follow.rule);
          }
        }
        readRegisterRecord(e, this.emu);
        const flagMask = info.decoded.flags.undefined;
        const diffs = recordDiffs(next.words, this.emu, flagMask);
        this.history.keepState(index, before);
        this.history.add({ index, rip, bytes: info.decoded.bytes, text: info.decoded.text, reads: [...reads], writes: [...writes], gprsWritten: info.gprsWritten, devices, followed });
        if (diffs.length || emulatorStop.kind === 'crash' || emulatorStop.kind === 'triple-fault') {
          const actual = await e.readState();
          const expected = this.expectedState(next.words, actual);
          mismatch = {
            index, icount: icountStart + log.count, rip, info, before: keep ? before : this.expectedState(cur.words, actual), expected, actual,
            diffs: compareStates(expected, actual, { flagMask: BigInt(flagMask) }), memory: [], devices: [],
            qemuStop: { kind: 'step' }, emulatorStop, flagMask: BigInt(flagMask), found: 'step',
          };
          end = 'mismatch';
          break;
        }
        if (flagMask && ((next.words[RR.RFLAGS]! ^ this.emu[RR.RFLAGS]!) & flagMask) !== 0) {
          setRegisters(e, { rflags: BigInt(next.words[RR.RFLAGS]!) });
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
        if (options.onProgress && index % 4096 === 0) options.onProgress({ compared: index, rip: u64(cur.words, RR.RIP), icount: icountStart + log.count });
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
      checkpoints: this.checkpoints,
      finalState,
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
        ...cp.mismatch, info: await this.instructionAt(state.rip), before: state, expected: await this.qemu.target.readState(), actual: state,
        qemuStop: { kind: 'step' }, emulatorStop: { kind: 'step' }, flagMask: 0n, icount: await this.qemu.icount(),
      },
    };
  }
}
