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
/** How long a stopped QEMU may stay silent before its printed records count as worked off. */
const DRAIN_MS = 300;
const NOTHING: readonly never[] = Object.freeze([]);
const NON_DETERMINISTIC = /^rd(tscp?|rand|seed)$/;

function u64(w: Uint32Array, at: number): bigint {
  return (BigInt(w[at + 1]!) << 32n) | BigInt(w[at]!);
}

/** A record's 64-bit field as the emulator keeps addresses: a signed number (exact for canonical addresses). */
function signed(w: Uint32Array, at: number): number {
  return (w[at + 1]! | 0) * 4294967296 + w[at]!;
}

/** Equal in every field but the RFLAGS bits of `flagMask` (the hot-path check; names only on a difference). */
function sameRecordMasked(a: Uint32Array, b: Uint32Array, flagMask: number): boolean {
  for (let i = 0; i < RR.LENGTH; i++) {
    if (a[i] === b[i]) continue;
    if (i === RR.RFLAGS && ((a[i]! ^ b[i]!) & ~flagMask) === 0) continue;
    return false;
  }
  return true;
}

/** What the lockstep keeps per instruction address: iced-x86's analysis and what is derived from it once. */
interface DecodedEntry {
  readonly info: InsnInfo;
  readonly rip: bigint;
  /** RDTSC/RDTSCP/RDRAND/RDSEED: the result follows QEMU (sync-rules.ts). */
  readonly nonDeterministic: boolean;
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
  private decoded = new Map<number, DecodedEntry>();
  private decodedEpoch = -1;
  private decodedCr3 = -1;
  private decodedMode = -1;

  /** The cached entry while the cache is valid (synchronous: no promise on the hot path). */
  private cached(rip: number): DecodedEntry | undefined {
    const c = this.emulator.internals.cpu;
    const mode = (c.long64 ? 2 : 0) + (c.default32 ? 1 : 0);
    if (c.codeEpoch !== this.decodedEpoch || c.cr3 !== this.decodedCr3 || mode !== this.decodedMode) {
      this.decoded.clear();
      this.decodedEpoch = c.codeEpoch;
      this.decodedCr3 = c.cr3;
      this.decodedMode = mode;
      return undefined;
    }
    return this.decoded.get(rip);
  }

  private async instructionAt(rip: number): Promise<DecodedEntry> {
    const hit = this.cached(rip);
    if (hit) return hit;
    const big = BigInt.asUintN(64, BigInt(rip));
    const info = await this.decode(big);
    const entry = { info, rip: big, nonDeterministic: NON_DETERMINISTIC.test(info.decoded.mnemonic) };
    if (this.decoded.size > 100_000) this.decoded.clear();
    this.decoded.set(rip, entry);
    return entry;
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
    const cpu0 = process.cpuUsage();
    let cpuToStop: NodeJS.CpuUsage | undefined;
    await q.qmp.execute('cont');
    let end: LockstepEnd = 'budget';
    let error: string | undefined;
    let mismatch: Mismatch | undefined;
    let index = 0;
    let reads: DataAccess[] = [];
    let writes: Array<DataAccess & { old: Uint8Array }> = [];
    const stopTrace = traceAccesses(e, { read: (a) => reads.push(a), write: (a) => writes.push(a), oldBytes: false });
    const maxSteps = options.maxSteps ?? Number.MAX_SAFE_INTEGER;
    const checkpointEvery = options.checkpointEvery ?? 0;
    const untilAddresses = new Set((options.untilAddresses ?? []).map((a) => Number(BigInt.asIntN(64, a))));
    /** QEMU has been told to stop: the records it printed are being worked off (for `stopping` or a checkpoint). */
    let draining = false;
    let stopping: LockstepEnd | undefined;
    let nextCheckpoint = checkpointEvery > 0 ? checkpointEvery : Number.MAX_SAFE_INTEGER;
    const ec = e.internals.cpu;
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
        const rip = signed(cur.words, RR.RIP);
        if (!draining) {
          const reason: LockstepEnd | undefined = options.shouldStop?.()
            ? 'interrupted'
            : index > 0 && untilAddresses.size > 0 && untilAddresses.has(rip)
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
        // a block printed, then left unexecuted at a stop, is printed again when QEMU goes on
        if (next && sameRecord(next.words, cur.words)) next = log.tryNext() ?? (await log.next(draining ? DRAIN_MS : IDLE_MS));
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
            next = { words, events: NOTHING, halted: false };
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
        const entry = this.cached(rip) ?? (await this.instructionAt(rip));
        const info = entry.info;
        // the registers before this instruction: the last record the emulator matched
        this.history.keepRecord(index, this.emu);
        const emulatorStop: StopReason = e.stepSync(1);
        const devices = this.devices.take();
        // REP under icount: QEMU's extra block finds rCX=0 and moves on
        if (!lastRound && info.repCounter && signed(next.words, RR.RIP) === rip && ec.rip !== rip && (next.words[RR.GPR + 2]! | (info.repCounter.bits === 64 ? next.words[RR.GPR + 3]! : 0)) === 0) {
          const after = await log.next(draining ? DRAIN_MS : IDLE_MS);
          if (after) next = after;
          else lastRound = true; // the extra block is the last thing QEMU did: compare with its current state
          if (!after) next = { words: stateToRecord(await q.target.readState()), events: NOTHING, halted: false };
          countRule(this.rules, 'rep-under-icount');
        }
        let followed: string[] | undefined;
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
        if (readDevice || entry.nonDeterministic) await this.follow(info, next.words, readDevice, (followed ??= []));
        readRegisterRecord(e, this.emu);
        const flagMask = info.decoded.flags.undefined;
        const same = sameRecordMasked(next.words, this.emu, flagMask);
        this.history.add({ index, rip: entry.rip, bytes: info.decoded.bytes, text: info.decoded.text, reads, writes, gprsWritten: info.gprsWritten, devices, followed: followed ?? NOTHING });
        if (reads.length) reads = [];
        if (writes.length) writes = [];
        if (!same || emulatorStop.kind === 'crash' || emulatorStop.kind === 'triple-fault') {
          const actual = await e.readState();
          const expected = this.expectedState(next.words, actual);
          mismatch = {
            index, icount: icountStart + log.count, rip: entry.rip, info, before: this.expectedState(cur.words, actual), expected, actual,
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
      stream: { waitedMs: log.waitedMs, parseMs: log.parseMs, bytes: log.bytes, cpuMs: (cpu.user + cpu.system) / 1000 },
    };
  }

  /**
   * The declared rules that make the emulator take QEMU's result: a device read (its destination
   * registers and the flags it sets), RDTSC/RDTSCP/RDRAND/RDSEED (sync-rules.ts).
   */
  private async follow(info: InsnInfo, words: Uint32Array, readDevice: boolean, followed: string[]): Promise<void> {
    const e = this.emulator;
    const actual = await e.readState();
    const expected = this.expectedState(words, actual);
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

  /** Both machines stand at the same instruction with QEMU stopped: compare everything. */
  private async aligned(index: number): Promise<{ mismatch?: Mismatch }> {
    const cp = await compareCheckpoint(this.qemu, this.emulator, this.history, index);
    this.checkpoints.push(cp);
    if (!cp.mismatch) return {};
    const state = await this.emulator.readState();
    return {
      mismatch: {
        ...cp.mismatch, info: (await this.instructionAt(Number(BigInt.asIntN(64, state.rip)))).info, before: state, expected: await this.qemu.target.readState(), actual: state,
        qemuStop: { kind: 'step' }, emulatorStop: { kind: 'step' }, flagMask: 0n, icount: await this.qemu.icount(),
      },
    };
  }
}
