/**
 * The random choices for one instruction of a given row, read off the row's SDM operand forms:
 * operation size (from the row's size rule), REX mode (high-byte registers only without REX),
 * register or memory for E operands, registers for G/R/Z, immediates for I, preferences for memory
 * operands (M, E-as-memory, moffs O) and for implicit string/XLAT pointers, and prefixes.
 * Nothing here is specific to a mnemonic; `instruction.ts` turns the choice into an instruction.
 */
import type fc from 'fast-check';
import { G, type Gen } from './gen.js';
import { Kind, type OperandForm } from '../../emulator/isa/operand-forms.js';
import type { IsaRow } from '../../emulator/isa/row.js';
import { immediateGen, unsignedImmediateGen, type ImmediateBits } from './immediates.js';
import { MEMORY_OPERAND_GEN as MEMORY_GEN_64, type MemoryOperandChoice } from './memory-operand.js';
import { prefixGen, type PrefixChoice } from './prefixes.js';
import { makeRegister, registerGen, simdRegisterGen, type OperandWidth, type RegisterOperand, type SimdRegister } from './registers.js';
import { formSize, operandSizes, type Encoder, type GenerationMode } from './row-catalog.js';

export type OperandChoice =
  | { readonly kind: 'reg'; readonly reg: RegisterOperand }
  | { readonly kind: 'simd'; readonly reg: SimdRegister }
  | { readonly kind: 'mem'; readonly choice: MemoryOperandChoice; readonly size?: number }
  | { readonly kind: 'imm'; readonly value: bigint; readonly bits: ImmediateBits }
  | { readonly kind: 'sreg'; readonly num: number }
  | X87RegisterOperand
  | { readonly kind: 'one' }
  | { readonly kind: 'implicit' };

/**
 * An x87 register operand of a D8–DF register form (whose row lists no operand forms): ST(i) in
 * ModRM.rm (`rm`), or one the form names without encoding it (ST(0), AX of FNSTSW AX).
 */
export interface X87RegisterOperand {
  readonly kind: 'x87';
  /** Keystone's spelling (`st(3)`, `ax`). */
  readonly text: string;
  /** The canonical register name the checked assembler compares (`st3`, `ax`). */
  readonly reg: string;
  /** ST(i)'s i when the operand is encoded in ModRM.rm. */
  readonly rm?: number;
}

const ST0: X87RegisterOperand = { kind: 'x87', text: 'st(0)', reg: 'st0' };
const stRm = (i: number): X87RegisterOperand => ({ kind: 'x87', text: `st(${i})`, reg: `st${i}`, rm: i });

/**
 * The Intel operands of an x87 register row, as keystone spells them: `ST(0), ST(i)` (D8
 * arithmetic, FCMOVcc, FCOMI/FUCOMI and their popping forms), `ST(i), ST(0)` (DC and DE
 * arithmetic), `ST(i)` (FLD, FXCH, FST, FSTP, FFREE, FCOM, FUCOM and the SDM-unlisted aliases),
 * `AX` (FNSTSW AX); none for the fixed forms (FCHS, FLD1, FCOMPP…).
 */
function x87OperandsGen(row: IsaRow): Gen<OperandChoice[]> {
  if (row.rm !== undefined) {
    return G.constant(row.mnemonic === 'FNSTSW' ? [{ kind: 'x87', text: 'ax', reg: 'ax' }] : []);
  }
  const m = row.mnemonic;
  const i = G.integer({ min: 0, max: 7 });
  const pair = (first: boolean) => i.map((n): OperandChoice[] => (first ? [ST0, stRm(n)] : [stRm(n), ST0]));
  if (/^FCMOV|^F(U)?COMIP?$/.test(m) || (row.opcode === 0xd8 && !/^FCOMP?$/.test(m))) return pair(true);
  if (row.opcode === 0xdc || row.opcode === 0xde) return /FCOMP?/.test(m) ? i.map((n) => [stRm(n)]) : pair(false);
  return i.map((n) => [stRm(n)]);
}

export interface ImplicitPointerChoice {
  /** REP count (RCX) when a REP prefix is used; -1: the largest count that stays safe. Clamped to that. */
  readonly count: number;
  /** Where RSI / RDI / RBX / RBP start, as a fraction of the range that keeps their accesses safe. */
  readonly sourceFraction: number;
  readonly destinationFraction: number;
  /** BT/BTS/BTR/BTC with a register offset on memory: where the addressed unit lies, as a fraction of
   * the units the window holds (below, at or beyond the operand), and the bit inside it. */
  readonly bitUnitFraction: number;
  readonly bitInUnit: number;
  /** Bits above a 16/32-bit offset register's width: ignored by the CPU, so random. */
  readonly upperBits: bigint;
  /** CMPXCHG16B: 16-byte aligned (the rule) or not (#GP(0)). */
  readonly aligned: boolean;
}

export interface InstructionChoice {
  readonly row: IsaRow;
  readonly opSize: 2 | 4 | 8;
  readonly noRex: boolean;
  readonly operands: readonly OperandChoice[];
  readonly prefixes: PrefixChoice;
  readonly pointers: ImplicitPointerChoice;
}

const RSP = 4;

/** Rows whose first operand is only read (so RSP may appear there). */
function firstOperandIsReadOnly(row: IsaRow): boolean {
  return row.handler === 'push' || row.handler === 'test' || (row.handler === 'alu' && row.arg === 7) || (row.handler === 'bt' && row.arg === 0);
}
/** Rows that write every register operand. */
function writesAllOperands(row: IsaRow): boolean {
  return row.handler === 'xchg' || row.handler === 'xadd' || row.handler === 'cmpxchg';
}

/** Does the instruction write operand `i` (conservatively)? RSP is never a written register operand. */
export function operandIsWritten(row: IsaRow, i: number): boolean {
  return writesAllOperands(row) || (i === 0 && !firstOperandIsReadOnly(row));
}

function immediateBits(form: OperandForm, row: IsaRow, opSize: 2 | 4 | 8): ImmediateBits {
  const size = formSize(form, opSize) ?? 1;
  if (form.size === -1 && row.handler !== 'mov_imm') return opSize === 8 ? 32 : ((opSize * 8) as ImmediateBits);
  return (size * 8) as ImmediateBits;
}

/** In 32-bit code memory operands use 32-bit addresses, [disp32] is absolute (there is no RIP-relative form), and registers have no upper half. */
const legacyMemory = (c: MemoryOperandChoice): MemoryOperandChoice => ({ ...c, form: c.form === 'rip' ? 'absolute' : c.form, addressSize: 32, upperBits: 0n });
const LEGACY_MEMORY_OPERAND_GEN: Gen<MemoryOperandChoice> = MEMORY_GEN_64.map(legacyMemory);
/** In 16-bit code: 16-bit addressing, 32-bit (0x67) in one operand in four (memory-operand-16.ts); the drawn 64-bit size picks it. */
const realMemory = (c: MemoryOperandChoice): MemoryOperandChoice => ({ ...c, form: c.form === 'rip' ? 'absolute' : c.form, addressSize: c.addressSize === 32 ? 32 : 16 });
const REAL_MEMORY_OPERAND_GEN: Gen<MemoryOperandChoice> = MEMORY_GEN_64.map(realMemory);

const SOURCE_AT_OPERATION_SIZE = new Set(['lar', 'lsl']);

function operandGen(row: IsaRow, i: number, opSize: 2 | 4 | 8, noRex: boolean, useMemory: boolean, mode: GenerationMode): Gen<OperandChoice> {
  const legacy = mode !== 'long64';
  const MEMORY_OPERAND_GEN = mode === 'real16' ? REAL_MEMORY_OPERAND_GEN : legacy ? LEGACY_MEMORY_OPERAND_GEN : MEMORY_GEN_64;
  const form = row.operands[i]!;
  const size = formSize(form, opSize);
  const exclude = operandIsWritten(row, i) && !(noRex && size === 1) ? [RSP] : [];
  const reg = (width: number): Gen<OperandChoice> =>
    registerGen({ width: width as OperandWidth, noRex, exclude }).map((r) => ({ kind: 'reg', reg: r }));
  const mem = (): Gen<OperandChoice> => MEMORY_OPERAND_GEN.map((choice) => ({ kind: 'mem', choice, size }));
  const simd = (file: 'xmm' | 'mm'): Gen<OperandChoice> => simdRegisterGen(file).map((r) => ({ kind: 'simd', reg: r }));
  switch (form.kind) {
    // PINSRW's register source is a 32-bit register (the SDM's Ry), its memory source a word
    // LAR/LSL: keystone spells their r/m16 register source at the operation size (lar eax, ecx),
    // and their memory source only without a size (it takes lar eax, word ptr but lsl eax, dword ptr)
    case Kind.E:
      if (SOURCE_AT_OPERATION_SIZE.has(row.handler)) return useMemory ? MEMORY_OPERAND_GEN.map((choice) => ({ kind: 'mem', choice, size: undefined })) : reg(opSize);
      return useMemory ? mem() : reg(row.handler === 'pinsrw' ? 4 : size ?? opSize);
    case Kind.V: case Kind.U: return simd('xmm');
    case Kind.P: case Kind.N: return simd('mm');
    case Kind.W: return useMemory ? mem() : simd('xmm');
    case Kind.Q: return useMemory ? mem() : simd('mm');
    case Kind.M: return mem();
    case Kind.G: case Kind.R: case Kind.B: return reg(size ?? opSize);
    case Kind.O: return MEMORY_OPERAND_GEN.map((choice) => ({ kind: 'mem', choice: { ...choice, form: 'absolute', segment: 'none' }, size }));
    case Kind.Z: {
      const low = row.opcode & 7;
      const width = (size ?? opSize) as OperandWidth;
      const highByte = noRex && width === 1 && low >= 4;
      // a written Z register 4 would be RSP/SPL: use R12 instead
      const extended = G.boolean().map((b) => (b || (low === RSP && operandIsWritten(row, i) && !highByte)) && !(noRex && width === 1) && !legacy);
      return extended.map((x): OperandChoice => ({ kind: 'reg', reg: makeRegister(low + (x ? 8 : 0), width, highByte) }));
    }
    case Kind.I: {
      // Without paging (32-bit machine) a frame larger than the stack window does not fault below the
      // stack pages but wraps ESP to memory neither side initialised: frames there stay under 256 bytes
      if (row.handler === 'enter') return unsignedImmediateGen(form.size === 1 || legacy ? 8 : 16).map((value) => ({ kind: 'imm', value, bits: form.size === 1 ? 8 : 16 }));
      const bits = immediateBits(form, row, opSize);
      return immediateGen(bits).map((value) => ({ kind: 'imm', value, bits }));
    }
    case Kind.Reg: return G.constant<OperandChoice>({ kind: 'reg', reg: makeRegister(form.reg, (size ?? opSize) as OperandWidth) });
    // real16 loads ES, FS or GS (instruction.ts: DS, SS and CS stay the machine's)
    case Kind.S: return row.handler === 'mov_to_sreg' ? G.constantFrom(0, 4, 5).map((num) => ({ kind: 'sreg', num })) : G.integer({ min: 0, max: 5 }).map((num) => ({ kind: 'sreg', num }));
    case Kind.One: return G.constant<OperandChoice>({ kind: 'one' });
    default: return G.constant<OperandChoice>({ kind: 'implicit' });
  }
}

/** A fraction biased to the ends of its range and its middle (edges are where addressing goes wrong). */
const FRACTION_GEN: Gen<number> = G.oneof(G.constantFrom(0, 1, 0.5), G.double({ min: 0, max: 1, noNaN: true }), G.double({ min: 0, max: 1, noNaN: true }));

const POINTERS_GEN: Gen<ImplicitPointerChoice> = G.record({
  // small counts, counts up to instruction.ts's MAX_REP_COUNT (a run crosses a page boundary when
  // its pointer starts within its length of one), and the largest safe count; clamped to what is safe
  count: G.oneof(G.constantFrom(0, 1, 2, 16, -1), G.integer({ min: 0, max: 16 }), G.integer({ min: 0, max: 0x400 })),
  sourceFraction: FRACTION_GEN,
  destinationFraction: FRACTION_GEN,
  bitUnitFraction: FRACTION_GEN,
  bitInUnit: G.oneof(G.constantFrom(0, 63), G.integer({ min: 0, max: 63 })),
  upperBits: G.oneof(G.constant(0n), G.bigInt({ min: 0n, max: 0xffffffffffffn })),
  aligned: G.constantFrom(true, true, true, true, true, true, true, false),
});

/** Generators are pure: built once per (row, encoder) and reused (building them per draw cost more than drawing). */
const choiceCache = new Map<string, Gen<InstructionChoice>>();

/** Random choices for one instruction of `row`. */
export function instructionChoiceArbitrary(row: IsaRow, encoder: Encoder = 'keystone', mode: GenerationMode = 'long64'): fc.Arbitrary<InstructionChoice> {
  return instructionChoiceGen(row, encoder, mode).arb;
}

/** `mode` protected32: 32-bit code, so no REX (registers 0–7, AH–BH), sizes 16/32, 32-bit addresses. */
export function instructionChoiceGen(row: IsaRow, encoder: Encoder = 'keystone', mode: GenerationMode = 'long64'): Gen<InstructionChoice> {
  const key = `${row.id}:${encoder}:${mode}`;
  let gen = choiceCache.get(key);
  if (!gen) choiceCache.set(key, (gen = buildInstructionChoiceGen(row, encoder, mode)));
  return gen;
}

function buildInstructionChoiceGen(row: IsaRow, encoder: Encoder, mode: GenerationMode): Gen<InstructionChoice> {
  const legacy = mode !== 'long64';
  const hasByteOperand = row.operands.some((o) => o.size === 1 && (o.kind === Kind.E || o.kind === Kind.G || o.kind === Kind.Z));
  const layout = G.record({
    opSize: G.constantFrom(...operandSizes(row, encoder, mode)),
    noRex: legacy ? G.constant(true) : hasByteOperand ? G.constantFrom(false, false, true) : G.constant(false),
    // VERR/VERW from memory only: iced reports their register operand as the 32-bit register keystone cannot spell
    useMemory: row.mod === 'reg' ? G.constant(false) : row.mod === 'mem' || row.handler === 'verify' ? G.constant(true) : G.boolean(),
  });
  const prefixes = prefixGen(row);
  // by size (2, 4, 8) * 4 + noRex * 2 + useMemory: a number, not a string, for every draw
  const inner: Array<Gen<InstructionChoice> | undefined> = [];
  return layout.chain(({ opSize, noRex, useMemory }) => {
    const size = noRex && opSize === 8 && row.sizeRule === 'normal' ? 4 : opSize; // REX.W is a REX prefix
    const key = size * 4 + (noRex ? 2 : 0) + (useMemory ? 1 : 0);
    const cached = inner[key];
    if (cached) return cached;
    const gen = G.record<InstructionChoice & Record<string, unknown>>({
      row: G.constant(row),
      opSize: G.constant(size as 2 | 4 | 8),
      noRex: G.constant(noRex),
      operands: row.handler === 'x87' && row.mod === 'reg' ? x87OperandsGen(row) : G.tuple(...row.operands.map((_, i) => operandGen(row, i, size as 2 | 4 | 8, noRex, useMemory, mode))),
      prefixes,
      pointers: POINTERS_GEN,
    });
    inner[key] = gen;
    return gen;
  });
}
