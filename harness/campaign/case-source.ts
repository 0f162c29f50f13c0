import fc from 'fast-check';
import { ALL_ROWS } from '../../emulator/isa/table.js';
import { initAssembler } from '../asm/assembler.js';
import { fastProgramArbitrary, type GeneratedProgram } from '../generate/program.js';
import { codeBitsOf, FAMILIES, generatableRows, modeOfFamilies, parseFamilies, type Family } from '../generate/row-catalog.js';
import { assemblePrograms, failedInKeystone, type ProgramToAssemble } from '../generate/assemble-many.js';
import { assembleProgram, encodeRawProgram, type AssemblyOutcome } from '../generate/to-case.js';
import { systemCase } from '../generate/system-family.js';
import { caseSeed, type CaseSource, type GeneratedCase, type WorkerConfig } from './protocol.js';
import { modelForQemuCpu } from '../../emulator/cpu/cpu-model.js';
import type { Feature } from '../../emulator/isa/row.js';

/** The optional features of a QEMU `-cpu` string the emulator models (none for qemu64 or anything it does not model). */
export function cpuFeatures(cpu: string | undefined): ReadonlySet<Feature> {
  return (cpu === undefined ? undefined : modelForQemuCpu(cpu)?.features) ?? new Set();
}

export const FAMILY_NAMES: readonly string[] = FAMILIES;


export function describeRow(id: number): string {
  const r = ALL_ROWS[id];
  if (!r) return `row ${id}`;
  const map = r.map === 'one' ? '' : `${r.vex ? 'VEX.' : ''}${r.map.toUpperCase()} `;
  const op = `${map}${r.opcode.toString(16).padStart(2, '0').toUpperCase()}${r.ext !== undefined ? ` /${r.ext}` : ''}`;
  return `${r.mnemonic} ${r.forms} (${op}${r.prefix !== undefined && r.prefix !== 'none' ? `, ${r.prefix.toString(16).toUpperCase()}` : ''})`;
}

/**
 * Case i of a campaign: a program drawn by fast-check from the per-case seed, assembled with
 * keystone (checked by iced) or encoded raw from the opcode tables. Deterministic in (seed, i).
 * Calls made together (a worker asks for a whole batch at once) are assembled together, with
 * one keystone call per pass (assemble-many.ts); each case is what it would be alone.
 */
export function createCaseSource(config: Pick<WorkerConfig, 'seed' | 'families' | 'length' | 'raw' | 'cpuModel'>): CaseSource {
  const encoder = config.raw ? 'raw' : 'keystone';
  const families: Family[] | undefined = config.families?.length ? parseFamilies(config.families) : undefined;
  // rows that need a CPU feature are generated when the model compared (`--cpu`) has it
  const features = cpuFeatures(config.cpuModel);
  // privileged instructions come from templates with their operands' value classes, not rows drawn at random
  if (families?.includes('system')) {
    const ks = initAssembler(64);
    return async (index) => generatedCase(systemCase(caseSeed(config.seed, index), `${config.seed}-${index}`, features, await ks));
  }
  // the same programs as `programArbitrary` (seeded identically), minus shrinking bookkeeping
  const arbitrary = fastProgramArbitrary({ families, length: [config.length[0], config.length[1]], encoder, ...(features.size ? { features } : {}) });
  // 32- and 16-bit programs: one checked keystone call each, with the assembler of their width
  // (assemble-many's shared passes and encoding cache are for 64-bit code)
  const mode = modeOfFamilies(families);
  if (mode !== 'long64') {
    const ks32 = initAssembler(codeBitsOf(mode));
    return async (index) => {
      const program = fc.sample(arbitrary, { seed: caseSeed(config.seed, index), numRuns: 1 })[0]!;
      return generatedCase(assembleProgram(program, `${config.seed}-${index}`, await ks32));
    };
  }
  let ready: Promise<unknown> | undefined;
  let pending: Array<{ item: ProgramToAssemble; resolve: (g: GeneratedCase) => void; reject: (e: unknown) => void }> = [];
  let flushing: Promise<void> | undefined;
  const take = () => {
    const group = pending;
    pending = [];
    flushing = undefined;
    return group;
  };
  const flush = async () => {
    const group = take();
    try {
      const items = group.map((p) => p.item);
      const outcomes = assemblePrograms(items);
      // A keystone instance that dies in a group leaves no warm spare for the rest of it (the
      // assembly is synchronous): wait for a fresh instance and assemble those programs again.
      for (let attempt = 0; attempt < 3; attempt++) {
        const again = outcomes.flatMap((o, i) => (failedInKeystone(o) ? [i] : []));
        if (again.length === 0) break;
        await (await initAssembler()).ready();
        assemblePrograms(again.map((i) => items[i]!)).forEach((o, k) => (outcomes[again[k]!] = o));
      }
      group.forEach((p, i) => p.resolve(generatedCase(outcomes[i]!)));
    } catch (err) {
      for (const p of group) p.reject(err);
    }
  };
  return (index) => {
    const id = `${config.seed}-${index}`;
    let program: GeneratedProgram;
    try {
      program = fc.sample(arbitrary, { seed: caseSeed(config.seed, index), numRuns: 1 })[0]!;
      if (encoder === 'raw') return Promise.resolve(generatedCase(encodeRawProgram(program, id)));
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<GeneratedCase>((resolve, reject) => {
      pending.push({ item: { program, seed: id }, resolve, reject });
      // after the current synchronous run of calls, so that a batch's calls share the keystone passes
      flushing ??= (ready ??= initAssembler()).then(flush, (err: unknown) => {
        for (const p of take()) p.reject(err);
      });
    });
  };
}

function generatedCase(out: AssemblyOutcome): GeneratedCase {
  if (!out.ok) return { rows: [], rejects: out.rejects };
  return { case: out.case, rows: out.rowsExercised.filter((r): r is number => r !== undefined), rejects: out.rejects };
}
