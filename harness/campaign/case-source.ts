import fc from 'fast-check';
import { ALL_ROWS } from '../../emulator/isa/table.js';
import { initAssembler } from '../asm/assembler.js';
import { fastProgramArbitrary } from '../generate/program.js';
import { FAMILIES, generatableRows, parseFamilies, type Family } from '../generate/row-catalog.js';
import { assembleProgram, encodeRawProgram } from '../generate/to-case.js';
import { caseSeed, type CaseSource, type WorkerConfig } from './protocol.js';

export const FAMILY_NAMES: readonly string[] = FAMILIES;

/** Rows any encoder can generate (the coverage denominator). */
export const GENERATABLE_ROW_COUNT = generatableRows(undefined, 'raw').length;

export function describeRow(id: number): string {
  const r = ALL_ROWS[id];
  if (!r) return `row ${id}`;
  const map = r.map === 'one' ? '' : `${r.map.toUpperCase()} `;
  const op = `${map}${r.opcode.toString(16).padStart(2, '0').toUpperCase()}${r.ext !== undefined ? ` /${r.ext}` : ''}`;
  return `${r.mnemonic} ${r.forms} (${op}${r.prefix !== undefined && r.prefix !== 'none' ? `, ${r.prefix.toString(16).toUpperCase()}` : ''})`;
}

/**
 * Case i of a campaign: a program drawn by fast-check from the per-case seed, assembled with
 * keystone (checked by iced) or encoded raw from the opcode tables. Deterministic in (seed, i).
 */
export function createCaseSource(config: Pick<WorkerConfig, 'seed' | 'families' | 'length' | 'raw'>): CaseSource {
  const encoder = config.raw ? 'raw' : 'keystone';
  const families: Family[] | undefined = config.families?.length ? parseFamilies(config.families) : undefined;
  // the same programs as `programArbitrary` (seeded identically), minus shrinking bookkeeping
  const arbitrary = fastProgramArbitrary({ families, length: [config.length[0], config.length[1]], encoder });
  let ready: Promise<unknown> | undefined;
  return async (index) => {
    if (encoder === 'keystone') await (ready ??= initAssembler());
    const [program] = fc.sample(arbitrary, { seed: caseSeed(config.seed, index), numRuns: 1 });
    const id = `${config.seed}-${index}`;
    const out = encoder === 'raw' ? encodeRawProgram(program!, id) : assembleProgram(program!, id);
    if (!out.ok) return { rows: [], rejects: out.rejects };
    return { case: out.case, rows: out.rowsExercised.filter((r): r is number => r !== undefined), rejects: out.rejects };
  };
}
