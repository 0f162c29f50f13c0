import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASE_FORMAT, decodeCase, type Case } from '../corpus/case-schema.js';
import { seedCase } from './samples/seed-case.js';
import { QemuTarget } from '../oracle/qemu/qemu-target.js';
import { LockstepRunner } from './lockstep.js';
import { seedNotesBug } from './testing/corrupting-target.js';

/**
 * QEMU against QEMU: zero divergences expected. A planted fault in the second one (a real
 * QEMU whose R13 loses its upper bits after the add, as in the seed notes) must be found at
 * exactly that instruction.
 */

let a: QemuTarget;
let b: QemuTarget;
beforeAll(async () => {
  [a, b] = await Promise.all([QemuTarget.launch(), QemuTarget.launch()]);
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

function seed(): Case {
  const f = seedCase();
  return decodeCase({
    format: CASE_FORMAT,
    id: 'seed',
    code: Buffer.from(f.code).toString('hex'),
    asm: [...f.asm],
    memory: f.memory.map((m) => ({ addr: `0x${m.addr.toString(16)}`, bytes: Buffer.from(m.bytes).toString('hex') })),
    provenance: { generator: 'hand' },
  });
}

describe('LockstepRunner, QEMU vs QEMU', () => {
  it('finds no divergence in block or step mode', async () => {
    const runner = new LockstepRunner(a, b);
    for (const mode of ['block', 'step'] as const) {
      const r = await runner.run(seed(), { mode });
      expect(r.outcome).toBe('match');
      expect(r.end).toBe('completed');
    }
  });

  it('locates a planted truncation at the add, naming R13 and only R13', async () => {
    const c = seed();
    const addRip = 0x1000an;
    const runner = new LockstepRunner(a, seedNotesBug(b));
    for (const mode of ['block', 'step'] as const) {
      const r = await runner.run(c, { mode });
      expect(r.outcome).toBe('divergence');
      const d = r.divergence!;
      expect(d.index).toBe(1);
      expect(d.rip).toBe(addRip);
      expect(d.instruction?.text).toBe("add r13, [rip+0xffef]");
      expect(d.diffs.map((x) => x.path)).toEqual(['gpr.r13']);
      expect(d.diffs[0]!.expected).toBe(0xefbed000dc0fcbcfn);
      expect(d.diffs[0]!.actual).toBe(0xdc0fcbcfn);
    }
  });
});
