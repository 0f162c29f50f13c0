import { describe, expect, it } from 'vitest';
import { readCaseFile } from '../corpus/case-schema.js';
import type { LockstepSession } from './session.js';
import { runOnSessions, type PoolOutcome } from './session-pool.js';

const seedCase = await readCaseFile(new URL('../corpus/regressions/seed-add-r13-rip.json', import.meta.url).pathname);

describe('runOnSessions', () => {
  it('runs items on N sessions at once, each session taking the next free item', async () => {
    const sessions = new Set<LockstepSession>();
    let inFlight = 0;
    let most = 0;
    const outcomes = new Map<number, PoolOutcome<string>>();
    await runOnSessions(
      [0, 1, 2, 3, 4],
      { dut: { kind: 'emulator', inject: [] }, workers: 2 },
      async (session, item) => {
        sessions.add(session);
        most = Math.max(most, ++inFlight);
        try {
          return `${item}:${(await session.runner.run(seedCase, { mode: 'block' })).outcome}`;
        } finally {
          inFlight--;
        }
      },
      (i, o) => outcomes.set(i, o),
    );
    expect(most).toBe(2);
    expect(sessions.size).toBe(2);
    expect([...outcomes.keys()].sort()).toEqual([0, 1, 2, 3, 4]);
    for (const [i, o] of outcomes) expect(o).toEqual({ ok: true, value: `${i}:match` });
  });

  it('reports an item whose run throws and replaces its session; the other items still run', async () => {
    const sessions: LockstepSession[] = [];
    const outcomes = new Map<number, PoolOutcome<string>>();
    await runOnSessions(
      ['a', 'boom', 'c'],
      { dut: { kind: 'emulator', inject: [] }, workers: 1 },
      async (session, item) => {
        sessions.push(session);
        if (item === 'boom') throw new Error('the target went away');
        return (await session.runner.run(seedCase)).outcome;
      },
      (i, o) => outcomes.set(i, o),
    );
    expect(outcomes.get(0)).toEqual({ ok: true, value: 'match' });
    expect(outcomes.get(1)).toMatchObject({ ok: false, error: { message: 'the target went away' } });
    expect(outcomes.get(2)).toEqual({ ok: true, value: 'match' });
    expect(sessions[0]).toBe(sessions[1]);
    expect(sessions[2]).not.toBe(sessions[1]); // a fresh session after the failure
  });

  it('ends with the error when no session can be opened', async () => {
    const seen: number[] = [];
    const err = await runOnSessions(
      [1, 2],
      { dut: { kind: 'gdb', endpoint: { path: '/nonexistent/difftest-pool.sock' } }, workers: 2 },
      async () => 'never',
      (i) => seen.push(i),
    ).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/cannot connect to gdb stub at unix:\/nonexistent\/difftest-pool\.sock/);
    expect(seen).toEqual([]);
  });
});
