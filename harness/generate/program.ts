/**
 * Whole random programs: a sequence of instructions drawn from the generatable rows (optionally of
 * some families), the initial registers (edge-biased; address registers computed so every memory
 * access lands in the scratch window), RFLAGS, the stack pointer and the scratch memory contents.
 */
import type fc from 'fast-check';
import { G, type Gen } from './gen.js';
import { LAYOUT } from '../../contracts/test-machine.js';
import { gprsByEncoding, type GprName } from '../../contracts/machine-state.js';
import { formatInstruction, REAL_STACK_BASE, resolveInstruction, ripDisplacement, ripOperand, RSP, sourceInstruction, STACK_WINDOW, type GeneratedInstruction, type ProgramState } from './instruction.js';
import { REAL16_BASES } from '../../contracts/test-machine-16.js';
import type { SrcInstruction } from '../asm/operands.js';
import { instructionChoiceGen, type InstructionChoice } from './operands.js';
import { encodedLength, implicitWrites } from './raw.js';
import { REGISTER_VALUE_GEN, RFLAGS_GEN } from './register-values.js';
import { generatableRows, isSimdRow, isX87Row, modeOfFamilies, type Encoder, type Family, type GenerationMode } from './row-catalog.js';
import { SIMD_INIT_AT, SIMD_INIT_GEN, simdInitBytes, simdPrologue, type SimdInit } from './simd-state.js';
import { X87_INIT_AT, X87_INIT_GEN, x87InitBytes, x87Prologue, type X87Init } from './x87-state.js';
import type { ScratchWindow } from './memory-operand.js';
import type { Feature } from '../../emulator/isa/row.js';
import { xorshift64Next } from './xorshift64.js';

export interface MemoryImage {
  readonly addr: bigint;
  readonly bytes: Uint8Array;
}

export interface GeneratedProgram {
  /** Intel syntax for keystone, one instruction per line (RIP displacements estimated; to-case.ts fixes them). */
  readonly lines: string[];
  /**
   * What the checked assembler's parser makes of lines[i], known from the instruction itself
   * (undefined once lines[i] no longer holds the generator's text): generated lines are not parsed.
   */
  sourceOf(i: number): SrcInstruction | undefined;
  readonly instructions: readonly GeneratedInstruction[];
  /** Opcode-table row id per instruction (the row the generator aimed at). */
  readonly rows: number[];
  readonly regs: Record<GprName, bigint>;
  readonly rflags: bigint;
  /** FS/GS bases the memory operands assume (0 until the case format can carry them). */
  readonly segmentBases: { readonly fs: bigint; readonly gs: bigint };
  /** Scratch contents (random) plus the top stack page (zeros). */
  readonly memory: readonly MemoryImage[];
  /** Regions to compare after the run: every byte the program may touch. */
  readonly compare: ReadonlyArray<{ readonly addr: bigint; readonly length: number }>;
  /** Where explicit memory operands land. */
  readonly window: ScratchWindow;
  /** Instructions dropped because no valid addressing was left for them. */
  readonly dropped: number;
  /** REP iterations the program may run at most (each one is a step). */
  readonly repIterations: number;
  /** The CPU mode the program is for (protected32: `bits 32` code on the 32-bit test machine; real16: `bits 16` code in real mode). */
  readonly mode: GenerationMode;
}

export interface ProgramOptions {
  readonly families?: readonly Family[];
  /** Instruction count range [min, max]. */
  readonly length: readonly [number, number];
  /** Which encoder the program is for (default keystone): raw mode adds rows and forms keystone cannot spell. */
  readonly encoder?: Encoder;
  /** CPU features of the model compared (`--cpu`): rows that need one are generated only with it. */
  readonly features?: ReadonlySet<Feature>;
}

export { STACK_WINDOW };

export function stackWindow(rsp: bigint): { addr: bigint; length: number } {
  return { addr: rsp - STACK_WINDOW.below, length: STACK_WINDOW.length };
}

type FillPattern = 'random' | 'zeros' | 'ones' | 'sign-bytes';

/**
 * Scratch contents from a seed, so a program does not carry 4 KiB of choices: an xorshift64
 * stream with one step per qword of the aligned qwords covering [lo, hi), so that the batch
 * runner can regenerate it in the guest (harness/batch/batch-image.ts), cut to [lo, hi).
 * 'sign-bytes' maps each byte of the stream to 0x80 or 0x7f by its low bit.
 */
function fill(lo: number, hi: number, seed: number, pattern: FillPattern): Uint8Array {
  if (pattern === 'zeros') return new Uint8Array(hi - lo);
  if (pattern === 'ones') return new Uint8Array(hi - lo).fill(0xff);
  // written straight into [lo, hi): qword k of the stream lands at start + 8k - lo (the first and
  // last may be cut)
  const start = lo - (lo & 7);
  const out = new Uint8Array(hi - lo);
  const view = new DataView(out.buffer);
  const state = Uint32Array.of(seed | 1, Math.imul(seed, 0x9e3779b9) >>> 0);
  const signBytes = pattern === 'sign-bytes';
  for (let at = start - lo; at < out.length; at += 8) {
    xorshift64Next(state);
    // 'sign-bytes' on whole words: 0x7f plus each byte's low bit is 0x7f or 0x80, never a carry
    const low = signBytes ? (0x7f7f7f7f + (state[0]! & 0x01010101)) >>> 0 : state[0]!;
    const high = signBytes ? (0x7f7f7f7f + (state[1]! & 0x01010101)) >>> 0 : state[1]!;
    if (at >= 0 && at + 8 <= out.length) {
      view.setUint32(at, low, true);
      view.setUint32(at + 4, high, true);
      continue;
    }
    for (let j = 0; j < 8; j++) {
      const i = at + j;
      if (i >= 0 && i < out.length) out[i] = (j < 4 ? low >>> (8 * j) : high >>> (8 * (j - 4))) & 0xff;
    }
  }
  return out;
}

const windowGen: Gen<ScratchWindow> = G
  .record({
    length: G.oneof(G.constantFrom(256, 1024, 4096), G.integer({ min: 16, max: 256 }).map((n) => n * 16)),
    placement: G.constantFrom('start', 'page-crossing', 'end', 'anywhere', 'anywhere'),
    fraction: G.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ length, placement, fraction }) => {
    const room = LAYOUT.dataSize - length;
    const offset = placement === 'start' ? 0 : placement === 'end' ? room
      : placement === 'page-crossing' ? 0x1000 - length / 2 : Math.floor((fraction * room) / 16) * 16;
    return { start: LAYOUT.data + BigInt(offset - (offset % 16)), length };
  });

interface ProgramDraw {
  readonly choices: InstructionChoice[];
  readonly values: bigint[];
  readonly rflags: bigint;
  readonly window: ScratchWindow;
  readonly rsp: bigint;
  readonly fillSeed: number;
  readonly fillPattern: FillPattern;
  readonly fsBase: bigint;
  readonly gsBase: bigint;
  /** Initial XMM/MMX/MXCSR values (drawn only when the rows include SIMD ones). */
  readonly simd: SimdInit | undefined;
  /** Initial x87 stack and FCW (drawn only when the rows include x87 ones). */
  readonly x87: X87Init | undefined;
}

/** Resolve the drawn choices in order into a program (deterministic). */
export function buildProgram(d: ProgramDraw, encoder: Encoder = 'keystone', mode: GenerationMode = 'long64'): GeneratedProgram {
  const legacy = mode !== 'long64';
  const real = mode === 'real16';
  const state: ProgramState = {
    // real mode: SP is an offset in SS (contracts/test-machine-16.ts)
    pins: new Map([[RSP, real ? d.rsp - REAL_STACK_BASE : d.rsp]]), written: new Set(), drifted: new Set(),
    // 32-bit code: FS/GS are the flat data segment (base 0); [disp32] is absolute there
    segmentBases: legacy && !real ? { fs: 0n, gs: 0n } : { fs: d.fsBase, gs: d.gsBase }, window: d.window, absoluteAllowed: encoder === 'raw' || legacy,
    stringPointers: new Map(), stringRegion: undefined, repIterations: 0, framePointer: false, legacy,
    ...(real ? { real: { ds: REAL16_BASES.ds, es: REAL16_BASES.es, fs: d.fsBase, gs: d.gsBase, loaded: new Set() } } : {}),
  };
  const instructions: GeneratedInstruction[] = [];
  let dropped = 0;
  for (const c of d.choices) {
    const g = resolveInstruction(c, state, implicitWrites(c.row));
    if (g) instructions.push(g);
    else dropped++;
  }
  // x87 programs start from FNINIT and a loaded stack (x87-state.ts), SIMD programs by loading
  // the registers they name and MXCSR (simd-state.ts); MMX loads come last, as they tag the stack
  const x87 = d.x87 ? x87Prologue(instructions, d.x87, isX87Row) : [];
  const simd = d.simd ? simdPrologue(instructions, d.simd, isSimdRow) : [];
  instructions.unshift(...x87, ...simd);
  // initial values: the pinned ones, else the drawn ones
  // 32-bit code: EAX–EDI hold 32-bit values (every address was computed modulo 2^32); R8–R15 do not exist (0, as QEMU shows them)
  const regs = legacy
    ? gprsByEncoding((num) => (num < 8 ? BigInt.asUintN(32, state.pins.get(num) ?? d.values[num]!) : 0n))
    : gprsByEncoding((num) => state.pins.get(num) ?? d.values[num]!);
  // the window and whatever string instructions can reach (up to a page around it, instruction.ts):
  // not clipped at the data page, since a string op running down from the window's start touches
  // the (mapped, writable) top of the code page, and those bytes must be initialised and compared too
  const region = state.stringRegion;
  const lo = Math.min(Number(d.window.start), region ? Number(region.lo) : Infinity);
  const hi = Math.max(Number(d.window.start) + d.window.length, region ? Number(region.hi) : 0);
  const scratch = { addr: BigInt(lo), bytes: fill(lo, hi, d.fillSeed, d.fillPattern) };
  return withKeystoneText(instructions, {
    rows: instructions.map((g) => g.rowId),
    regs,
    rflags: d.rflags,
    segmentBases: state.segmentBases,
    memory: [
      scratch,
      { addr: stackWindow(d.rsp).addr, bytes: new Uint8Array(STACK_WINDOW.length) },
      ...(simd.length > 0 ? [{ addr: SIMD_INIT_AT, bytes: simdInitBytes(d.simd!) }] : []),
      ...(x87.length > 0 ? [{ addr: X87_INIT_AT, bytes: x87InitBytes(d.x87!) }] : []),
    ],
    compare: [{ addr: scratch.addr, length: scratch.bytes.length }, stackWindow(d.rsp)],
    window: d.window,
    dropped,
    repIterations: state.repIterations,
    mode,
  });
}

/**
 * The program with its keystone text made on first use (raw mode never needs it). A function of
 * its own so that the text's closures hold only the instructions, not the draw and resolution
 * state buildProgram's scope holds (which a batch's pending programs would keep alive).
 */
function withKeystoneText(instructions: GeneratedInstruction[], f: Omit<GeneratedProgram, 'lines' | 'sourceOf' | 'instructions'>): GeneratedProgram {
  let text: KeystoneText | undefined;
  return {
    get lines(): string[] {
      return (text ??= keystoneText(instructions)).lines;
    },
    sourceOf(i: number): SrcInstruction | undefined {
      const t = (text ??= keystoneText(instructions));
      if (t.lines[i] !== t.formatted[i]) return undefined;
      // on first use: lines whose encoding is cached are never parsed
      return (t.parsed[i] ??= sourceInstruction(instructions[i]!, t.ripDisps[i]));
    },
    instructions,
    rows: f.rows,
    regs: f.regs,
    rflags: f.rflags,
    segmentBases: f.segmentBases,
    memory: f.memory,
    compare: f.compare,
    window: f.window,
    dropped: f.dropped,
    repIterations: f.repIterations,
    mode: f.mode,
  };
}

interface KeystoneText {
  /** The lines handed out (callers may change them). */
  readonly lines: string[];
  /** The lines as formatted, their RIP displacements, and what the checked assembler's parser makes of each (filled in on use). */
  readonly formatted: readonly string[];
  readonly ripDisps: ReadonlyArray<bigint | undefined>;
  readonly parsed: Array<SrcInstruction | undefined>;
}

function keystoneText(instructions: readonly GeneratedInstruction[]): KeystoneText {
  const { lines, ripDisps } = keystoneLines(instructions);
  return { lines: [...lines], formatted: lines, ripDisps, parsed: new Array<SrcInstruction | undefined>(lines.length) };
}

/** Intel text per instruction, RIP displacements estimated from raw.ts's encoding lengths. */
function keystoneLines(instructions: readonly GeneratedInstruction[]): { lines: string[]; ripDisps: Array<bigint | undefined> } {
  const lines: string[] = [];
  const ripDisps: Array<bigint | undefined> = [];
  // lengths matter only up to the last RIP-relative instruction
  let lastRip = -1;
  instructions.forEach((g, i) => {
    if (ripOperand(g) !== undefined) lastRip = i;
  });
  let address = LAYOUT.code;
  for (let i = 0; i < instructions.length; i++) {
    const g = instructions[i]!;
    let disp: bigint | undefined;
    if (i <= lastRip) {
      address += BigInt(encodedLength(g)); // estimate of keystone's length (raw.ts's encoding)
      disp = ripDisplacement(g, address);
    }
    lines.push(formatInstruction(g, disp));
    ripDisps.push(disp);
  }
  return { lines, ripDisps };
}

/** Random programs of `length` instructions from the generatable rows of `families`. */
export function programArbitrary(options: ProgramOptions): fc.Arbitrary<GeneratedProgram> {
  return programGen(options).arb;
}

/**
 * The same programs without fast-check's shrinking bookkeeping: `fc.sample(fastProgramArbitrary(o), p)`
 * yields exactly what `fc.sample(programArbitrary(o), p)` does, several times faster (no shrinking).
 */
export function fastProgramArbitrary(options: ProgramOptions): fc.Arbitrary<GeneratedProgram> {
  return programGen(options).fastArbitrary();
}

/** The initial RSP: the stack window ([RSP - 0x300, RSP + 0x100)) inside the stack pages. */
const RSP_LOWEST = LAYOUT.stackBase + STACK_WINDOW.below;
const RSP_HIGHEST = LAYOUT.stackTop - (BigInt(STACK_WINDOW.length) - STACK_WINDOW.below);

const SEGMENT_BASE_GEN = G.constantFrom(0n, 0n, 0x1000n, 0x18000n, LAYOUT.data);
/**
 * Real mode: FS/GS bases (selector · 16) from which the data page is reachable in 16-bit offsets,
 * wholly or in part (operands out of reach fall back to DS), and 0, from which it is not.
 */
const REAL_SEGMENT_BASE_GEN = G.constantFrom(LAYOUT.data, LAYOUT.data, LAYOUT.data - 0x10n, LAYOUT.data - 0x800n, LAYOUT.data + 0x100n, 0n);

export function programGen(options: ProgramOptions): Gen<GeneratedProgram> {
  const encoder = options.encoder ?? 'keystone';
  const mode = modeOfFamilies(options.families);
  if (mode !== 'long64' && encoder === 'raw') throw new RangeError(`programArbitrary: family ${mode} is generated with keystone only (the raw encoder writes 64-bit code)`);
  const rows = generatableRows(options.families, encoder, options.features);
  if (rows.length === 0) throw new RangeError('programArbitrary: no generatable rows in the selected families');
  const [minLength, maxLength] = options.length;
  // by row id: instructionChoiceGen's own cache is keyed by a string built per lookup
  const choiceGens: Array<Gen<InstructionChoice> | undefined> = [];
  return G
    .record<ProgramDraw & Record<string, unknown>>({
      choices: G.array(G.constantFrom(...rows).chain((row) => (choiceGens[row.id] ??= instructionChoiceGen(row, encoder, mode))), { minLength, maxLength }),
      values: G.array(REGISTER_VALUE_GEN, { minLength: 16, maxLength: 16 }),
      rflags: RFLAGS_GEN,
      window: windowGen,
      // anywhere the stack window fits in the stack pages ([0x8300, 0xff00]): pushes cross the
      // page boundaries at 0x9000…0xf000 (both pages mapped), 16-aligned or not
      rsp: G.oneof(
        G.integer({ min: Number(RSP_LOWEST >> 4n), max: Number(RSP_HIGHEST >> 4n) }).map((n) => BigInt(n) << 4n),
        G.integer({ min: Number(RSP_LOWEST), max: Number(RSP_HIGHEST) }).map(BigInt),
        G.integer({ min: 0x9, max: 0xf }).chain((page) => G.integer({ min: -0x20, max: 0x20 }).map((d) => (BigInt(page) << 12n) + BigInt(d))),
      ),
      fillSeed: G.integer(),
      fillPattern: G.constantFrom<FillPattern>('random', 'random', 'random', 'zeros', 'ones', 'sign-bytes'),
      // FS/GS bases for segment overrides; at most the data page's address, so a 32-bit
      // effective address (0x67) can still reach the window above them
      fsBase: mode === 'real16' ? REAL_SEGMENT_BASE_GEN : SEGMENT_BASE_GEN,
      gsBase: mode === 'real16' ? REAL_SEGMENT_BASE_GEN : SEGMENT_BASE_GEN,
      simd: rows.some(isSimdRow) ? SIMD_INIT_GEN : G.constant(undefined),
      x87: rows.some(isX87Row) ? X87_INIT_GEN : G.constant(undefined),
    })
    .map((d) => buildProgram(d, encoder, mode));
}
