/**
 * The initial x87 state of an x87-family program and the prologue that sets it: FNINIT (empty
 * stack, FCW 0x37F: the x87 tags are the one piece of state a gdb stub cannot write, so only an
 * instruction makes them the same on both sides), then up to eight FLD m80 of values biased to
 * where x87 arithmetic goes wrong (signed zeros, infinities, QNaNs/SNaNs with payloads, the real
 * indefinite, denormals and pseudo-denormals, unnormals, pseudo-infinities and pseudo-NaNs, the
 * largest and smallest normals, the integer-conversion limits, values near 1), then FLDCW of a
 * control word with any rounding and precision control and, now and then, unmasked exceptions.
 * The values lie in a block the case initialises; the prologue's instructions are x87 rows
 * under test too. A prologue rather than a Case field, for the reason simd-state.ts gives.
 */
import { G, type Gen } from './gen.js';
import type { IsaRow } from '../../emulator/isa/row.js';
import { ALL_ROWS } from '../../emulator/isa/table.js';
import type { GeneratedInstruction } from './instruction.js';
import type { MemoryOperand } from './memory-operand.js';
import { SIMD_INIT_AT, SIMD_INIT_BYTES } from './simd-state.js';

export interface X87Init {
  /** Values pushed in order (the first ends deepest: ST(n-1)); 0–8 of them. */
  readonly stack: readonly bigint[];
  readonly fcw: number;
}

/** After the SIMD block, 16-byte aligned. */
export const X87_INIT_AT = SIMD_INIT_AT + BigInt((SIMD_INIT_BYTES + 15) & ~15);
const FCW_AT = 8 * 10;
export const X87_INIT_BYTES = FCW_AT + 2;
export const FCW_DEFAULT = 0x37f;

const x80 = (signExp: number, significand: bigint): bigint => (BigInt(signExp) << 64n) | significand;
const J = 1n << 63n;

const EDGES: readonly bigint[] = [
  x80(0x0000, 0n), x80(0x8000, 0n), // ±0
  x80(0x3fff, J), x80(0xbfff, J), x80(0x4000, J), x80(0x3ffe, J), // ±1, 2, 0.5
  x80(0x7fff, J), x80(0xffff, J), // ±∞
  x80(0x7fff, 0xc000000000000000n), x80(0xffff, 0xc000000000000000n), // QNaN, the real indefinite
  x80(0x7fff, 0xc000000000012345n), x80(0x7fff, 0x8000000000000001n), x80(0xffff, 0xa5a5a5a5a5a5a5a5n), // QNaN payload, SNaNs
  x80(0x7ffe, 0xffffffffffffffffn), x80(0xfffe, 0xffffffffffffffffn), // largest normals
  x80(0x0001, J), x80(0x8001, J), // smallest normals
  x80(0x0000, 0x7fffffffffffffffn), x80(0x0000, 1n), x80(0x8000, 0x4000000000000000n), // denormals
  x80(0x0000, J), x80(0x8000, 0xc000000000000000n), // pseudo-denormals
  x80(0x3fff, 0x4000000000000000n), x80(0x4005, 0n), // unnormals
  x80(0x7fff, 0n), x80(0xffff, 0x4000000000000000n), // pseudo-infinity, pseudo-NaN
  x80(0x403e, J), x80(0xc03e, J), x80(0x403d, 0xffffffffffffffffn), x80(0x403e, 0xfffffffffffffffen), // ±2^63, just below, above
  x80(0x401e, J), x80(0xc01e, J), x80(0x401d, 0xfffffffe00000000n), // ±2^31, 2^31-1
  x80(0x400e, J), x80(0xc00e, J), x80(0x400d, 0xfffe000000000000n), // ±2^15, 2^15-1
  x80(0x3ffe, 0xc000000000000000n), x80(0xbffd, 0xc000000000000000n), x80(0x3fff, 0xc000000000000000n), // 0.75, -0.375, 1.5: rounding ties
  x80(0x4000, 0xc90fdaa22168c235n), x80(0x3ffd, 0xcccccccccccccccdn), // π, 0.1
  x80(0x4034, 0xde0b6b3a76400000n), x80(0x7ffe, J), x80(0x3bff, J), // 1e16, 2^16383, 2^-1024
];

const significandGen = G.bigInt({ min: 0n, max: (1n << 63n) - 1n }).map((f) => J | f);
const X87_VALUE_GEN: Gen<bigint> = G.oneof(
  { weight: 4, gen: G.constantFrom(...EDGES) },
  // near 1 (exponents 0x3ffd–0x4001), in the integer range, near the ends of the range
  {
    weight: 4,
    gen: G.tuple(
      G.integer({ min: 0, max: 1 }),
      G.oneof(G.integer({ min: 0x3ffd, max: 0x4001 }), G.integer({ min: 0x3fbf, max: 0x403f }), G.constantFrom(1, 2, 0x3c00, 0x43ff, 0x7ffd, 0x7ffe)),
      significandGen,
    ).map(([s, e, f]) => x80((s << 15) | e, f)),
  },
  { weight: 1, gen: G.tuple(G.integer({ min: 0, max: 0xffff }), G.bigInt({ min: 0n, max: (1n << 64n) - 1n })).map(([se, f]) => x80(se, f)) },
);

/**
 * FCW: rounding control any (nearest half the time), precision control extended mostly, double
 * and single now and then, the reserved encoding rarely; exceptions masked nearly always (an
 * unmasked one that occurs sets ES and the next waiting x87 instruction raises #MF). Bit 6 as
 * FNINIT leaves it; bits 7 and 12–15 clear.
 */
const FCW_GEN: Gen<number> = G.record({
  rounding: G.constantFrom(0, 0, 0, 1, 2, 3),
  precision: G.constantFrom(3, 3, 3, 3, 2, 2, 0, 1),
  masks: G.oneof({ weight: 5, gen: G.constant(0x3f) }, { weight: 1, gen: G.integer({ min: 0, max: 0x3f }) }),
}).map((c) => (c.rounding << 10) | (c.precision << 8) | 0x40 | c.masks);

export const X87_INIT_GEN: Gen<X87Init> = G.record({
  stack: G.oneof({ weight: 1, gen: G.constant<bigint[]>([]) }, { weight: 6, gen: G.array(X87_VALUE_GEN, { minLength: 1, maxLength: 8 }) }),
  fcw: G.oneof({ weight: 1, gen: G.constant(FCW_DEFAULT) }, { weight: 3, gen: FCW_GEN }),
});

/** The init block's bytes: eight 80-bit slots, then FCW. */
export function x87InitBytes(init: X87Init): Uint8Array {
  const bytes = new Uint8Array(X87_INIT_BYTES);
  const v = new DataView(bytes.buffer);
  init.stack.forEach((x, i) => {
    v.setBigUint64(10 * i, x & 0xffffffffffffffffn, true);
    v.setUint16(10 * i + 8, Number(x >> 64n), true);
  });
  v.setUint16(FCW_AT, init.fcw, true);
  return bytes;
}

function findRow(mnemonic: string, forms: string, opcode: number, ext: number): IsaRow {
  const row = ALL_ROWS.find((r) => r.mnemonic === mnemonic && r.forms === forms && r.opcode === opcode && r.ext === ext);
  if (!row) throw new Error(`no row ${mnemonic} ${forms}`);
  return row;
}
const FNINIT = findRow('FNINIT', '', 0xdb, 4);
const FLD_M80 = findRow('FLD', 'M', 0xdb, 5);
const FLDCW = findRow('FLDCW', 'Mw', 0xd9, 5);
const NO_PREFIXES = { lock: false, redundant: [], emptyRex: false } as const;

const ripAt = (address: bigint): MemoryOperand => ({ form: 'rip', scale: 1, disp: 0n, dispWidth: 32, addressSize: 64, address });
const instruction = (row: IsaRow, operands: GeneratedInstruction['operands']): GeneratedInstruction => ({ rowId: row.id, row, opSize: 4, noRex: false, operands, prefixes: NO_PREFIXES });

/** FNINIT, the loads, and FLDCW unless the control word is FNINIT's; empty when the program has no x87 instruction. */
export function x87Prologue(program: readonly GeneratedInstruction[], init: X87Init, isX87: (row: IsaRow) => boolean): GeneratedInstruction[] {
  if (!program.some((g) => isX87(g.row))) return [];
  const out = [instruction(FNINIT, [])];
  init.stack.forEach((_, i) => out.push(instruction(FLD_M80, [{ kind: 'mem', mem: ripAt(X87_INIT_AT + BigInt(10 * i)), size: 10 }])));
  if (init.fcw !== FCW_DEFAULT) out.push(instruction(FLDCW, [{ kind: 'mem', mem: ripAt(X87_INIT_AT + BigInt(FCW_AT)), size: 2 }]));
  return out;
}
