import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MUTANT_NAMES } from '../emulator/mutants.js';
import { QemuTarget } from '../oracle/qemu/qemu-target.js';
import { LAYOUT } from '../contracts/test-machine.js';
import { decodeAll } from './asm/decode.js';
import { huntMutant } from './planted.js';

// Each planted bug must be found by a bounded fixed-seed campaign against real QEMU and
// minimized to at most 3 instructions.
let qemu: QemuTarget;
beforeAll(async () => {
  qemu = await QemuTarget.launch();
});
afterAll(async () => {
  await qemu?.close();
});

describe('planted bugs are found and minimized', () => {
  it('rip-rel-from-start shrinks to one RIP-relative add/mov, like the seed case', async () => {
    // the minimizer starts from the divergent instruction alone (isolated from the reference's
    // state before it) when that diverges the same way; without that step, some seeds' cases
    // kept an earlier instruction whose removal changed what the RIP-relative operand read
    const r = await huntMutant(qemu, 'rip-rel-from-start', { seed: 12, maxCases: 300, accept: (s) => /^(ADD|MOV) .* rip-rel ::/.test(s) });
    expect(r.foundAt).toBeDefined();
    const code = decodeAll(r.minimized!.case.code, LAYOUT.code);
    expect(code).toHaveLength(1);
    expect(code[0]!.text).toMatch(/^(lock )?(add|mov) .*\[rip[+-]0x[0-9a-f]+\]/);
    expect(r.confirmed).toBe(true);
  }, 120_000);

  for (const mutant of MUTANT_NAMES.filter((m) => m !== 'rip-rel-from-start')) {
    it(`${mutant} is found and minimized to <= 3 instructions`, async () => {
      const r = await huntMutant(qemu, mutant, { seed: 11, maxCases: 400 });
      expect(r.foundAt, `no divergence within 400 cases for ${mutant}`).toBeDefined();
      expect(r.minimized, 'the divergence did not reproduce after minimization').toBeDefined();
      expect(r.minimized!.toInstructions).toBeLessThanOrEqual(3);
      expect(r.confirmed, 'the minimized case still diverges without the mutant').toBe(true);
    }, 120_000);
  }
});
