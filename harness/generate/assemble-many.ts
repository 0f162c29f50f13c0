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
import { LAYOUT } from '../../contracts/test-machine.js';
import { assembleCheckedLean, type PlacedInstruction } from '../asm/assembler.js';
import type { GeneratedProgram } from './program.js';
import { rowOfEncoding } from './row-of-encoding.js';
import { assembleProgram, buildCase, endOf, ripDisplacements, type AssemblyOutcome } from './to-case.js';
import { ripDisplacement, sourceInstruction } from './instruction.js';
import type { SrcInstruction } from '../asm/operands.js';

/** What ripDisplacements' line k parses to: a RIP-relative one with the displacement from where the instruction landed. */
function ripSource(program: GeneratedProgram, placed: readonly PlacedInstruction[], k: number): SrcInstruction | undefined {
  const g = program.instructions[k]!;
  const disp = ripDisplacement(g, endOf(placed[k]!));
  return disp === undefined ? program.sourceOf(k) : sourceInstruction(g, disp);
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
 * Checked encodings of lines seen before, by text. A generated line's bytes depend on its text
 * alone (no branches, no absolute operands; a RIP-relative operand is written as its
 * displacement), and so does iced's verdict on them, so a line that assembled and passed the
 * check once is not sent to keystone again: after 20,000 cases 45% of the lines were repeats.
 * RIP-relative lines are not kept (their displacement rarely repeats). The bytes live in one
 * arena; when it fills, everything is forgotten and the cache starts over. 256 KiB (about 50,000
 * lines): a map four times that size cost more in lookups (cache misses) than its extra hits saved.
 */
class EncodingCache {
  private readonly arena = new Uint8Array(1 << 18);
  private used = 0;
  /** offset * 16 + length */
  private readonly where = new Map<string, number>();

  /** RIP-relative lines are never kept (nor looked up). */
  private static keeps(line: string): boolean {
    return !line.includes('rip');
  }

  get(line: string): Uint8Array | undefined {
    if (!EncodingCache.keeps(line)) return undefined;
    const w = this.where.get(line);
    return w === undefined ? undefined : this.arena.subarray(w >>> 4, (w >>> 4) + (w & 15));
  }

  put(line: string, bytes: Uint8Array): void {
    if (bytes.length > 15 || !EncodingCache.keeps(line)) return;
    if (this.used + bytes.length > this.arena.length) {
      this.where.clear();
      this.used = 0;
    }
    this.arena.set(bytes, this.used);
    this.where.set(line, this.used * 16 + bytes.length);
    this.used += bytes.length;
  }
}

const encodings = new EncodingCache();

/**
 * Assemble the programs' `lines` joined at LAYOUT.code (`sourceOf(p, k)`: what line k of program
 * p parses to, where known); per program, its bytes and instructions rebased to LAYOUT.code.
 * Lines in the encoding cache are not assembled again.
 */
function joinedPass(linesPerProgram: ReadonlyArray<readonly string[]>, sourceOf: (p: number, k: number) => SrcInstruction | undefined): JoinedPass {
  const firstLine: number[] = [];
  const cached: Array<Uint8Array | undefined> = [];
  // the lines keystone gets: those not cached, with what they parse to and where they belong
  const fresh: string[] = [];
  const freshParsed: Array<SrcInstruction | undefined> = [];
  const freshLine: number[] = [];
  linesPerProgram.forEach((lines, p) => {
    firstLine.push(cached.length);
    for (let k = 0; k < lines.length; k++) {
      const bytes = encodings.get(lines[k]!);
      if (bytes === undefined) {
        freshLine.push(cached.length);
        fresh.push(lines[k]!);
        freshParsed.push(sourceOf(p, k));
      }
      cached.push(bytes);
    }
  });
  const programOfLine = (line: number): number => {
    let p = 0;
    while (p + 1 < firstLine.length && firstLine[p + 1]! <= line) p++;
    return p;
  };
  // a refused text is halved rather than assembled line by line (hundreds of keystone calls)
  const r = fresh.length
    ? assembleCheckedLean(fresh, LAYOUT.code, undefined, { locateKeystoneErrors: false, parsed: freshParsed })
    : { ok: true as const, instructions: [] };
  if (!r.ok) return { ok: false, failed: r.line >= 0 ? programOfLine(freshLine[r.line]!) : undefined };
  // every line's bytes in order: cached, or the next fresh instruction (one per line once checked)
  const pieces: Uint8Array[] = [];
  let j = 0;
  for (let line = 0; line < cached.length; line++) {
    let bytes = cached[line];
    if (bytes === undefined) {
      const ins = r.instructions[j++];
      if (!ins || freshLine[ins.line] !== line) return { ok: false, failed: programOfLine(line) };
      bytes = ins.bytes;
    }
    pieces.push(bytes);
  }
  // each program's code and instructions, placed at LAYOUT.code, copied out of the pieces before
  // the puts below (a put that fills the arena starts it over, under the cached pieces)
  const slices: Array<{ readonly code: Uint8Array; readonly placed: PlacedInstruction[] }> = [];
  for (let p = 0; p < linesPerProgram.length; p++) {
    const from = firstLine[p]!;
    const to = p + 1 < firstLine.length ? firstLine[p + 1]! : pieces.length;
    let size = 0;
    for (let line = from; line < to; line++) size += pieces[line]!.length;
    const code = new Uint8Array(size);
    const placed: PlacedInstruction[] = [];
    for (let line = from, at = 0; line < to; line++) {
      const bytes = pieces[line]!;
      code.set(bytes, at);
      placed.push({ line: line - from, address: LAYOUT.code + BigInt(at), length: bytes.length, bytes: code.subarray(at, at + bytes.length) });
      at += bytes.length;
    }
    slices.push({ code, placed });
  }
  for (const ins of r.instructions) encodings.put(fresh[ins.line]!, ins.bytes);
  return { ok: true, slices };
}

function assembleAlone(ids: readonly number[], items: readonly ProgramToAssemble[], out: AssemblyOutcome[]): void {
  for (const i of ids) out[i] = assembleProgram(items[i]!.program, items[i]!.seed);
}

function assembleGroup(ids: readonly number[], items: readonly ProgramToAssemble[], out: AssemblyOutcome[]): void {
  if (ids.length <= 1) return assembleAlone(ids, items, out);
  const first = joinedPass(
    ids.map((i) => items[i]!.program.lines),
    (p, k) => items[ids[p]!]!.program.sourceOf(k),
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
        (q, k) => ripSource(items[ids[changed[q]!]!]!.program, first.slices[changed[q]!]!.placed, k),
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
