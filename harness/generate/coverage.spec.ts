import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelForQemuCpu } from '../../emulator/cpu/cpu-model.js';
import { ALL_ROWS } from '../../emulator/isa/table.js';
import { initAssembler } from '../asm/assembler.js';
import { programArbitrary } from './program.js';
import { generatableRows, isGeneratable, skipReason } from './row-catalog.js';
import { assembleProgram, encodeRawProgram } from './to-case.js';

beforeAll(async () => {
  await initAssembler();
});

describe('row coverage', () => {
  it('every skipped row says why', () => {
    for (const row of ALL_ROWS) expect(isGeneratable(row) || (skipReason(row) ?? '').length > 0).toBe(true);
  });

  it('~2000 programs of 10 instructions hit (nearly) every generatable row', () => {
    for (const encoder of ['keystone', 'raw'] as const) {
      const generatable = generatableRows(undefined, encoder);
      const hit = new Set<number>();
      const programs = fc.sample(programArbitrary({ length: [10, 10], encoder }), { seed: 2024, numRuns: encoder === 'raw' ? 2000 : 1000 });
      programs.forEach((p, i) => {
        const r = encoder === 'raw' ? encodeRawProgram(p, String(i)) : assembleProgram(p, String(i));
        if (r.ok) for (const id of r.rowsExercised) if (id !== undefined) hit.add(id);
      });
      const covered = generatable.filter((r) => hit.has(r.id)).length;
      console.log(`${encoder}: rows total ${ALL_ROWS.length}, generatable ${generatable.length}, exercised ${covered} (${((100 * covered) / generatable.length).toFixed(1)}%)`);
      expect(covered / generatable.length).toBeGreaterThan(encoder === 'raw' ? 0.99 : 0.95);
    }
  });

  it('generates CLAC/STAC only for a model with SMAP (--cpu qemu64,+smap), and SYSENTER/SYSEXIT never', () => {
    const smap = modelForQemuCpu('qemu64,+smap')!.features;
    const names = (rows: ReturnType<typeof generatableRows>) => rows.map((r) => r.mnemonic);
    for (const encoder of ['keystone', 'raw'] as const) {
      expect(names(generatableRows(undefined, encoder))).not.toContain('CLAC');
      expect(names(generatableRows(undefined, encoder, smap))).toEqual(expect.arrayContaining(['CLAC', 'STAC']));
      expect(names(generatableRows(undefined, encoder, smap)).filter((m) => /^SYSE|FSBASE|GSBASE|RDPID|INVPCID/.test(m))).toEqual([]);
      const hit = new Set<string>();
      for (const [i, p] of fc.sample(programArbitrary({ length: [10, 10], encoder, features: smap }), { seed: 7, numRuns: 300 }).entries()) {
        const r = encoder === 'raw' ? encodeRawProgram(p, String(i)) : assembleProgram(p, String(i));
        expect(r.ok).toBe(true);
        if (r.ok) for (const id of r.rowsExercised) if (id !== undefined) hit.add(ALL_ROWS[id]!.mnemonic);
      }
      expect([...hit]).toEqual(expect.arrayContaining(['CLAC', 'STAC']));
    }
  });
});
