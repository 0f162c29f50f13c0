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

describe('LockstepRunner, QEMU vs a planted emulator bug', () => {
  it('runs a diverging case the same way every time (a store to a wrong address is scrubbed)', async () => {
    const { createEmulatorDut } = await import('./emulator-dut.js');
    const { divergenceSignature } = await import('./signature.js');
    // rip-rel-from-start: the emulator adds at [data - 7], a byte no case region covers, so
    // without a scrub each run starts from what the previous one left there
    const dut = createEmulatorDut(['rip-rel-from-start']);
    const c = decodeCase({
      format: CASE_FORMAT,
      id: 'wrong-address',
      code: '8005f9ff00007f', // add byte ptr [rip + 0xfff9], 0x7f: data+0 (0x20000) from 0x10000
      memory: [{ addr: '0x20000', bytes: '00'.repeat(16) }],
      compare: [{ addr: '0x20000', length: 16 }],
      provenance: { generator: 'hand' },
    });
    try {
      const runner = new LockstepRunner(a, dut);
      const signatures: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await runner.run(c, { mode: 'block' });
        expect(r.outcome).toBe('divergence');
        signatures.push(divergenceSignature(r.divergence!));
      }
      expect(new Set(signatures).size).toBe(1);
    } finally {
      await dut.close();
    }
  });
});
