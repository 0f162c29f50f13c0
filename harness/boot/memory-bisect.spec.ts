import { describe, expect, it } from 'vitest';
import type { GoodPoint } from './checkpoint.js';
import type { LockstepResult, Mismatch } from './gdb-lockstep.js';
import { bisectCheckpointMismatch, verifyMemoryBefore, type BisectRunners } from './memory-bisect.js';

/**
 * A boot in miniature, to drive the bisection's re-runs: instruction `wrongWrite` stores a wrong
 * value (only a checkpoint or the gdb channel's write comparison sees it), and `readBack` (if any)
 * reads it, so that registers differ there. The log channel's checkpoints land `late` instructions
 * after they are asked for, as QEMU's stop does.
 */
interface MiniBoot {
  readonly wrongWrite: number;
  readonly readBack?: number;
  readonly late: number;
}

function result(end: LockstepResult['end'], compared: number, checkpoints: number[], lastGood: GoodPoint, mismatch?: { index: number; found: 'step' | 'checkpoint' }): LockstepResult {
  return {
    end, compared, lastGood,
    checkpoints: checkpoints.map((index) => ({ index, ms: 1, pagesDiffering: 0, systemDiffs: [] })),
    mismatch: mismatch && ({ index: mismatch.index, found: mismatch.found } as unknown as Mismatch),
  } as unknown as LockstepResult;
}

function runners(boot: MiniBoot, calls: string[]): BisectRunners {
  const good = (index: number): GoodPoint => ({ index, icount: 1000 + index, snapshot: {} as GoodPoint['snapshot'] });
  return {
    async log(from, to, every) {
      calls.push(`log ${from.index}-${to}/${every}`);
      const cps: number[] = [];
      let lastGood = from;
      for (let at = from.index + every + boot.late; ; at += every) {
        const cp = Math.min(at, to); // the run's end is compared in full too
        // a register difference before the checkpoint lands ends the run first
        if (boot.readBack !== undefined && boot.readBack >= from.index && boot.readBack < cp) {
          return result('mismatch', boot.readBack, cps, lastGood, { index: boot.readBack, found: 'step' });
        }
        cps.push(cp);
        if (boot.wrongWrite < cp) return result('mismatch', cp, cps, lastGood, { index: cp - 1, found: 'checkpoint' });
        lastGood = good(cp);
        if (cp >= to) return result('budget', to, cps, lastGood);
      }
    },
    async gdb(from, to) {
      calls.push(`gdb ${from.index}-${to}`);
      const first = [boot.wrongWrite, boot.readBack ?? Infinity].filter((i) => i >= from.index && i < to).sort((a, b) => a - b)[0];
      return first === undefined ? result('budget', to, [to], from) : result('mismatch', first, [], from, { index: first, found: 'step' });
    },
    progress: () => undefined,
  };
}

const start: GoodPoint = { index: 0, icount: 1000 };
const at = (index: number): GoodPoint => ({ index, icount: 1000 + index, snapshot: {} as GoodPoint['snapshot'] });

describe('verifyMemoryBefore: a register difference after the last clean checkpoint', () => {
  it('finds the earlier wrong write that a late read turned into the register difference', async () => {
    const boot = { wrongWrite: 19_218, readBack: 24_202, late: 300 };
    const calls: string[] = [];
    const first = result('mismatch', boot.readBack, [10_000], at(10_000), { index: boot.readBack, found: 'step' });
    const b = (await verifyMemoryBefore(first, runners(boot, calls)))!;
    expect(b).toMatchObject({ trigger: 'register', checkpointIndex: 24_202, lastGoodIndex: 10_000 });
    expect(b.located?.mismatch?.index).toBe(19_218);
    // log 10,000-24,202 with checkpoints every 888: one lands after the write and differs; the
    // stretch from the clean one before it goes to the gdb channel
    expect(calls[0]).toBe('log 10000-24203/888');
    expect(calls.at(-1)).toMatch(/^gdb (\d+)-(\d+)$/);
    const [, lo, hi] = /^gdb (\d+)-(\d+)$/.exec(calls.at(-1)!)!.map(Number);
    expect(lo).toBeLessThanOrEqual(19_218);
    expect(hi).toBeGreaterThan(19_218);
  });

  it('confirms the register difference when every write before it agrees', async () => {
    const boot = { wrongWrite: Infinity, readBack: 5_000, late: 50 };
    const calls: string[] = [];
    const first = result('mismatch', 5_000, [], start, { index: 5_000, found: 'step' });
    const b = (await verifyMemoryBefore(first, runners(boot, calls)))!;
    expect(calls).toEqual(['gdb 0-5001']);
    expect(b.located?.mismatch?.index).toBe(5_000);
    expect(b.levels.map((l) => l.outcome)).toEqual(['every write equal; #5,000 differs']);
  });

  it('narrows a long stretch on the log channel before the gdb channel takes it', async () => {
    const boot = { wrongWrite: Infinity, readBack: 90_000, late: 100 };
    const calls: string[] = [];
    const first = result('mismatch', 90_000, [], start, { index: 90_000, found: 'step' });
    const b = (await verifyMemoryBefore(first, runners(boot, calls)))!;
    expect(calls[0]).toBe('log 0-90001/5625');
    expect(calls.at(-1)).toMatch(/^gdb 8\d{4}-90001$/);
    expect(b.located?.mismatch?.index).toBe(90_000);
  });

  it('does nothing where there is nothing to check: a checkpoint difference, or a clean point at the instruction', async () => {
    const calls: string[] = [];
    const r = runners({ wrongWrite: 5, late: 0 }, calls);
    expect(await verifyMemoryBefore(result('mismatch', 10, [10], start, { index: 9, found: 'checkpoint' }), r)).toBeUndefined();
    expect(await verifyMemoryBefore(result('mismatch', 10, [10], at(10), { index: 10, found: 'step' }), r)).toBeUndefined();
    expect(calls).toEqual([]);
  });

  it('says why it cannot check from a point without an emulator snapshot', async () => {
    const first = result('mismatch', 500, [], { index: 100, icount: 1100 }, { index: 500, found: 'step' });
    const b = (await verifyMemoryBefore(first, runners({ wrongWrite: 1, late: 0 }, [])))!;
    expect(b.located).toBeUndefined();
    expect(b.note).toMatch(/no snapshot of the emulator at #100/);
  });
});

describe('bisectCheckpointMismatch', () => {
  it('locates the wrong write between the last clean checkpoint and the one that differs', async () => {
    const boot = { wrongWrite: 123_456, late: 200 };
    const calls: string[] = [];
    const first = result('mismatch', 200_000, [100_000, 200_000], at(100_000), { index: 199_999, found: 'checkpoint' });
    const b = (await bisectCheckpointMismatch(first, runners(boot, calls)))!;
    expect(b).toMatchObject({ trigger: 'checkpoint', checkpointIndex: 200_000, lastGoodIndex: 100_000 });
    expect(b.located?.mismatch?.index).toBe(123_456);
    expect(calls[0]).toBe('log 100000-200000/6250');
    expect(calls.at(-1)).toMatch(/^gdb /);
  });
});
