import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ALL_ROWS } from '../../emulator/isa/table.js';
import { initAssembler } from '../asm/assembler.js';
import { forEachInstruction } from '../asm/decode.js';
import { LAYOUT } from '../../contracts/test-machine.js';
import { programArbitrary, type GeneratedProgram } from './program.js';
import { familyOf, generatableRows, isGeneratable, keystoneCanExpress, type Family, type IsaRow } from './row-catalog.js';
import { rowOfEncoding } from './row-of-encoding.js';
import { SIMD_INIT_AT } from './simd-state.js';
import { X87_INIT_AT } from './x87-state.js';
import { assembleProgram, encodeRawProgram } from './to-case.js';

beforeAll(async () => {
  await initAssembler();
});

/**
 * Every row of the sse and x87 families is generated, and each generated instruction assembles
 * (keystone, checked by iced) or encodes (raw) to the row it names: the row decoded back from
 * its bytes by the emulator's own table is the one the generator aimed at.
 */
function exercise(family: Family, encoder: 'keystone' | 'raw', runs: number) {
  const named = new Map<number, number>();
  const wrong: string[] = [];
  const rejects: string[] = [];
  const programs = fc.sample(programArbitrary({ families: [family], length: [10, 10], encoder }), { seed: 14, numRuns: runs });
  programs.forEach((p: GeneratedProgram, i) => {
    const r = encoder === 'raw' ? encodeRawProgram(p, String(i)) : assembleProgram(p, String(i));
    rejects.push(...r.rejects.map((j) => `${j.source}: ${j.reason}`));
    if (!r.ok || r.rejects.length > 0) return;
    // nothing dropped: instruction k of the case is instruction k of the program
    r.rowsExercised.forEach((decoded, k) => {
      const aimed = p.rows[k]!;
      if (decoded === aimed) named.set(aimed, (named.get(aimed) ?? 0) + 1);
      // keystone spells some instructions only one way: a register-to-register store form (MOVAPS
      // Wps,Vps) as the load form, MOVD r/m64 as MOVQ, FADD ST(0),ST(0) of DC C0 as D8 C0. The
      // checked assembler verified the instruction (mnemonic, operands); the aimed row is then
      // reached by other draws (its memory form, its other operands)
      else if (encoder === 'keystone' && decoded !== undefined && sameInstruction(ALL_ROWS[aimed]!, ALL_ROWS[decoded]!)) return;
      else wrong.push(`${ALL_ROWS[aimed]!.mnemonic} ${ALL_ROWS[aimed]!.forms} → ${decoded === undefined ? 'no row' : `${ALL_ROWS[decoded]!.mnemonic} ${ALL_ROWS[decoded]!.forms}`} (${r.case.asm?.[k]})`);
    });
  });
  return { named, wrong, rejects };
}

/** Rows keystone may pick for each other's text: same mnemonic (MOVD r64 is spelled movq). */
function sameInstruction(a: IsaRow, b: IsaRow): boolean {
  const name = (r: IsaRow) => (r.mnemonic === 'MOVD' ? 'MOVQ' : r.mnemonic);
  return name(a) === name(b);
}

describe.each([
  ['sse', 274, 274, 700],
  ['x87', 133, 145, 500],
] as const)('the %s family', (family, keystoneRows, rawRows, runs) => {
  it('holds the rows it should (and skips the others with a reason)', () => {
    const rows = ALL_ROWS.filter((r) => familyOf(r) === family);
    expect(generatableRows([family], 'keystone').length).toBe(keystoneRows);
    expect(generatableRows([family], 'raw').length).toBe(rawRows);
    // what is not generated: LDMXCSR and FXRSTOR (state from random memory); in x87 nothing
    expect(rows.filter((r) => !isGeneratable(r)).map((r) => r.mnemonic).sort()).toEqual(family === 'sse' ? ['FXRSTOR', 'LDMXCSR'] : []);
    expect(generatableRows([family], 'raw').filter((r) => !keystoneCanExpress(r)).every((r) => r.handler === 'x87')).toBe(true);
  });

  for (const encoder of ['keystone', 'raw'] as const) {
    it(`${encoder}: every row is generated and every instruction is the row it names`, () => {
      const { named, wrong, rejects } = exercise(family, encoder, runs);
      expect(rejects).toEqual([]);
      expect(wrong).toEqual([]);
      const missing = generatableRows([family], encoder).filter((r) => !named.has(r.id)).map((r) => `${r.mnemonic} ${r.forms}`);
      expect(missing).toEqual([]);
    }, 60_000);
  }

  it('starts each program with a prologue that loads the state it reads, from a block the case initialises', () => {
    const programs = fc.sample(programArbitrary({ families: [family], length: [3, 3], encoder: 'raw' }), { seed: 3, numRuns: 200 });
    const block = family === 'sse' ? SIMD_INIT_AT : X87_INIT_AT;
    let loads = 0;
    for (const p of programs) {
      const r = encodeRawProgram(p, 'p');
      expect(r.ok).toBe(true);
      if (!r.ok) continue;
      expect(r.case.memory.some((m) => m.addr === block)).toBe(true);
      const texts: string[] = [];
      forEachInstruction(r.case.code, LAYOUT.code, 64, (ins) => {
        texts.push(ins.toString());
        // RIP-relative loads of the prologue land in the init block
        if (ins.isIpRelMemoryOperand && ins.ipRelMemoryAddress >= block && ins.ipRelMemoryAddress < block + 0x200n) loads++;
      });
      if (family === 'x87') expect(texts[0]).toBe('fninit');
      // the registers the program names are loaded before it: the first instruction naming xmmN is a load
      if (family === 'sse') {
        for (const n of new Set(texts.flatMap((t) => [...t.matchAll(/\bxmm(\d+)/g)].map((m) => m[1]!)))) {
          const first = texts.find((t) => new RegExp(`\\bxmm${n}\\b`).test(t))!;
          expect(first, texts.join('; ')).toMatch(new RegExp(`^movdqu xmm${n},\\[`));
        }
      }
    }
    expect(loads).toBeGreaterThan(200);
  });
});

describe('the sse family\'s rows', () => {
  it('keeps the integer families\' default: no SIMD or x87 row without --family', () => {
    for (const r of generatableRows()) expect(['sse', 'x87']).not.toContain(familyOf(r));
    expect(generatableRows([...new Set(ALL_ROWS.map(familyOf))]).length).toBe(generatableRows().length + 274 + 145);
  });
  it('rows whose operand must be 16-byte aligned come aligned but one time in 32 (misaligned: #GP(0))', () => {
    const programs = fc.sample(programArbitrary({ families: ['sse'], length: [10, 10], encoder: 'raw' }), { seed: 9, numRuns: 1500 });
    let aligned = 0;
    let misaligned = 0;
    for (const p of programs) {
      for (const g of p.instructions) {
        const mem = g.operands.find((o) => o.kind === 'mem');
        if (!g.row.align16 || mem?.kind !== 'mem') continue;
        const ea = mem.mem.address + (mem.mem.segment === 'fs' ? p.segmentBases.fs : mem.mem.segment === 'gs' ? p.segmentBases.gs : 0n);
        if (ea % 16n === 0n) aligned++;
        else misaligned++;
      }
    }
    expect(aligned + misaligned).toBeGreaterThan(1500);
    expect(misaligned / (aligned + misaligned)).toBeGreaterThan(0.01);
    expect(misaligned / (aligned + misaligned)).toBeLessThan(0.08);
  });
  it('names every raw row by the encoding table too (rowOfEncoding of a MOVDQU prologue load)', () => {
    expect(ALL_ROWS[rowOfEncoding(Uint8Array.of(0xf3, 0x0f, 0x6f, 0x05, 0, 0, 0, 0))!]!.mnemonic).toBe('MOVDQU');
  });
});
