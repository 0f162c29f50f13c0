import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { systemMemory32 } from '../../contracts/test-machine-32.js';
import { EmulatorTarget } from '../../emulator/emulator-target.js';
import { initAssembler } from '../asm/assembler.js';
import type { KeystoneX86 } from '../asm/keystone.js';
import { LockstepRunner } from '../lockstep.js';
import { fastProgramArbitrary } from './program.js';
import { assembleProgram } from './to-case.js';

let ks: KeystoneX86;
beforeAll(async () => {
  ks = await initAssembler(32);
  await ks.ready();
});

/**
 * The 32-bit machine has no paging, so nothing faults where the 64-bit machine's unmapped and
 * read-only pages would: a generated access outside the case's pages would silently read memory
 * neither side initialised or overwrite the IDT/GDT that later cases use (the lockstep writes
 * them once per mode). The emulator, run as both sides, is the memory-access witness here.
 */
describe('protected32 programs stay inside the case pages', () => {
  it('leave the system pages (IDT, GDT, stops, TSS) and the memory above the data page untouched', async () => {
    const emu = new EmulatorTarget();
    const runner = new LockstepRunner(emu, new EmulatorTarget());
    const system = systemMemory32();
    const programs = fc.sample(fastProgramArbitrary({ families: ['protected32'], length: [5, 20] }), { seed: 320, numRuns: 1000 });
    for (const [i, p] of programs.entries()) {
      const out = assembleProgram(p, String(i), ks);
      if (!out.ok) continue;
      await runner.run(out.case, { mode: 'block' });
      for (const r of system) {
        const now = await emu.readMemory(r.addr, r.bytes.length, 'phys');
        const at = now.findIndex((b, k) => b !== r.bytes[k]);
        expect(at, `case ${i} (${out.case.asm!.join('; ')}) wrote 0x${(r.addr + BigInt(at)).toString(16)}`).toBe(-1);
      }
    }
    const above = await emu.readMemory(0x30000n, 0xd0000, 'phys');
    expect(above.findIndex((b) => b !== 0)).toBe(-1);
  }, 60_000);
});
