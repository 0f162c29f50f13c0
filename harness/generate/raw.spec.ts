import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LAYOUT } from '../../contracts/test-machine.js';
import { fastProgramArbitrary, type ProgramOptions } from './program.js';
import { encodedLength, encodeInstruction } from './raw.js';

describe('encodedLength', () => {
  it('is the length encodeInstruction gives (keystone mode, no raw extras), on generated instructions of every mode and encoder', () => {
    const options: ProgramOptions[] = [
      { length: [10, 10], encoder: 'keystone' },
      { length: [10, 10], encoder: 'raw' },
      { length: [10, 10], encoder: 'keystone', families: ['sse', 'x87'] },
      { length: [10, 10], encoder: 'keystone', features: new Set(['movbe', 'bmi1', 'lzcnt', 'popcnt'] as const) },
      { length: [10, 10], encoder: 'keystone', families: ['protected32'] },
      { length: [10, 10], encoder: 'keystone', families: ['real16'] },
    ];
    let checked = 0;
    for (const o of options) {
      for (const program of fc.sample(fastProgramArbitrary(o), { seed: 17, numRuns: 150 })) {
        for (const g of program.instructions) {
          expect(encodedLength(g), `${g.row.mnemonic} ${g.row.forms}`).toBe(encodeInstruction(g, LAYOUT.code, false).length);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(8000);
  });
});
