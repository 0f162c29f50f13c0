/**
 * Many generated programs assembled with one keystone call per pass. Keystone spends ~30 µs of
 * its ~40 µs per call setting up (measured: 125 µs per 10-instruction program assembled alone,
 * 33 µs per program when 96 are joined in one call), so a batch of cases is assembled together:
 * the programs' lines are joined, assembled and checked by iced as one text, and the bytes are
 * cut back into programs. The generated encodings are position-independent (RIP-relative
 * operands are written as displacements; no branches or absolute operands are generated in
 * keystone mode), so each program's bytes are what it would get alone at LAYOUT.code, which
 * assemble-many.spec.ts checks against `assembleProgram`.
 *
 * Any program the joined passes cannot settle cleanly (a line keystone refuses or mis-encodes,
 * a RIP fix-up that changes lengths) goes through `assembleProgram` on its own, so every
 * outcome, rejects included, is the one `assembleProgram` gives.
 */
import { LAYOUT } from '../../target/test-machine.js';
import { assembleCheckedLean, type PlacedInstruction } from '../asm/assembler.js';
import type { GeneratedProgram } from './program.js';
import { rowOfEncoding } from './row-of-encoding.js';
import { assembleProgram, buildCase, endOf, ripDisplacements, type AssemblyOutcome } from './to-case.js';
import { ripDisplacement, sourceInstruction } from './instruction.js';
import type { SrcInstruction } from '../asm/operands.js';

/** What ripDisplacements' lines parse to: RIP-relative ones with the displacement from where the instruction landed. */
function ripSources(program: GeneratedProgram, placed: readonly PlacedInstruction[]): Array<SrcInstruction | undefined> {
  return program.instructions.map((g, k) => {
    const disp = ripDisplacement(g, endOf(placed[k]!));
    return disp === undefined ? program.sourceOf(k) : sourceInstruction(g, disp);
  });
}

export interface ProgramToAssemble {
  readonly program: GeneratedProgram;
  /** The case's seed string (its id), as for `assembleProgram`. */
  readonly seed: string;
}

/**
 * Text per keystone call. keystone-wasm 1.0.4 traps ("memory access out of bounds", and its
 * instance is dead) on inputs past about 64 KiB (measured: 300 ten-line programs, 61 KB, assemble;
 * 400, 81 KB, trap), so groups are cut well below that.
 */
export const MAX_JOINED_CHARS = 32 * 1024;

/** `assembleProgram` for each item, in order, with one keystone call per pass over each group of them. */
export function assemblePrograms(items: readonly ProgramToAssemble[]): AssemblyOutcome[] {
  const out = new Array<AssemblyOutcome>(items.length);
  let group: number[] = [];
  let chars = 0;
  for (let i = 0; i < items.length; i++) {
    const lines = items[i]!.program.lines;
    if (lines.length === 0) {
      out[i] = assembleProgram(items[i]!.program, items[i]!.seed);
      continue;
    }
    const size = lines.reduce((n, l) => n + l.length + 1, 0);
    if (group.length > 0 && chars + size > MAX_JOINED_CHARS) {
      assembleGroup(group, items, out);
      group = [];
      chars = 0;
    }
    group.push(i);
    chars += size;
  }
  assembleGroup(group, items, out);
  return out;
}

/** Whether an outcome failed because keystone itself broke (its instance died), not because of the program. */
export function failedInKeystone(o: AssemblyOutcome): boolean {
  return !o.ok && o.rejects.some((r) => r.reason.startsWith('internal:'));
}

type JoinedPass =
  | { readonly ok: true; readonly slices: Array<{ readonly code: Uint8Array; readonly placed: PlacedInstruction[] }> }
  /** `failed`: the position (in the group) of the program a failing line belongs to; undefined when no line was named. */
  | { readonly ok: false; readonly failed: number | undefined };

/**
 * Assemble the programs' `lines` joined at LAYOUT.code (with what each parses to, where known);
 * per program, its bytes and instructions rebased to LAYOUT.code.
 */
function joinedPass(linesPerProgram: ReadonlyArray<readonly string[]>, parsedPerProgram: ReadonlyArray<ReadonlyArray<SrcInstruction | undefined>>): JoinedPass {
  const all: string[] = [];
  const parsed: Array<SrcInstruction | undefined> = [];
  const firstLine: number[] = [];
  linesPerProgram.forEach((lines, p) => {
    firstLine.push(all.length);
    for (let k = 0; k < lines.length; k++) {
      all.push(lines[k]!);
      parsed.push(parsedPerProgram[p]![k]);
    }
  });
  const programOfLine = (line: number): number => {
    let p = 0;
    while (p + 1 < firstLine.length && firstLine[p + 1]! <= line) p++;
    return p;
  };
  // a refused text is halved rather than assembled line by line (hundreds of keystone calls)
  const r = assembleCheckedLean(all, LAYOUT.code, undefined, { locateKeystoneErrors: false, parsed });
  if (!r.ok) return { ok: false, failed: r.line >= 0 ? programOfLine(r.line) : undefined };
  const slices = linesPerProgram.map(() => ({ start: -1, end: -1, placed: [] as PlacedInstruction[] }));
  let p = 0; // instructions come in line order
  for (const ins of r.instructions) {
    while (p + 1 < firstLine.length && firstLine[p + 1]! <= ins.line) p++;
    const s = slices[p]!;
    const offset = Number(ins.address - LAYOUT.code);
    if (s.start < 0) s.start = offset;
    s.end = offset + ins.length;
    s.placed.push(ins);
  }
  return {
    ok: true,
    slices: slices.map((s, p) => {
      const base = LAYOUT.code + BigInt(s.start);
      return {
        code: r.bytes.slice(s.start, s.end),
        placed: s.placed.map((ins) => ({ ...ins, line: ins.line - firstLine[p]!, address: ins.address - base + LAYOUT.code })),
      };
    }),
  };
}

function assembleAlone(ids: readonly number[], items: readonly ProgramToAssemble[], out: AssemblyOutcome[]): void {
  for (const i of ids) out[i] = assembleProgram(items[i]!.program, items[i]!.seed);
}

function assembleGroup(ids: readonly number[], items: readonly ProgramToAssemble[], out: AssemblyOutcome[]): void {
  if (ids.length <= 1) return assembleAlone(ids, items, out);
  const first = joinedPass(
    ids.map((i) => items[i]!.program.lines),
    ids.map((i) => items[i]!.program.lines.map((_, k) => items[i]!.program.sourceOf(k))),
  );
  if (!first.ok) {
    if (first.failed === undefined) {
      // keystone refused the text without naming a line: halve until the culprit is alone
      const half = ids.length >> 1;
      assembleGroup(ids.slice(0, half), items, out);
      assembleGroup(ids.slice(half), items, out);
      return;
    }
    // the programs before the failing one assembled cleanly; the failing one goes alone
    assembleGroup(ids.slice(0, first.failed), items, out);
    assembleAlone([ids[first.failed]!], items, out);
    assembleGroup(ids.slice(first.failed + 1), items, out);
    return;
  }
  // a program whose lines did not each become one instruction is left to the single path
  const odd = ids.flatMap((i, p) => (first.slices[p]!.placed.length !== items[i]!.program.instructions.length ? [p] : []));
  if (odd.length) {
    assembleAlone(odd.map((p) => ids[p]!), items, out);
    return assembleGroup(ids.filter((_, p) => !odd.includes(p)), items, out);
  }
  // RIP displacements were estimated from raw.ts's lengths: recompute them from keystone's
  const exact = ids.map((i, p) => ripDisplacements(items[i]!.program.instructions, first.slices[p]!.placed, items[i]!.program.lines));
  const changed = ids.flatMap((_, p) => (exact[p]!.some((l, k) => l !== items[ids[p]!]!.program.lines[k]) ? [p] : []));
  const second = changed.length
    ? joinedPass(
        changed.map((p) => exact[p]!),
        changed.map((p) => ripSources(items[ids[p]!]!.program, first.slices[p]!.placed)),
      )
    : undefined;
  if (second && !second.ok) assembleAlone(changed.map((p) => ids[p]!), items, out);
  for (let p = 0; p < ids.length; p++) {
    const i = ids[p]!;
    const at = changed.indexOf(p);
    if (at >= 0 && !second!.ok) continue;
    const final = at >= 0 && second!.ok ? second!.slices[at]! : first.slices[p]!;
    if (final.placed.some((a, k) => a.length !== first.slices[p]!.placed[k]!.length)) {
      assembleAlone([i], items, out); // the lengths moved under the fix-up: let the single path say so
      continue;
    }
    out[i] = {
      ok: true,
      case: buildCase(items[i]!.program, items[i]!.seed, final.code, exact[p]!, 'asm'),
      rowsExercised: final.placed.map((a) => rowOfEncoding(a.bytes)),
      rejects: [],
    };
  }
}
