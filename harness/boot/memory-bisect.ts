import type { GoodPoint } from './checkpoint.js';
import type { LockstepResult } from './gdb-lockstep.js';

/**
 * A difference a checkpoint found (RAM, descriptor caches) names a stretch of instructions, not
 * one: the last clean checkpoint `lo` and the failing one `hi`. Under -icount the boot is
 * re-runnable, so the stretch is narrowed by re-running it: QEMU relaunched and run to `lo`'s
 * exact instruction count, the emulator restored from `lo`'s snapshot, and the stretch compared
 * again on the log channel with checkpoints FANOUT times closer, until it is short enough for the
 * gdb channel, which compares the bytes every instruction writes (read back from QEMU by physical
 * address) and so names the first instruction whose writes differ, with both values.
 *
 * The log channel's checkpoints land where QEMU's stop does (a few hundred instructions after it is
 * asked for), so a level's interval is approximate; the indices and instruction counts it records
 * are exact, and the next level starts from them.
 */

/** Checkpoints per re-run: each level shrinks the stretch ~this many times. */
export const FANOUT = 16;
/** A stretch this short goes to the gdb channel (~2,000 instructions/s here, with write comparison). */
export const GDB_STRETCH = 12_000;

/** The checkpoint interval that splits the stretch from `from` to `to` into FANOUT parts. */
export function fanoutInterval(from: number, to: number): number {
  return Math.max(1, Math.ceil((to - from) / FANOUT));
}

export interface BisectLevel {
  readonly channel: 'log' | 'gdb';
  /** The stretch re-run: from this clean point's index to the failing checkpoint's. */
  readonly from: number;
  readonly to: number;
  /** Checkpoint interval asked for (log channel). */
  readonly every: number;
  readonly seconds: number;
  /** What the level ended with: the next stretch, or the instruction. */
  readonly outcome: string;
}

export interface Bisection {
  /**
   * What started it: a checkpoint whose memory or caches differed, or a register difference found
   * after the last clean checkpoint, checked for an earlier wrong write the instruction read back.
   */
  readonly trigger: 'checkpoint' | 'register';
  /** The failing checkpoint (or the instruction whose registers differ) of the run that started it, and the clean point before it. */
  readonly checkpointIndex: number;
  readonly lastGoodIndex: number;
  readonly levels: readonly BisectLevel[];
  readonly seconds: number;
  /** The run that located the instruction (its mismatch is the one to report), when one did. */
  readonly located?: LockstepResult;
  /** Why it stopped short of one instruction. */
  readonly note?: string;
}

export interface BisectRunners {
  /** The stretch from `from` on the log channel, with checkpoints every `every`, to `to` (at least). */
  log(from: GoodPoint, to: number, every: number): Promise<LockstepResult>;
  /** The stretch from `from` on the gdb channel for `to - from.index` instructions (and a full checkpoint at its end). */
  gdb(from: GoodPoint, to: number): Promise<LockstepResult>;
  progress(line: string): void;
}

/** The failing checkpoint's index in a run that ended on one. */
function failingCheckpoint(r: LockstepResult): number | undefined {
  if (r.mismatch?.found !== 'checkpoint') return undefined;
  return r.checkpoints.at(-1)?.index;
}

export async function bisectCheckpointMismatch(first: LockstepResult, run: BisectRunners): Promise<Bisection | undefined> {
  const hi0 = failingCheckpoint(first);
  if (hi0 === undefined || !first.lastGood) return undefined;
  const t0 = performance.now();
  const levels: BisectLevel[] = [];
  let lo: GoodPoint = first.lastGood;
  let hi = hi0;
  const done = (extra: { located?: LockstepResult; note?: string }): Bisection => ({
    trigger: 'checkpoint', checkpointIndex: hi0, lastGoodIndex: first.lastGood!.index, levels, seconds: (performance.now() - t0) / 1000, ...extra,
  });
  // without a snapshot only the start point can be reached again (the emulator transplanted from QEMU there)
  if (lo.index !== 0 && !lo.snapshot) return done({ note: `no snapshot of the emulator at #${lo.index.toLocaleString('en-US')} (the run started there from a second transplant) to re-run from` });
  while (hi - lo.index > GDB_STRETCH) {
    const every = fanoutInterval(lo.index, hi);
    run.progress(`boot: bisecting the memory difference: re-running #${lo.index.toLocaleString('en-US')}-#${hi.toLocaleString('en-US')} on the log channel, a checkpoint every ${every.toLocaleString('en-US')}…`);
    const t1 = performance.now();
    const r = await run.log(lo, hi, every);
    const bad = failingCheckpoint(r);
    const seconds = (performance.now() - t1) / 1000;
    if (r.mismatch && bad === undefined) {
      // a register difference before the checkpoint: the first thing that differs
      levels.push({ channel: 'log', from: lo.index, to: hi, every, seconds, outcome: `an instruction differs at #${r.mismatch.index.toLocaleString('en-US')}` });
      return done({ located: r });
    }
    if (bad === undefined || !r.lastGood) {
      levels.push({ channel: 'log', from: lo.index, to: hi, every, seconds, outcome: `no difference (${r.end}${r.error ? `: ${r.error}` : ''})` });
      return done({ note: `the re-run from #${lo.index.toLocaleString('en-US')} found no difference to #${hi.toLocaleString('en-US')} (${r.end}): the first run's difference did not reproduce` });
    }
    levels.push({ channel: 'log', from: lo.index, to: hi, every, seconds, outcome: `#${r.lastGood.index.toLocaleString('en-US')} clean, #${bad.toLocaleString('en-US')} differs` });
    if (r.lastGood.index <= lo.index && bad >= hi) break; // no checkpoint landed inside: go on with the gdb channel
    lo = r.lastGood;
    hi = Math.min(hi, bad);
  }
  run.progress(`boot: bisecting the memory difference: #${lo.index.toLocaleString('en-US')}-#${hi.toLocaleString('en-US')} on the gdb channel, every instruction's writes compared…`);
  const t1 = performance.now();
  const r = await run.gdb(lo, hi);
  const seconds = (performance.now() - t1) / 1000;
  if (r.mismatch && r.mismatch.found === 'step') {
    levels.push({ channel: 'gdb', from: lo.index, to: hi, every: 1, seconds, outcome: `instruction #${r.mismatch.index.toLocaleString('en-US')}` });
    return done({ located: r });
  }
  levels.push({ channel: 'gdb', from: lo.index, to: hi, every: 1, seconds, outcome: r.mismatch ? 'only the checkpoint at its end differs' : `no difference (${r.end})` });
  return done({
    note: r.mismatch
      ? `the gdb channel compared every write from #${lo.index.toLocaleString('en-US')} to #${hi.toLocaleString('en-US')} equal, and only its full checkpoint at the end differs (a difference no single write shows, e.g. accessed/dirty bits, or QEMU's path changed with interrupts masked while stepping)`
      : `the gdb channel found no difference from #${lo.index.toLocaleString('en-US')} to #${hi.toLocaleString('en-US')} (${r.end}; interrupts are masked while it steps, so its path may differ from the log channel's)`,
  });
}

/**
 * A register difference at #M found after the last clean checkpoint #L says nothing of the memory
 * in between: an instruction before M may have written a wrong value that M read back (a late
 * checkpoint, or one not yet due, would have shown it). Re-run L..M with checkpoints FANOUT times
 * closer, then the last short stretch on the gdb channel, which compares every write: an earlier
 * write that differs is the first mismatch; otherwise M stands, with its memory checked.
 */
export async function verifyMemoryBefore(first: LockstepResult, run: BisectRunners): Promise<Bisection | undefined> {
  const m = first.mismatch;
  if (m?.found !== 'step' || !first.lastGood || first.lastGood.index >= m.index) return undefined;
  const t0 = performance.now();
  const levels: BisectLevel[] = [];
  const at = m.index;
  let lo: GoodPoint = first.lastGood;
  const done = (extra: { located?: LockstepResult; note?: string }): Bisection => ({
    trigger: 'register', checkpointIndex: at, lastGoodIndex: first.lastGood!.index, levels, seconds: (performance.now() - t0) / 1000, ...extra,
  });
  if (lo.index !== 0 && !lo.snapshot) return done({ note: `no snapshot of the emulator at #${lo.index.toLocaleString('en-US')} to re-run from` });
  const n = (x: number) => `#${x.toLocaleString('en-US')}`;
  while (at - lo.index > GDB_STRETCH) {
    const every = fanoutInterval(lo.index, at);
    run.progress(`boot: checking memory before the register difference at ${n(at)}: re-running ${n(lo.index)}-${n(at)} on the log channel, a checkpoint every ${every.toLocaleString('en-US')}…`);
    const t1 = performance.now();
    const r = await run.log(lo, at + 1, every);
    const seconds = (performance.now() - t1) / 1000;
    const bad = failingCheckpoint(r);
    if (bad !== undefined && r.lastGood) {
      // memory already differed before M: locate that write like any checkpoint difference
      levels.push({ channel: 'log', from: lo.index, to: at, every, seconds, outcome: `${n(r.lastGood.index)} clean, the checkpoint at ${n(bad)} differs` });
      const inner = await bisectCheckpointMismatch(r, run);
      levels.push(...(inner?.levels ?? []));
      return done({ located: inner?.located ?? r, note: inner?.note });
    }
    if (!r.mismatch || !r.lastGood) {
      levels.push({ channel: 'log', from: lo.index, to: at, every, seconds, outcome: `no difference (${r.end}${r.error ? `: ${r.error}` : ''})` });
      return done({ note: `the re-run from ${n(lo.index)} found no difference to ${n(at)} (${r.end}): the first run's difference did not reproduce` });
    }
    if (r.mismatch.index !== at) {
      levels.push({ channel: 'log', from: lo.index, to: at, every, seconds, outcome: `an instruction differs at ${n(r.mismatch.index)}` });
      return done({ located: r });
    }
    levels.push({ channel: 'log', from: lo.index, to: at, every, seconds, outcome: `${n(r.lastGood.index)} clean, ${n(at)} differs again` });
    if (r.lastGood.index <= lo.index) break;
    lo = r.lastGood;
  }
  if (at - lo.index > GDB_STRETCH) {
    return done({ note: `memory agreed at ${n(lo.index)}, ${(at - lo.index).toLocaleString('en-US')} instructions before; no checkpoint landed closer, so the writes in between were not compared one by one` });
  }
  run.progress(`boot: checking memory before the register difference at ${n(at)}: ${n(lo.index)}-${n(at)} on the gdb channel, every instruction's writes compared…`);
  const t1 = performance.now();
  const r = await run.gdb(lo, at + 1);
  const seconds = (performance.now() - t1) / 1000;
  if (r.mismatch?.found === 'step') {
    levels.push({ channel: 'gdb', from: lo.index, to: at, every: 1, seconds, outcome: r.mismatch.index === at ? `every write equal; ${n(at)} differs` : `instruction ${n(r.mismatch.index)}` });
    return done({ located: r });
  }
  levels.push({ channel: 'gdb', from: lo.index, to: at, every: 1, seconds, outcome: r.mismatch ? 'only the checkpoint at its end differs' : `no difference (${r.end})` });
  return done({
    note: `the gdb channel did not reach the difference at ${n(at)} (${r.mismatch ? 'its checkpoint differs' : r.end}; interrupts are masked while it steps, so its path may differ from the log channel's)`,
  });
}
