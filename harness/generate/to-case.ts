/**
 * Generated program → replayable `Case`. Assembly mode: one batched `assembleChecked` call; a
 * rejected line is dropped and the rest retried (rejects counted by reason); RIP-relative
 * displacements are then recomputed from the real instruction ends and the program re-checked.
 * Raw mode: bytes come from raw.ts, each encoding checked with iced.
 */
import { CASE_FORMAT, type Case } from '../../corpus/case-schema.js';
import { LAYOUT } from '../../contracts/test-machine.js';
import { assembleCheckedLean, type PlacedInstruction } from '../asm/assembler.js';
import type { KeystoneX86 } from '../asm/keystone.js';
import { formatInstruction, ripDisplacement, type GeneratedInstruction } from './instruction.js';
import type { GeneratedProgram } from './program.js';
import { checkRawEncoding, encodeInstruction } from './raw.js';
import { rowOfEncoding } from './row-of-encoding.js';
import { codeBitsOf } from './row-catalog.js';

export const GENERATOR_NAME = 'difftest-fuzz';
/** 2: scratch memory is an xorshift64 stream per qword (was xorshift32 per byte). */
export const GENERATOR_VERSION = '2';

export interface GenerationReject {
  readonly source: string;
  readonly reason: string;
}

export interface AssembledProgram {
  readonly ok: true;
  readonly case: Case;
  /** Rows the emitted encodings exercise (decoded), one per instruction. */
  readonly rowsExercised: ReadonlyArray<number | undefined>;
  /** Lines or encodings dropped on the way (the case is still usable). */
  readonly rejects: readonly GenerationReject[];
}
export type AssemblyOutcome = AssembledProgram | { readonly ok: false; readonly rejects: readonly GenerationReject[] };

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Where the instruction placed as `a` ends. */
export const endOf = (a: PlacedInstruction): bigint => a.address + BigInt(a.length);

/** The lines again with each RIP displacement computed from where the instruction landed (the others are kept). */
export function ripDisplacements(instructions: readonly GeneratedInstruction[], assembled: readonly PlacedInstruction[], lines: readonly string[]): string[] {
  return instructions.map((g, i) => {
    const disp = ripDisplacement(g, endOf(assembled[i]!));
    return disp === undefined ? lines[i]! : formatInstruction(g, disp);
  });
}

export function buildCase(program: GeneratedProgram, seed: string, code: Uint8Array, asm: string[], mode: 'asm' | 'raw'): Case {
  return {
    format: CASE_FORMAT,
    id: `fuzz-${mode}-${seed}`,
    code,
    asm,
    regs: { ...program.regs },
    rflags: program.rflags,
    ...(program.segmentBases.fs !== 0n ? { fsBase: program.segmentBases.fs } : {}),
    ...(program.segmentBases.gs !== 0n ? { gsBase: program.segmentBases.gs } : {}),
    memory: program.memory.map((m) => ({ addr: m.addr, bytes: m.bytes })),
    compare: program.compare.map((c) => ({ addr: c.addr, length: c.length })),
    // every REP iteration is a step (QEMU and the emulator single-step them one by one)
    maxSteps: Math.max(64, asm.length * 40) + program.repIterations,
    provenance: { generator: GENERATOR_NAME, generatorVersion: GENERATOR_VERSION, seed },
    ...(program.mode !== 'long64' ? { mode: program.mode } : {}),
  };
}

/**
 * Assemble a generated program with keystone (checked by iced) into a Case placed at LAYOUT.code.
 * A protected32 program needs `ks`, the 32-bit assembler (`await initAssembler(32)`), a real16
 * one the 16-bit assembler; real16 code is assembled at IP 0 (its CS base is LAYOUT.code).
 */
export function assembleProgram(program: GeneratedProgram, seed: string, ks?: KeystoneX86): AssemblyOutcome {
  const bits = codeBitsOf(program.mode);
  if (program.mode !== 'long64' && ks?.bits !== bits) throw new Error(`assembleProgram: a ${program.mode} program needs the ${bits}-bit assembler`);
  const long64 = program.mode === 'long64';
  const origin = program.mode === 'real16' ? 0n : LAYOUT.code;
  const rejects: GenerationReject[] = [];
  let instructions = [...program.instructions];
  let lines = [...program.lines];
  for (let attempt = 0; attempt <= program.lines.length + 1; attempt++) {
    if (instructions.length === 0) return { ok: false, rejects };
    const first = assembleCheckedLean(lines, origin, ks);
    if (!first.ok) {
      if (first.line < 0) return { ok: false, rejects: [...rejects, { source: first.source, reason: `${first.kind}: ${first.reason}` }] };
      rejects.push({ source: first.source, reason: `${first.kind}: ${first.reason}` });
      instructions.splice(first.line, 1);
      lines.splice(first.line, 1);
      continue;
    }
    const exact = ripDisplacements(instructions, first.instructions, lines);
    const changed = exact.some((l, i) => l !== lines[i]);
    const final = changed ? assembleCheckedLean(exact, origin, ks) : first;
    if (!final.ok) {
      rejects.push({ source: final.source, reason: `${final.kind}: ${final.reason} (after RIP fix-up)` });
      if (final.line < 0) return { ok: false, rejects };
      instructions = instructions.filter((_, i) => i !== final.line);
      lines = exact.filter((_, i) => i !== final.line);
      continue;
    }
    if (final.instructions.some((a, i) => a.length !== first.instructions[i]!.length)) {
      return { ok: false, rejects: [...rejects, { source: '(program)', reason: 'instruction lengths changed after the RIP fix-up' }] };
    }
    return {
      ok: true,
      case: buildCase(program, seed, final.bytes, exact, 'asm'),
      rowsExercised: final.instructions.map((a) => rowOfEncoding(a.bytes, long64)),
      rejects,
    };
  }
  return { ok: false, rejects };
}

/** Raw mode: encode every instruction from its row, check each with iced, drop the ones that fail. */
export function encodeRawProgram(program: GeneratedProgram, seed: string): AssemblyOutcome {
  const rejects: GenerationReject[] = [];
  const chunks: Uint8Array[] = [];
  const asm: string[] = [];
  const rowsExercised: Array<number | undefined> = [];
  let address = LAYOUT.code;
  for (const g of program.instructions) {
    const bytes = encodeInstruction(g, address, true);
    const check = checkRawEncoding(g.row, bytes, address);
    if (!check.ok) {
      rejects.push({ source: `${g.row.mnemonic} ${g.row.forms} [${hex(bytes)}]`, reason: check.reason });
      continue;
    }
    chunks.push(bytes);
    asm.push(check.text);
    rowsExercised.push(rowOfEncoding(bytes));
    address += BigInt(bytes.length);
  }
  if (chunks.length === 0) return { ok: false, rejects };
  const code = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) { code.set(c, at); at += c.length; }
  return { ok: true, case: buildCase(program, seed, code, asm, 'raw'), rowsExercised, rejects };
}
