/**
 * The initial SIMD state of an sse-family program, and the prologue that loads it: the values
 * of the XMM and MMX registers the program names and an MXCSR, biased to where SIMD arithmetic
 * goes wrong (signed zeros, infinities, QNaNs and SNaNs with payloads, denormals, the largest
 * and smallest normals, integer-conversion limits, saturation edges), placed in a block the case
 * initialises and loaded by MOVDQU/MOVQ/LDMXCSR instructions before the program. A prologue
 * rather than a Case field: the case stays what any target and every tool already runs (the
 * emulator, QEMU, a gdb stub, the minimizer, replay), and the loads are SSE rows under test too.
 */
import { G, type Gen } from './gen.js';
import { LAYOUT } from '../../contracts/test-machine.js';
import type { IsaRow } from '../../emulator/isa/row.js';
import { ALL_ROWS } from '../../emulator/isa/table.js';
import type { GeneratedInstruction } from './instruction.js';
import type { MemoryOperand } from './memory-operand.js';
import { simdRegister } from './registers.js';

export interface SimdInit {
  /** XMM0–XMM15 (only those the program names are loaded). */
  readonly xmm: readonly bigint[];
  /** MM0–MM7. */
  readonly mm: readonly bigint[];
  readonly mxcsr: number;
}

/** Where the initial values lie: the code page's upper half, which no generated access reaches. */
export const SIMD_INIT_AT = LAYOUT.code + 0x8000n;
const MM_AT = 16 * 16;
const MXCSR_AT = MM_AT + 8 * 8;
export const SIMD_INIT_BYTES = MXCSR_AT + 4;

const F32_EDGES = [
  0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x3f000000, 0x3fc00000, 0x40400000, 0x40200000, 0xc0200000, 0x40600000,
  0x7f7fffff, 0xff7fffff, 0x00800000, 0x80800000, 0x007fffff, 0x00000001, 0x80000001, 0x00400000,
  0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fc00001, 0xffe12345, 0x7f800001, 0xff812345, 0x7fbfffff,
  0x4f000000, 0xcf000000, 0x4effffff, 0x5f000000, 0xdf000000, 0x501502f9, 0x3dcccccd, 0x3eaaaaab, 0x4b000000,
];
const F64_EDGES = [
  0x0000000000000000n, 0x8000000000000000n, 0x3ff0000000000000n, 0xbff0000000000000n, 0x3fe0000000000000n,
  0x3ff8000000000000n, 0x4004000000000000n, 0xc004000000000000n, 0x7fefffffffffffffn, 0xffefffffffffffffn,
  0x0010000000000000n, 0x000fffffffffffffn, 0x0000000000000001n, 0x8000000000000001n, 0x7ff0000000000000n,
  0xfff0000000000000n, 0x7ff8000000000000n, 0xfff8000000000000n, 0x7ff8000000000001n, 0x7ff0000000000001n,
  0xfff4000000012345n, 0x41e0000000000000n, 0xc1e0000000000000n, 0x41dfffffffc00000n, 0x43e0000000000000n,
  0xc3e0000000000000n, 0x3fb999999999999an, 0x47efffffe0000000n, 0x36a0000000000000n, 0x4330000000000000n,
];
const BYTE_EDGES = [0x00, 0x01, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x55];
const WORD_EDGES = [0x0000, 0x0001, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff, 0x00ff, 0xff00];

const f32Gen: Gen<bigint> = G.oneof(
  { weight: 3, gen: G.constantFrom(...F32_EDGES).map(BigInt) },
  // near 1 and near the edges of the range: exponents 0–2, 120–134, 251–254
  { weight: 3, gen: G.tuple(G.integer({ min: 0, max: 1 }), G.constantFrom(0, 1, 2, 120, 124, 126, 127, 128, 130, 134, 251, 254), G.integer({ min: 0, max: 0x7fffff })).map(([s, e, m]) => BigInt(((s << 31) | (e << 23) | m) >>> 0)) },
  { weight: 1, gen: G.bigInt({ min: 0n, max: 0xffffffffn }) },
);
const f64Gen: Gen<bigint> = G.oneof(
  { weight: 3, gen: G.constantFrom(...F64_EDGES) },
  { weight: 3, gen: G.tuple(G.integer({ min: 0, max: 1 }), G.constantFrom(0, 1, 2, 1000, 1020, 1022, 1023, 1024, 1030, 1086, 2045, 2046), G.bigInt({ min: 0n, max: (1n << 52n) - 1n })).map(([s, e, m]) => (BigInt(s) << 63n) | (BigInt(e) << 52n) | m) },
  { weight: 1, gen: G.bigInt({ min: 0n, max: (1n << 64n) - 1n }) },
);
const lanes = (values: readonly bigint[], bits: number): bigint => values.reduce((v, x, i) => v | (x << BigInt(bits * i)), 0n);

/** One 128-bit register: four singles, two doubles, byte or word edge patterns, or any bits. */
const XMM_VALUE_GEN: Gen<bigint> = G.oneof(
  { weight: 3, gen: G.tuple(f32Gen, f32Gen, f32Gen, f32Gen).map((v) => lanes(v, 32)) },
  { weight: 3, gen: G.tuple(f64Gen, f64Gen).map((v) => lanes(v, 64)) },
  { weight: 1, gen: G.array(G.constantFrom(...BYTE_EDGES), { minLength: 16, maxLength: 16 }).map((v) => lanes(v.map(BigInt), 8)) },
  { weight: 1, gen: G.array(G.constantFrom(...WORD_EDGES), { minLength: 8, maxLength: 8 }).map((v) => lanes(v.map(BigInt), 16)) },
  { weight: 2, gen: G.bigInt({ min: 0n, max: (1n << 128n) - 1n }) },
);
const MM_VALUE_GEN: Gen<bigint> = G.oneof(
  { weight: 1, gen: G.array(G.constantFrom(...BYTE_EDGES), { minLength: 8, maxLength: 8 }).map((v) => lanes(v.map(BigInt), 8)) },
  { weight: 1, gen: G.array(G.constantFrom(...WORD_EDGES), { minLength: 4, maxLength: 4 }).map((v) => lanes(v.map(BigInt), 16)) },
  { weight: 1, gen: G.tuple(f32Gen, f32Gen).map((v) => lanes(v, 32)) },
  { weight: 2, gen: G.bigInt({ min: 0n, max: (1n << 64n) - 1n }) },
);

/**
 * MXCSR: any rounding mode (nearest half the time), FZ and DAZ now and then, exceptions masked
 * but in one case in 32 (an unmasked one that occurs faults with #XM, which QEMU 7.2 never
 * raises: a known divergence, whose locating would otherwise take much of a timed campaign),
 * any sticky flags; never a reserved bit.
 */
const MXCSR_GEN: Gen<number> = G.record({
  rounding: G.constantFrom(0, 0, 0, 1, 2, 3),
  fz: G.constantFrom(false, false, false, false, false, true),
  daz: G.constantFrom(false, false, false, false, false, true),
  masks: G.oneof({ weight: 31, gen: G.constant(0x3f) }, { weight: 1, gen: G.integer({ min: 0, max: 0x3f }) }),
  flags: G.oneof(G.constant(0), G.integer({ min: 0, max: 0x3f })),
}).map((m) => (m.rounding << 13) | (m.fz ? 0x8000 : 0) | (m.daz ? 0x40 : 0) | (m.masks << 7) | m.flags);

export const SIMD_INIT_GEN: Gen<SimdInit> = G.record({
  xmm: G.array(XMM_VALUE_GEN, { minLength: 16, maxLength: 16 }),
  mm: G.array(MM_VALUE_GEN, { minLength: 8, maxLength: 8 }),
  mxcsr: MXCSR_GEN,
});

/** The init block's bytes: XMM0–15, MM0–7, MXCSR. */
export function simdInitBytes(init: SimdInit): Uint8Array {
  const bytes = new Uint8Array(SIMD_INIT_BYTES);
  const v = new DataView(bytes.buffer);
  init.xmm.forEach((x, i) => {
    v.setBigUint64(16 * i, x & 0xffffffffffffffffn, true);
    v.setBigUint64(16 * i + 8, x >> 64n, true);
  });
  init.mm.forEach((x, i) => v.setBigUint64(MM_AT + 8 * i, x, true));
  v.setUint32(MXCSR_AT, init.mxcsr, true);
  return bytes;
}

function findRow(mnemonic: string, forms: string, prefix: IsaRow['prefix']): IsaRow {
  const row = ALL_ROWS.find((r) => r.mnemonic === mnemonic && r.forms === forms && r.prefix === prefix);
  if (!row) throw new Error(`no row ${mnemonic} ${forms}`);
  return row;
}
const MOVDQU = findRow('MOVDQU', 'Vx,Wx', 0xf3);
const MOVQ_MM = findRow('MOVQ', 'Pq,Qq', 'none');
const LDMXCSR = findRow('LDMXCSR', 'Md', undefined);
const EMMS = findRow('EMMS', '', 'none');
const NO_PREFIXES = { lock: false, redundant: [], emptyRex: false } as const;

const ripAt = (address: bigint): MemoryOperand => ({ form: 'rip', scale: 1, disp: 0n, dispWidth: 32, addressSize: 64, address });

function load(row: IsaRow, dest: GeneratedInstruction['operands'][number] | undefined, address: bigint, size: number): GeneratedInstruction {
  const mem = { kind: 'mem' as const, mem: ripAt(address), size };
  return { rowId: row.id, row, opSize: 4, noRex: false, operands: dest ? [dest, mem] : [mem], prefixes: NO_PREFIXES };
}

/**
 * The instructions that load the initial state the program needs: an XMM or MMX register it
 * names, MXCSR when it uses SSE state. FXSAVE of a program that touches no MMX register gets an
 * EMMS first: the x87 tags are the one piece of state a gdb stub cannot set, so QEMU would save
 * the previous case's. Empty when the program has no SIMD instruction.
 */
export function simdPrologue(program: readonly GeneratedInstruction[], init: SimdInit, isSimd: (row: IsaRow) => boolean): GeneratedInstruction[] {
  if (!program.some((g) => isSimd(g.row))) return [];
  const xmm = new Set<number>();
  const mm = new Set<number>();
  for (const g of program) for (const o of g.operands) if (o.kind === 'simd') (o.reg.file === 'xmm' ? xmm : mm).add(o.reg.num);
  const out: GeneratedInstruction[] = [];
  if (mm.size === 0 && program.some((g) => g.row.handler === 'fxsave')) out.push({ rowId: EMMS.id, row: EMMS, opSize: 4, noRex: false, operands: [], prefixes: NO_PREFIXES });
  for (const n of [...xmm].sort((a, b) => a - b)) out.push(load(MOVDQU, { kind: 'simd', reg: simdRegister('xmm', n) }, SIMD_INIT_AT + BigInt(16 * n), 16));
  for (const n of [...mm].sort((a, b) => a - b)) out.push(load(MOVQ_MM, { kind: 'simd', reg: simdRegister('mm', n) }, SIMD_INIT_AT + BigInt(MM_AT + 8 * n), 8));
  if (init.mxcsr !== 0x1f80) out.push(load(LDMXCSR, undefined, SIMD_INIT_AT + BigInt(MXCSR_AT), 4));
  return out;
}
