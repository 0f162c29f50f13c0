import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ALL_ROWS } from '../../emulator/isa/table.js';
import { EmulatorTarget } from '../../emulator/emulator-target.js';
import { initAssembler } from '../asm/assembler.js';
import { decodeAll } from '../asm/decode.js';
import type { KeystoneX86 } from '../asm/keystone.js';
import { LockstepRunner } from '../lockstep.js';
import { skipReason16 } from './legacy-rows.js';
import { fastProgramArbitrary } from './program.js';
import { generatableRows, parseFamilies } from './row-catalog.js';
import { assembleProgram } from './to-case.js';

let ks: KeystoneX86;
beforeAll(async () => {
  ks = await initAssembler(16);
  await ks.ready();
});

/** keystone's choice where a row has a twin: SAL is spelled SHL (D0–D3 /4, C0/C1 /4). */
const KEYSTONE_TWIN: Record<string, string> = { SAL: 'SHL' };

describe('real16 family', () => {
  const family = generatableRows(['real16'], 'keystone');

  it('holds the segment loads into ES/FS/GS, INT n, INT3, JMPF/CALLF, and no load of DS or SS', () => {
    const forms = new Set(family.map((r) => `${r.mnemonic} ${r.forms}`.trim()));
    for (const f of ['POP ES', 'POP FS', 'POP GS', 'LES Gv,M', 'LFS Gv,M', 'LGS Gv,M', 'MOV Sw,Ew', 'INT Ib', 'INT3', 'PUSHA', 'POPA', 'JMPF Iv,Iw', 'CALLF Iv,Iw']) expect(forms.has(f), f).toBe(true);
    for (const f of ['POP DS', 'POP SS', 'LDS Gv,M', 'LSS Gv,M']) expect(forms.has(f), f).toBe(false);
    expect(family.some((r) => r.only64)).toBe(false);
    for (const row of ALL_ROWS) if (!family.includes(row)) expect(skipReason16(row) ?? 'keystone cannot spell it').not.toBe('');
    expect(() => parseFamilies(['real16', 'protected32'])).toThrow(/cannot be mixed/);
  });

  it('every instruction assembles in 16-bit mode to the row it names, and every row of the family is exercised', () => {
    const programs = fc.sample(fastProgramArbitrary({ families: ['real16'], length: [10, 10] }), { seed: 16, numRuns: 500 });
    const hit = new Set<number>();
    let checked = 0;
    programs.forEach((p, i) => {
      expect(p.mode).toBe('real16');
      const out = assembleProgram(p, String(i), ks);
      expect(out.ok).toBe(true);
      if (!out.ok) return;
      expect(out.case.mode).toBe('real16');
      expect(decodeAll(out.case.code, 0n, 16).map((d) => d.bytes.length).reduce((a, b) => a + b, 0)).toBe(out.case.code.length);
      if (out.rejects.length > 0) return;
      out.rowsExercised.forEach((id, k) => {
        const aimed = ALL_ROWS[p.rows[k]!]!;
        const got = id === undefined ? undefined : ALL_ROWS[id]!;
        hit.add(id ?? -1);
        checked++;
        expect(got?.mnemonic, `${out.case.asm![k]} aimed at ${aimed.mnemonic} ${aimed.forms}`).toBe(KEYSTONE_TWIN[aimed.mnemonic] ?? aimed.mnemonic);
      });
    });
    expect(checked).toBeGreaterThan(4000);
    const missed = family.filter((r) => !hit.has(r.id) && !(r.mnemonic in KEYSTONE_TWIN));
    expect(missed.map((r) => `${r.mnemonic} ${r.forms}`)).toEqual([]);
  });

  /**
   * Real mode has neither paging nor (in QEMU 7.2) segment limits: an access through a segment
   * the program loaded, or an offset that wrapped, reads memory the case never initialised, which
   * QEMU holds from earlier cases and the emulator as zeros: a false divergence. Two emulators,
   * one with every byte outside the case pages and the real-mode tables set to 0xa5, witness it.
   */
  it('reads and writes memory the case initialises only (two emulators, one with the rest poisoned)', async () => {
    const clean = new EmulatorTarget();
    const poisoned = new EmulatorTarget();
    const runner = new LockstepRunner(clean, poisoned);
    const poison = async () => {
      for (const [from, to] of [[0x2000, 0x6000], [0x7100, 0x8000], [0x30000, 0x110000]] as const) await poisoned.writeMemory(BigInt(from), new Uint8Array(to - from).fill(0xa5), 'phys');
    };
    const programs = fc.sample(fastProgramArbitrary({ families: ['real16'], length: [5, 20] }), { seed: 1616, numRuns: 400 });
    let ran = 0;
    for (const [i, p] of programs.entries()) {
      const out = assembleProgram(p, String(i), ks);
      if (!out.ok) continue;
      if (ran === 0) await runner.run(out.case, { mode: 'block' }); // loads the real-mode tables
      await poison();
      const r = await runner.run(out.case, { mode: 'block' });
      expect(r.outcome, `case ${i}: ${out.case.asm!.join('; ')}`).toBe('match');
      ran++;
    }
    expect(ran).toBeGreaterThan(350);
  }, 120_000);
});
