import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelForQemuCpu } from '../../emulator/cpu/cpu-model.js';
import { ALL_ROWS } from '../../emulator/isa/table.js';
import { initAssembler } from '../asm/assembler.js';
import { decodeAll } from '../asm/decode.js';
import { LAYOUT } from '../../contracts/test-machine.js';
import { programArbitrary } from './program.js';
import { generatableRows } from './row-catalog.js';
import { assembleProgram, encodeRawProgram } from './to-case.js';

/**
 * Rows that need a CPU feature are generated when the model compared has it (`--cpu
 * qemu64,+bmi1`: BMI1's VEX rows and TZCNT), never otherwise; keystone's and the raw encoder's
 * encodings of them decode (iced-x86) as the row they were drawn from, with the undefined-flag
 * mask iced gives.
 */
beforeAll(async () => {
  await initAssembler();
});

const BMI1 = modelForQemuCpu('qemu64,+bmi1')!.features;
const BMI1_ROWS = ['ANDN', 'BEXTR', 'BLSI', 'BLSMSK', 'BLSR', 'TZCNT'];

describe('feature rows under --cpu', () => {
  it('are generatable with the feature and not without it; RDRAND/RDTSCP and the XSAVE rows never', () => {
    const all = modelForQemuCpu('qemu64,+popcnt,+movbe,+bmi1,+abm,+rdtscp,+rdrand,+xsave,+xsaveopt')!.features;
    const added = (f: ReadonlySet<never> | typeof BMI1) => generatableRows(undefined, 'keystone', f).filter((r) => r.feature !== undefined).map((r) => r.mnemonic);
    expect(added(new Set())).toEqual([]);
    expect([...new Set(added(BMI1))].sort()).toEqual(BMI1_ROWS);
    expect([...new Set(added(all))].sort()).toEqual(['LZCNT', 'MOVBE', 'POPCNT', ...BMI1_ROWS].sort());
  });

  for (const encoder of ['keystone', 'raw'] as const) {
    it(`${encoder}: every BMI1 row is generated, decodes as itself and has iced's undefined flags`, () => {
      const want = new Set(ALL_ROWS.filter((r) => BMI1_ROWS.includes(r.mnemonic) && r.feature === 'bmi1').map((r) => r.id));
      const hit = new Set<number>();
      const problems: string[] = [];
      const programs = fc.sample(programArbitrary({ length: [10, 10], encoder, families: ['bit'], features: BMI1 }), { seed: 14, numRuns: 150 });
      programs.forEach((p, i) => {
        const r = encoder === 'raw' ? encodeRawProgram(p, String(i)) : assembleProgram(p, String(i));
        if (!r.ok) return problems.push(`program ${i}: ${JSON.stringify(r).slice(0, 200)}`);
        const decoded = decodeAll(r.case.code, LAYOUT.code);
        r.rowsExercised.forEach((id, k) => {
          if (id === undefined || !want.has(id)) return;
          hit.add(id);
          const row = ALL_ROWS[id]!;
          const ins = decoded[k]!;
          if (ins.mnemonic !== row.mnemonic.toLowerCase()) problems.push(`${row.mnemonic} decoded as ${ins.text}`);
          if (BigInt(row.flagsUndefined) !== BigInt(ins.flags.undefined)) problems.push(`${row.mnemonic}: undefined flags 0x${row.flagsUndefined.toString(16)}, iced 0x${ins.flags.undefined.toString(16)}`);
        });
      });
      expect(problems.slice(0, 5)).toEqual([]);
      expect([...want].filter((id) => !hit.has(id)).map((id) => ALL_ROWS[id]!.mnemonic)).toEqual([]);
    }, 60_000);
  }
});
