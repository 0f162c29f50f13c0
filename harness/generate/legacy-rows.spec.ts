import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ALL_ROWS } from '../../emulator/isa/table.js';
import { initAssembler } from '../asm/assembler.js';
import { decodeAll } from '../asm/decode.js';
import type { KeystoneX86 } from '../asm/keystone.js';
import { skipReason32 } from './legacy-rows.js';
import { fastProgramArbitrary } from './program.js';
import { generatableRows, parseFamilies } from './row-catalog.js';
import { assembleProgram } from './to-case.js';

let ks: KeystoneX86;
beforeAll(async () => {
  ks = await initAssembler(32);
  await ks.ready();
});

/** keystone's choice where a row has a twin: SAL is spelled SHL (D0–D3 /4, C0/C1 /4). */
const KEYSTONE_TWIN: Record<string, string> = { SAL: 'SHL' };

describe('protected32 family', () => {
  const family = generatableRows(['protected32'], 'keystone');

  it('holds the legacy-only rows the emulator runs and no 64-bit-only row', () => {
    const names = new Set(family.map((r) => r.mnemonic));
    for (const m of ['PUSHA', 'POPA', 'INTO', 'INC', 'DEC', 'PUSH', 'DAA', 'DAS', 'AAA', 'AAS', 'AAM', 'AAD', 'BOUND', 'SALC', 'LAR', 'LSL', 'VERR', 'VERW']) expect(names.has(m), m).toBe(true);
    expect(family.filter((r) => r.opcode >= 0x40 && r.opcode <= 0x4f && r.map === 'one')).toHaveLength(16);
    expect(family.some((r) => r.only64 || r.mnemonic === 'MOVSXD')).toBe(false);
    for (const row of ALL_ROWS) if (!family.includes(row)) expect(skipReason32(row) ?? 'keystone cannot spell it').not.toBe('');
  });

  it('cannot be mixed with 64-bit families, and has no raw encoder', () => {
    expect(() => parseFamilies(['protected32', 'alu'])).toThrow(/cannot be mixed/);
    expect(generatableRows(['protected32'], 'raw')).toHaveLength(0);
  });

  it('every instruction assembles in 32-bit mode to the row it names, and every row of the family is exercised', () => {
    const programs = fc.sample(fastProgramArbitrary({ families: ['protected32'], length: [10, 10] }), { seed: 32, numRuns: 500 });
    const hit = new Set<number>();
    let checked = 0;
    programs.forEach((p, i) => {
      expect(p.mode).toBe('protected32');
      // 32-bit registers only: EAX–EDI below 2^32, R8–R15 zero
      Object.entries(p.regs).forEach(([name, v], num) => expect(num < 8 ? v >> 32n : v, name).toBe(0n));
      const out = assembleProgram(p, String(i), ks);
      expect(out.ok).toBe(true);
      if (!out.ok) return;
      expect(out.case.mode).toBe('protected32');
      // iced in 32-bit mode reads the same instructions back (INC/DEC 40–4F are not REX prefixes)
      expect(decodeAll(out.case.code, 0x10000n, 32).map((d) => d.bytes.length).reduce((a, b) => a + b, 0)).toBe(out.case.code.length);
      if (out.rejects.length > 0) return; // rows and instructions no longer line up
      out.rowsExercised.forEach((id, k) => {
        const aimed = ALL_ROWS[p.rows[k]!]!;
        const got = id === undefined ? undefined : ALL_ROWS[id]!;
        hit.add(id ?? -1);
        checked++;
        // the row itself, or keystone's shorter form of the same mnemonic (ADD r/m8, imm8 as 04 ib with AL)
        expect(got?.mnemonic, `${out.case.asm![k]} aimed at ${aimed.mnemonic} ${aimed.forms}`).toBe(KEYSTONE_TWIN[aimed.mnemonic] ?? aimed.mnemonic);
      });
    });
    expect(checked).toBeGreaterThan(4000);
    const missed = family.filter((r) => !hit.has(r.id) && !(r.mnemonic in KEYSTONE_TWIN));
    expect(missed.map((r) => `${r.mnemonic} ${r.forms}`)).toEqual([]);
  });
});
