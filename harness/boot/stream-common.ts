import type { GprName, MachineState } from '../../contracts/machine-state.js';
import { recordDiffs, recordToState, RR } from '../../contracts/register-record.js';
import type { EmulatorTarget } from '../../emulator/emulator-target.js';
import { injectInterrupt, readRegisterRecord, setRegisters } from '../../emulator/harness-hooks.js';
import { completeRecord, type LogRecord, sameLogged } from '../../oracle/qemu/cpu-log.js';
import { followOracle } from '../sync-rules.js';
import type { StopReason } from '../../contracts/execution-target.js';
import { ACCESSED_BIT_RULE, isFarTransfer, stepFarTransfer } from './accessed-bit.js';
import { countRule, type RuleCounts } from './boot-rules.js';
import { instructionInfo, type InsnInfo } from './instruction-info.js';

/**
 * What the two streaming channels (log: a QEMU record per instruction; block: one per translation
 * block) share: register records as numbers, the decoded-instruction cache and the declared rules
 * that make the emulator take QEMU's result.
 */

export const NOTHING: readonly never[] = Object.freeze([]);

/**
 * Line the emulator up with QEMU's first trace record. With IF=1 an interrupt that came due while
 * QEMU stood at the start point is delivered before that record (at kernel_init the handler's first
 * instruction is the record): the emulator takes it there too. The record must then equal the
 * emulator's registers (read into `scratch`), or the trace is not of the transplanted machine
 * (outside 64-bit code, in the fields QEMU prints: cpu-log.ts completeRecord).
 */
export function alignWithFirstRecord(e: EmulatorTarget, first: LogRecord, rules: RuleCounts, scratch: Uint32Array): void {
  for (const ev of first.events) {
    if (ev.exception || ev.software) continue;
    injectInterrupt(e, ev.vector);
    countRule(rules, 'interrupts-injected');
  }
  readRegisterRecord(e, scratch);
  completeRecord(first, scratch);
  const diffs = recordDiffs(first.words, scratch);
  if (diffs.length) throw new Error(`the first trace record differs from the transplanted state in ${diffs.join(', ')}`);
}
/**
 * QEMU printed `cur`, then delivered a hardware interrupt before running any of its block (the
 * interrupt came due and the exit it requested ends a block before its first instruction): the
 * state it dumped at the delivery is `cur`'s own. The emulator then takes the interrupt where it
 * stands, running nothing. (A block that ran and branched back to its own start is told apart by
 * the registers it changed; one that changed none leaves the same state either way.)
 */
export function interruptedBeforeRunning(cur: LogRecord, next: LogRecord): boolean {
  const ev = next.events[0];
  return ev !== undefined && !ev.exception && !ev.software && ev.state !== undefined && ev.stateFormat === cur.format && sameLogged(cur, ev.state);
}

/**
 * `next` is `cur` printed again: QEMU prints a block's record before it runs the block, and prints
 * it again when the block did not run after all: left unexecuted at a stop; an exit requested
 * before its first instruction (the -icount budget spent, or the vCPU kicked by QEMU's main
 * loop, at host-timed moments); or, under -icount, a device access that is not a block's last
 * instruction (cpu_io_recompile translates the block again to end there and re-runs it). Two of
 * these can meet at one instruction: hpet_alloc's read of the HPET counter was printed three
 * times in some runs. A record with an event before it is never a re-print.
 */
export function isReprint(next: LogRecord, cur: LogRecord): boolean {
  return next.events.length === 0 && sameLogged(next, cur.words);
}

/** Counts of records skipped as re-prints: all of them, and the most in a row. */
export interface ReprintCount {
  total: number;
  longest: number;
}

/**
 * The first of `next` and the records `take` gives after it that is not `cur` printed again
 * (isReprint): QEMU can print one block several times, so skipping one was not enough.
 */
export async function skipReprints(cur: LogRecord, next: LogRecord | undefined, take: () => LogRecord | undefined | Promise<LogRecord | undefined>, count: ReprintCount): Promise<LogRecord | undefined> {
  let again = 0;
  while (next && isReprint(next, cur)) {
    again++;
    next = await take();
  }
  count.total += again;
  if (again > count.longest) count.longest = again;
  return next;
}

const NON_DETERMINISTIC = /^rd(tscp?|rand|seed)$/;

export function u64(w: Uint32Array, at: number): bigint {
  return (BigInt(w[at + 1]!) << 32n) | BigInt(w[at]!);
}

/** A record's 64-bit field as the emulator keeps addresses: a signed number (exact for canonical addresses). */
export function signed(w: Uint32Array, at: number): number {
  return (w[at + 1]! | 0) * 4294967296 + w[at]!;
}

/** Equal in every field but the RFLAGS bits of `flagMask` (the hot-path check; names only on a difference). */
export function sameRecordMasked(a: Uint32Array, b: Uint32Array, flagMask: number): boolean {
  for (let i = 0; i < RR.LENGTH; i++) {
    if (a[i] === b[i]) continue;
    if (i === RR.RFLAGS && ((a[i]! ^ b[i]!) & ~flagMask) === 0) continue;
    return false;
  }
  return true;
}

/** QEMU's state as a MachineState: the record's fields, the rest as the emulator has them. */
export function expectedState(w: Uint32Array, actual: MachineState): MachineState {
  const r = recordToState(w);
  const seg = { ...actual.seg };
  for (const k of Object.keys(r.seg) as Array<keyof MachineState['seg']>) seg[k] = { ...actual.seg[k], selector: r.seg[k].selector };
  return { ...actual, ...r, seg, kernelGsBase: actual.kernelGsBase, cr8: actual.cr8 };
}

/** What the lockstep keeps per instruction address: iced-x86's analysis and what is derived from it once. */
export interface DecodedEntry {
  readonly info: InsnInfo;
  readonly rip: bigint;
  /** RDTSC/RDTSCP/RDRAND/RDSEED: the result follows QEMU (sync-rules.ts). */
  readonly nonDeterministic: boolean;
  /** A far JMP/CALL, RETF or IRET: stepped with the accessed-bit rule (accessed-bit.ts). */
  readonly farTransfer: boolean;
}

/**
 * Decoded instructions by address, valid while the emulator has dropped no decoded code (a write
 * to a page holding code bumps its codeEpoch) and CR3 and the mode are the same: re-reading and
 * re-keying 15 bytes per instruction was a fifth of the comparison's time.
 */
export class DecodedCache {
  private readonly map = new Map<number, DecodedEntry>();
  private epoch = -1;
  private cr3 = -1;
  private mode = -1;

  constructor(private readonly emulator: EmulatorTarget) {}

  /** The entry while the cache is valid (synchronous: no promise on the hot path). */
  cached(rip: number): DecodedEntry | undefined {
    const c = this.emulator.internals.cpu;
    const mode = (c.long64 ? 2 : 0) + (c.default32 ? 1 : 0);
    if (c.codeEpoch !== this.epoch || c.cr3 !== this.cr3 || mode !== this.mode) {
      this.map.clear();
      this.epoch = c.codeEpoch;
      this.cr3 = c.cr3;
      this.mode = mode;
      return undefined;
    }
    return this.map.get(rip);
  }

  async at(rip: number): Promise<DecodedEntry> {
    const hit = this.cached(rip);
    if (hit) return hit;
    const big = BigInt.asUintN(64, BigInt(rip));
    const c = this.emulator.internals.cpu;
    const bytes = await this.emulator.readMemory(big, 15, 'virt').catch(async () => {
      const room = Number(4096n - (big & 0xfffn));
      return this.emulator.readMemory(big, Math.min(15, room), 'virt').catch(() => new Uint8Array(0));
    });
    const info = instructionInfo(big, bytes, c.long64 ? 64 : c.default32 ? 32 : 16);
    const entry = { info, rip: big, nonDeterministic: NON_DETERMINISTIC.test(info.decoded.mnemonic), farTransfer: isFarTransfer(info.decoded.text) };
    if (this.map.size > 100_000) this.map.clear();
    this.map.set(rip, entry);
    return entry;
  }
}

/**
 * The declared rules that make the emulator take QEMU's result for the instruction it just ran: a
 * device read (its destination registers and the flags it sets), RDTSC/RDTSCP/RDRAND/RDSEED
 * (sync-rules.ts). `words` is QEMU's record right after the instruction.
 */
export async function followQemu(e: EmulatorTarget, rules: RuleCounts, info: InsnInfo, words: Uint32Array, readDevice: boolean, followed: string[]): Promise<void> {
  const actual = await e.readState();
  const expected = expectedState(words, actual);
  if (readDevice) {
    const gpr: Partial<Record<GprName, bigint>> = {};
    for (const g of info.gprsWritten) gpr[g] = expected.gpr[g];
    const flags = BigInt(info.decoded.flags.modified);
    setRegisters(e, { gpr, rflags: (actual.rflags & ~flags) | (expected.rflags & flags) });
    followed.push('device-read');
    countRule(rules, 'device-read');
  }
  const follow = followOracle(info.decoded, expected, await e.readState());
  if (follow) {
    setRegisters(e, { gpr: follow.state.gpr, rflags: follow.state.rflags });
    followed.push(follow.rule);
    countRule(rules, follow.rule);
  }
}

/** One emulator step of `entry`'s instruction; a far transfer with the accessed-bit rule (counted; named in `followed`). */
export async function stepEntry(e: EmulatorTarget, entry: DecodedEntry, rules: RuleCounts, followed: string[]): Promise<StopReason> {
  if (!entry.farTransfer) return e.stepSync(1);
  const { stop, applied } = await stepFarTransfer(e);
  if (applied) {
    countRule(rules, ACCESSED_BIT_RULE);
    followed.push(ACCESSED_BIT_RULE);
  }
  return stop;
}
