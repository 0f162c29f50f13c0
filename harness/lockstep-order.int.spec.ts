import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASE_FORMAT, type Case, decodeCase } from '../corpus/case-schema.js';
import { LAYOUT } from '../contracts/test-machine.js';
import { nasmAssemble } from './asm/nasm-ref.js';
import { LockstepSession } from './session.js';

/**
 * A verdict depends on the case alone, never on what ran before. `budget` copies 16 KiB with
 * `rep movsb` under a 64-step budget: a gdb stub's continue knows only a time budget, so in
 * block mode QEMU copied everything while the emulator stopped after 64 iterations, and the
 * bytes QEMU wrote beyond the compared region stayed for the next case. `reader` reads one of
 * them: it agreed when run first and diverged after `budget`.
 */
const hex = (v: bigint) => `0x${v.toString(16)}`;
const src = LAYOUT.data;
const dst = LAYOUT.data + 0x8000n;

function handCase(id: string, lines: string[], extra: Partial<Parameters<typeof decodeCase>[0] & object> = {}): Case {
  return decodeCase({
    format: CASE_FORMAT,
    id,
    code: Buffer.from(nasmAssemble(lines, LAYOUT.code)).toString('hex'),
    asm: lines,
    provenance: { generator: 'hand' },
    ...extra,
  });
}

const budget = handCase('rep-movsb-budget', [`mov rsi, ${hex(src)}`, `mov rdi, ${hex(dst)}`, 'mov ecx, 0x4000', 'cld', 'rep movsb'], {
  memory: [{ addr: hex(src), bytes: 'ab'.repeat(0x4000) }],
  compare: [{ addr: hex(src), length: 0x100 }],
  maxSteps: 64,
});
const reader = handCase('reads-beyond', [`mov rax, [${hex(dst + 0x2000n)}]`], { compare: [{ addr: hex(src), length: 0x10 }] });

let session: LockstepSession;
beforeAll(async () => {
  session = await LockstepSession.open({ kind: 'emulator', inject: [] });
}, 60_000);
afterAll(async () => {
  await session?.close();
});

describe('lockstep verdicts do not depend on case order', () => {
  it('a case runs the same before and after a rep movsb budget case, in block and step mode', async () => {
    for (const mode of ['block', 'step'] as const) {
      const alone = await session.runner.run(reader, { mode });
      const budgetFirst = await session.runner.run(budget, { mode });
      const after = await session.runner.run(reader, { mode });
      const budgetAgain = await session.runner.run(budget, { mode });
      expect(alone.outcome).toBe('match');
      expect(after.outcome).toBe(alone.outcome);
      expect(after.divergence?.diffs ?? []).toEqual([]);
      expect(budgetAgain.outcome).toBe(budgetFirst.outcome);
    }
  });

  it('a budget case is decided by retired instructions on both sides (REP iterations count)', async () => {
    const r = await session.runner.run(budget, { mode: 'block' });
    expect(r.outcome).toBe('match');
    expect(r.end).toBe('budget');
    expect(r.steps).toBe(64);
  });
});
