import type { Sequence } from './sequences.js';

/**
 * x87 sequences for the differential suite. Each starts with FNINIT (QEMU's gdb stub can set
 * neither the tags nor the last-instruction pointers, so a sequence must not depend on what
 * ran before), keeps its operands as constants in the code page (read RIP-relative: no setup
 * instructions to step through), stores results into the data page at 0x20000 (compared byte
 * for byte at the end), and ends with FNSTENV so the tag word and FIP/FDP are compared too.
 * FCW, FSW (with TOP) and the eight registers are compared after every instruction.
 * Expectations come from QEMU, never from this file.
 */

/** Interesting extended values (raw 80-bit encodings). */
export const X80 = {
  pzero: 0x0000_0000000000000000n,
  nzero: 0x8000_0000000000000000n,
  one: 0x3fff_8000000000000000n,
  mone: 0xbfff_8000000000000000n,
  onehalf: 0x3fff_c000000000000000n,
  three: 0x4000_c000000000000000n,
  pi: 0x4000_c90fdaa22168c235n,
  third: 0x3ffd_aaaaaaaaaaaaaaabn,
  nearTwo: 0x3fff_ffffffffffffffffn,
  /** Ties and near-ties at 24 and 53 bits (for FCW.PC and FST m32/m64). */
  tie24: 0x3fff_8000008000000000n,
  tie24odd: 0x3fff_8000018000000000n,
  above24: 0x3fff_8000008000000001n,
  tie53: 0x3fff_8000000000000400n,
  tie53odd: 0x3fff_8000000000000c00n,
  big: 0x403d_c000000000000001n, // ~1.5 × 2^62
  huge: 0x7ffe_ffffffffffffffffn,
  nhuge: 0xfffe_ffffffffffffffffn,
  minNormal: 0x0001_8000000000000000n,
  denormMax: 0x0000_7fffffffffffffffn,
  denormMin: 0x0000_0000000000000001n,
  ndenorm: 0x8000_0000000000001234n,
  pseudoDenorm: 0x0000_8000000000000001n,
  pinf: 0x7fff_8000000000000000n,
  ninf: 0xffff_8000000000000000n,
  qnan: 0x7fff_c000000000000123n,
  nqnan: 0xffff_c000000000000456n,
  snan: 0x7fff_8000000000000789n,
  nsnan: 0xffff_a000000000000000n,
  indefinite: 0xffff_c000000000000000n,
  unnormal: 0x3fff_4000000000000000n,
  pseudoInf: 0x7fff_0000000000000000n,
  pseudoNaN: 0x7fff_4000000000000001n,
  i2p31: 0x401e_8000000000000000n, // 2^31
  m2p31: 0xc01e_8000000000000000n, // -2^31
  i2p15m: 0x400d_fffe000000000000n, // 32767
  m2p15: 0xc00e_8000000000000000n, // -32768
  p2p63: 0x403e_8000000000000000n, // 2^63
  m2p63: 0xc03e_8000000000000000n, // -2^63
  twoPointFive: 0x4000_a000000000000000n,
  mTwoPointFive: 0xc000_a000000000000000n,
  pointFive: 0x3ffe_8000000000000000n,
  mPointSeven: 0xbffe_b333333333333333n,
  bcdMax: 0x403a_de0b6b3a763ffff8n, // 1e18 − 0.5: RN rounds to 1e18 (out of BCD range), RZ/RD to 1e18 − 1
  e18: 0x403a_de0b6b3a76400000n, // 1e18
  /** (1 − 2^-33)(1 + 2^-33) = 1 − 2^-66: times the smallest normal, tiny before rounding but not after. */
  tinyA: 0x3ffe_ffffffff80000000n,
  tinyB: 0x3fff_8000000040000000n,
} as const;
export type X80Name = keyof typeof X80;

const NAMES = Object.keys(X80) as X80Name[];

/** FCW values: RC in bits 11–10, PC in bits 9–8, all exceptions masked. */
export function fcw(rc: number, pc: 24 | 53 | 64, mask = 0x3f): number {
  return 0x40 | (rc << 10) | ((pc === 24 ? 0 : pc === 53 ? 2 : 3) << 8) | mask;
}

interface Constants {
  x80: X80Name[];
  words: number[];
  dwords: number[];
  qwords: bigint[];
  bytes: number[][];
}

const hex = (v: bigint | number) => `0x${v.toString(16)}`;

/** The code around a body: FNINIT, a jump over the constants, the body, then FNSTENV. */
function program(body: string, c: Partial<Constants>): string {
  const lines = ['fninit', 'jmp x87_start', 'align 16'];
  for (const n of c.x80 ?? []) lines.push(`${n}: dq ${hex(X80[n] & 0xffffffffffffffffn)}`, `dw ${hex(X80[n] >> 64n)}`, 'align 16');
  (c.words ?? []).forEach((w, i) => lines.push(`w${i}: dw ${hex(w)}`));
  (c.dwords ?? []).forEach((w, i) => lines.push(`d${i}: dd ${hex(w >>> 0)}`));
  (c.qwords ?? []).forEach((w, i) => lines.push(`q${i}: dq ${hex(BigInt.asUintN(64, w))}`));
  (c.bytes ?? []).forEach((b, i) => lines.push(`b${i}: db ${b.map((x) => hex(x)).join(', ')}`));
  lines.push('x87_start:', body, 'fnstenv [0x20f00]');
  return lines.join('\n');
}

function xorshift(seed: bigint): () => bigint {
  let x = seed;
  return () => {
    x ^= (x << 13n) & 0xffffffffffffffffn;
    x ^= x >> 7n;
    x ^= (x << 17n) & 0xffffffffffffffffn;
    return x;
  };
}

/** A random extended value: mostly near 1 and near the denormal/overflow edges, sometimes any bits. */
function randomX80(rand: () => bigint): bigint {
  const pick = Number(rand() % 8n);
  const sign = rand() & 1n ? 0x8000n : 0n;
  let exp: bigint;
  if (pick < 4) exp = 0x3fffn - 40n + (rand() % 80n);
  else if (pick === 4) exp = rand() % 70n; // denormal and just above
  else if (pick === 5) exp = 0x7ffen - (rand() % 70n);
  else if (pick === 6) exp = 0x7fffn; // inf/NaN
  else exp = rand() & 0x7fffn;
  let sig = rand();
  if (exp !== 0n && pick !== 7) sig |= 1n << 63n; // keep it a valid encoding except for the anything-goes draw
  if (rand() % 4n === 0n) sig &= ~((1n << (rand() % 60n)) - 1n); // short significands: exact results and ties
  return ((sign | exp) << 64n) | sig;
}

/** An exact extended encoding of a (normal) double, independent of the code under test. */
function doubleToX80(d: number): bigint {
  if (d === 0) return Object.is(d, -0) ? 1n << 79n : 0n;
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, d);
  const bits = v.getBigUint64(0);
  const sign = bits >> 63n;
  const exp = ((bits >> 52n) & 0x7ffn) - 1023n + 16383n;
  const sig = (1n << 63n) | ((bits & ((1n << 52n) - 1n)) << 11n);
  return (((sign << 15n) | exp) << 64n) | sig;
}

/** program() with arbitrary named 80-bit constants. */
function programWith(body: string, x80: Array<[string, bigint]>, words: number[]): string {
  const lines = ['fninit', 'jmp x87_start', 'align 16'];
  for (const [n, v] of x80) lines.push(`${n}: dq ${hex(v & 0xffffffffffffffffn)}`, `dw ${hex(v >> 64n)}`, 'align 16');
  words.forEach((w, i) => lines.push(`w${i}: dw ${hex(w)}`));
  lines.push('x87_start:', body, 'fnstenv [0x20f00]');
  return lines.join('\n');
}

/** Values used as operands of arithmetic, in groups small enough for one sequence each. */
const ARITH_GROUPS: X80Name[][] = [
  ['one', 'three', 'pi', 'third', 'mone'],
  ['pzero', 'nzero', 'one', 'pinf', 'ninf'],
  ['qnan', 'snan', 'nqnan', 'nsnan', 'one'],
  ['denormMin', 'denormMax', 'minNormal', 'ndenorm', 'pseudoDenorm'],
  ['huge', 'nhuge', 'nearTwo', 'minNormal', 'third'],
  ['unnormal', 'pseudoInf', 'pseudoNaN', 'one', 'indefinite'],
  ['tie24', 'tie24odd', 'above24', 'tie53', 'tie53odd'],
];

export function x87Sequences(): Sequence[] {
  const out: Sequence[] = [];
  const add = (name: string, body: string, c: Partial<Constants> = {}, qemuDeviation?: string) =>
    out.push({ name: `x87 ${name}`, asm: program(body, c), qemuDeviation });
  let slot = 0;
  const store = () => `fstp tword [${hex(0x20000 + 16 * (slot++ % 240))}]`;

  // ---- control words, status, pointers ---------------------------------------------------
  slot = 0;
  add('fnstcw/fldcw/fnstsw/fnclex', [
    'fnstcw [0x20000]', 'fldcw [rel w0]', 'fnstcw [0x20002]', 'fld1', 'fldz', 'fdiv st1, st0', 'fnstsw [0x20004]',
    'fnstsw ax', 'fnclex', 'fnstsw ax', 'fldcw [rel w1]', 'fnstcw [0x20006]', 'fwait', 'wait', 'fnop',
  ].join('\n'), { words: [0x0e7f, 0xffff] });
  add('287 no-ops, fincstp/fdecstp, ffree', [
    'fld1', 'fldpi', 'db 0xdb, 0xe0', 'db 0xdb, 0xe1', 'db 0xdb, 0xe4', 'fincstp', 'fincstp', 'fdecstp', 'ffree st0', 'ffree st3',
    'fdecstp', 'fxam', 'fnstsw ax', 'fincstp', 'fxam', 'db 0xdf, 0xc1', 'fxam', 'fld1', 'fxam',
  ].join('\n'));
  add('undocumented aliases', [
    'fld1', 'fldpi', 'fldl2e', 'db 0xdd, 0xc9', 'db 0xdf, 0xca', 'db 0xd9, 0xda', 'fld1', 'fldlg2', 'db 0xdf, 0xd1', 'fldz',
    'db 0xdf, 0xd9', 'fldln2', 'db 0xdc, 0xd1', 'db 0xdc, 0xd9', 'db 0xde, 0xd1', 'fstp st0', 'fstp st0',
  ].join('\n'));
  add('stack wraps past eight pushes (no stack-fault detection in QEMU)', [
    'fld1', 'fldz', 'fldpi', 'fldl2t', 'fldl2e', 'fldlg2', 'fldln2', 'fld1', 'fldpi', 'fldz', 'fnstsw ax', 'fstp st0', 'fstp st0',
    'fstp st0', 'fstp st0', 'fstp st0', 'fstp st0', 'fstp st0', 'fstp st0', 'fstp st0', 'fadd st0, st1', 'fnsave [0x20100]', 'fnstsw ax',
  ].join('\n'));
  for (let rc = 0; rc < 4; rc++) {
    add(`constants RC=${rc}`, ['fldcw [rel w0]', 'fld1', 'fldl2t', 'fldl2e', 'fldpi', 'fldlg2', 'fldln2', 'fldz'].join('\n'), { words: [fcw(rc, 24)] });
  }

  // ---- loads and stores ------------------------------------------------------------------
  const f32s = [0, 0x80000000, 0x3f800000, 0x00000001, 0x807fffff, 0x7f800000, 0xff800000, 0x7fc00001, 0x7f800123, 0xffa00000, 0x7f7fffff, 0x3eaaaaab];
  add('fld m32 (denormal, inf, NaN, SNaN)', f32s.map((_, i) => `fld dword [rel d${i}]\n${i % 7 === 6 ? 'fninit' : ''}`).join('\n'), { dwords: f32s });
  const f64s = [0n, 0x8000000000000000n, 0x3ff0000000000000n, 1n, 0x800fffffffffffffn, 0x7ff0000000000000n, 0x7ff8000000000001n,
    0x7ff0000000000123n, 0x3fd5555555555555n, 0x7fefffffffffffffn, 0x3ff0000010000000n, 0x3ff0000030000000n];
  add('fld m64', f64s.map((_, i) => `fld qword [rel q${i}]\n${i % 7 === 6 ? 'fninit' : ''}`).join('\n'), { qwords: f64s });
  for (const pc of [24, 53] as const) {
    add(`fld m64 under PC=${pc} (QEMU rounds loads per PC)`, ['fldcw [rel w0]', ...f64s.slice(2).map((_, i) => `fld qword [rel q${i + 2}]\nfstp tword [${hex(0x20000 + 16 * i)}]`)].join('\n'),
      { qwords: f64s, words: [fcw(0, pc)] });
  }
  add('fld m80 / fstp m80 / fld st(i)', ['fld tword [rel pi]', 'fld tword [rel snan]', 'fld tword [rel unnormal]', 'fld st2', 'fld st1',
    'fstp tword [0x20000]', 'fstp tword [0x20010]', 'fstp tword [0x20020]', 'fld st0', 'fxch st1', 'fst st3', 'fstp st2'].join('\n'),
  { x80: ['pi', 'snan', 'unnormal'] });
  const storeVals: X80Name[] = ['one', 'third', 'pi', 'tie24', 'tie24odd', 'tie53', 'tie53odd', 'huge', 'denormMax', 'minNormal', 'snan', 'nqnan', 'pinf', 'nzero', 'unnormal', 'pseudoDenorm'];
  for (let rc = 0; rc < 4; rc++) {
    slot = 0;
    add(`fst/fstp m32 and m64 RC=${rc}`, ['fldcw [rel w0]', ...storeVals.map((v) => `fld tword [rel ${v}]\nfst dword [${hex(0x20000 + 16 * slot)}]\nfstp qword [${hex(0x20008 + 16 * slot++)}]`)].join('\n'),
      { x80: storeVals, words: [fcw(rc, 64)] });
  }
  const ints16 = [0, 1, 0xffff, 0x7fff, 0x8000, 0x1234];
  const ints32 = [0, -1, 0x7fffffff, -0x80000000, 123456789];
  const ints64 = [0n, -1n, 0x7fffffffffffffffn, -0x8000000000000000n, 0x123456789abcdefn, 0x40000000000001n];
  add('fild m16/m32/m64', [...ints16.map((_, i) => `fild word [rel w${i}]\nfstp tword [${hex(0x20000 + 16 * i)}]`),
    ...ints32.map((_, i) => `fild dword [rel d${i}]\nfstp tword [${hex(0x20100 + 16 * i)}]`),
    ...ints64.map((_, i) => `fild qword [rel q${i}]\nfstp tword [${hex(0x20200 + 16 * i)}]`)].join('\n'), { words: ints16, dwords: ints32, qwords: ints64 });
  add('fild m64 under PC=24 (FILD keeps full precision)', ['fldcw [rel w0]', ...ints64.map((_, i) => `fild qword [rel q${i}]\nfstp tword [${hex(0x20200 + 16 * i)}]`)].join('\n'),
    { words: [fcw(0, 24)], qwords: ints64 });
  const intVals: X80Name[] = ['pointFive', 'twoPointFive', 'mTwoPointFive', 'mPointSeven', 'i2p15m', 'm2p15', 'i2p31', 'm2p31', 'p2p63', 'm2p63', 'big', 'qnan', 'ninf', 'denormMin', 'nzero', 'unnormal'];
  for (let rc = 0; rc < 4; rc++) {
    slot = 0;
    add(`fist/fistp m16/m32/m64 RC=${rc}`, ['fldcw [rel w0]', ...intVals.map((v) => {
      const base = 0x20000 + 16 * slot++;
      return `fld tword [rel ${v}]\nfist word [${hex(base)}]\nfist dword [${hex(base + 2)}]\nfld st0\nfistp qword [${hex(base + 8)}]\nfistp dword [${hex(base + 6)}]${rc === 0 ? `\nfld tword [rel ${v}]\nfst qword [${hex(0x20800 + 16 * slot)}]\nfstp st0` : ''}`;
    })].join('\n'), { x80: intVals, words: [fcw(rc, 64)] });
  }
  slot = 0;
  add('fistp m16 and fisttp m16/m32/m64', intVals.map((v) => {
    const base = 0x20000 + 16 * slot++;
    return `fld tword [rel ${v}]\nfld st0\nfld st0\nfld st0\nfistp word [${hex(base)}]\nfisttp word [${hex(base + 2)}]\nfisttp dword [${hex(base + 4)}]\nfisttp qword [${hex(base + 8)}]`;
  }).join('\n'), { x80: intVals });
  add('fbld/fbstp', ['fbld [rel b0]', 'fbld [rel b1]', 'fbld [rel b2]', 'fbstp [0x20000]', 'fbstp [0x20010]', 'fbstp [0x20020]',
    ...(['third', 'mTwoPointFive', 'bcdMax', 'e18', 'qnan', 'nzero', 'mPointSeven'] as X80Name[]).map((v, i) => `fld tword [rel ${v}]\nfbstp [${hex(0x20030 + 16 * i)}]`)].join('\n'),
  { bytes: [[0x89, 0x67, 0x45, 0x23, 0x01, 0, 0, 0, 0, 0x80], [0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0], [0xff, 0xab, 0, 0, 0, 0, 0, 0, 0, 0x80]],
    x80: ['third', 'mTwoPointFive', 'bcdMax', 'e18', 'qnan', 'nzero', 'mPointSeven'] });

  // ---- arithmetic ------------------------------------------------------------------------
  const arithReg = ['fadd st0, st1', 'fsub st0, st1', 'fsubr st0, st1', 'fmul st0, st1', 'fdiv st0, st1', 'fdivr st0, st1',
    'fadd st1, st0', 'fsub st1, st0', 'fsubr st1, st0', 'fmul st1, st0', 'fdiv st1, st0', 'fdivr st1, st0',
    'faddp st1, st0', 'fsubp st1, st0', 'fsubrp st1, st0', 'fmulp st1, st0', 'fdivp st1, st0', 'fdivrp st1, st0'];
  ARITH_GROUPS.forEach((group, gi) => {
    // Every ordered pair of the group under one operation per sequence (pairs × 4 instructions).
    arithReg.forEach((op, oi) => {
      if ((oi + gi) % 3 !== 0) return; // each operation meets two or three groups (the host-x87 unit test covers all pairs)
      slot = 0;
      const body: string[] = [];
      for (const a of group) for (const b of group) body.push(`fld tword [rel ${b}]\nfld tword [rel ${a}]\n${op}\n${op.includes('p ') ? store() : `${store()}\n${store()}`}`);
      add(`${op} over {${group.join(', ')}}`, body.join('\n'), { x80: group });
    });
  });
  for (const [rc, pc] of [[0, 24], [0, 53], [1, 24], [2, 53], [3, 64], [1, 64], [2, 64], [3, 24]] as const) {
    slot = 0;
    const vals: X80Name[] = ['one', 'third', 'pi', 'nearTwo', 'tie24odd', 'tie53', 'huge', 'denormMax', 'minNormal', 'ndenorm'];
    const body: string[] = ['fldcw [rel w0]'];
    for (let i = 0; i < vals.length; i++) {
      const a = vals[i]!;
      const b = vals[(i + 3) % vals.length]!;
      body.push(`fld tword [rel ${b}]\nfld tword [rel ${a}]\nfld st0\nfadd st0, st2\n${store()}\nfld st0\nfsub st0, st2\n${store()}\nfld st0\nfmul st0, st2\n${store()}\nfdiv st0, st1\n${store()}\n${store()}`);
    }
    add(`arithmetic with RC=${rc} PC=${pc}`, body.join('\n'), { x80: vals, words: [fcw(rc, pc)] });
  }
  add('tininess: a product that rounds up to the smallest normal', ['fld tword [rel minNormal]', 'fld tword [rel tinyA]', 'fmulp st1, st0',
    'fld tword [rel tinyB]', 'fmulp st1, st0', 'fnstsw ax', 'fstp tword [0x20000]'].join('\n'), { x80: ['minNormal', 'tinyA', 'tinyB'] });
  const memOps = ['fadd', 'fmul', 'fcom', 'fcomp', 'fsub', 'fsubr', 'fdiv', 'fdivr'];
  const memSources: Array<[string, string, string]> = [['dword', 'd', 'm32fp'], ['qword', 'q', 'm64fp']];
  for (const [size, prefix, label] of memSources) {
    const consts = size === 'dword' ? { dwords: [0x40400000, 0x00000001, 0x7fc00000, 0x7f800001, 0xc0a00000, 0] } : { qwords: [0x4008000000000000n, 1n, 0x7ff8000000000000n, 0x7ff0000000000001n, 0xc014000000000000n, 0n] };
    slot = 0;
    const body: string[] = ['fld tword [rel pi]'];
    for (const op of memOps) for (let k = 0; k < 6; k++) body.push(`${op} ${size} [rel ${prefix}${k}]${op === 'fcomp' ? '\nfld tword [rel pi]' : ''}`);
    add(`memory arithmetic ${label}`, body.join('\n'), { ...consts, x80: ['pi'] });
  }
  for (const [size, label, vals] of [['dword', 'm32int', [3, -7, 0x7fffffff, 0]], ['word', 'm16int', [3, -7, 0x7fff, 0]]] as const) {
    const body: string[] = ['fldcw [rel w0]', 'fld tword [rel third]'];
    for (const op of memOps) for (let k = 0; k < vals.length; k++) body.push(`fi${op.slice(1)} ${size} [rel ${size === 'dword' ? 'd' : 'w'}${k + (size === 'word' ? 1 : 0)}]${op === 'fcomp' ? '\nfld tword [rel third]' : ''}`);
    add(`memory arithmetic ${label} (PC=24 rounds the integer first)`, body.join('\n'),
      size === 'dword' ? { words: [fcw(0, 24)], dwords: [...vals], x80: ['third'] } : { words: [fcw(0, 24), ...vals], x80: ['third'] });
  }

  // ---- comparisons -----------------------------------------------------------------------
  const cmpVals: X80Name[] = ['one', 'mone', 'pzero', 'nzero', 'pinf', 'qnan', 'snan', 'denormMin', 'unnormal'];
  for (const [form, pops] of [['fcom st1', 0], ['fucom st1', 0], ['fcomp st1', 1], ['fucomp st1', 1], ['fcompp', 2], ['fucompp', 2]] as const) {
    const body: string[] = [];
    for (let i = 0; i < cmpVals.length; i++) {
      body.push(`fld tword [rel ${cmpVals[(i * 4 + 1) % cmpVals.length]}]\nfld tword [rel ${cmpVals[i]}]\n${form}\nfnstsw ax${pops === 0 ? '\nfcompp' : pops === 1 ? '\nfstp st0' : ''}`);
    }
    add(form, body.join('\n'), { x80: cmpVals });
  }
  for (const form of ['fcomi st0, st1', 'fucomi st0, st1', 'fcomip st0, st1', 'fucomip st0, st1']) {
    const body: string[] = ['mov eax, 0x8d5\npush rax\npopfq'];
    for (let i = 0; i < cmpVals.length; i++) {
      body.push(`fld tword [rel ${cmpVals[(i * 2 + 1) % cmpVals.length]}]\nfld tword [rel ${cmpVals[i]}]\n${form}\npushfq\npop rax\nfninit`);
    }
    add(form, body.join('\n'), { x80: cmpVals });
  }
  add('ftst and fxam', cmpVals.concat(['pseudoDenorm', 'pseudoNaN', 'ninf', 'ndenorm'] as X80Name[]).map((v) => `fld tword [rel ${v}]\nftst\nfxam\nfchs\nfxam\nfabs\nfxam\nfstp st0`).join('\n') + '\nfxam',
    { x80: cmpVals.concat(['pseudoDenorm', 'pseudoNaN', 'ninf', 'ndenorm'] as X80Name[]) });
  const fcmovs = ['fcmovb', 'fcmove', 'fcmovbe', 'fcmovu', 'fcmovnb', 'fcmovne', 'fcmovnbe', 'fcmovnu'];
  add('fcmovcc', ['fld1', 'fldz', ...[0x0, 0x1, 0x40, 0x41, 0x4, 0x45].flatMap((fl) => [`mov eax, ${fl | 2}\npush rax\npopfq`, ...fcmovs.map((op) => `${op} st0, st1\nfchs`)])].join('\n'));
  add('ficom/ficomp', ['fld tword [rel third]', 'ficom word [rel w0]', 'ficom dword [rel d0]', 'ficomp dword [rel d1]', 'fld tword [rel qnan]',
    'ficom word [rel w1]', 'ficomp word [rel w0]', 'fld tword [rel one]', 'ficom dword [rel d2]', 'fnstsw ax'].join('\n'),
  { x80: ['third', 'qnan', 'one'], words: [0, 0xffff], dwords: [1, -1, 1] });

  // ---- other computations ----------------------------------------------------------------
  const unary: X80Name[] = ['one', 'three', 'pi', 'third', 'mone', 'nzero', 'pinf', 'ninf', 'qnan', 'snan', 'denormMax', 'denormMin', 'pseudoDenorm', 'unnormal', 'huge', 'twoPointFive', 'mTwoPointFive', 'pointFive', 'mPointSeven', 'big'];
  for (const [op, rcs] of [['fsqrt', [0, 1]], ['frndint', [0, 1, 2, 3]], ['fxtract', [0]]] as const) {
    for (const rc of rcs) {
      slot = 0;
      add(`${op} RC=${rc}`, ['fldcw [rel w0]', ...unary.map((v) => `fld tword [rel ${v}]\n${op}\n${op === 'fxtract' ? `${store()}\n` : ''}${store()}`)].join('\n'),
        { x80: unary, words: [fcw(rc, rc === 1 ? 53 : 64)] });
    }
  }
  const scalePairs: Array<[X80Name, X80Name]> = [['one', 'three'], ['pi', 'mTwoPointFive'], ['huge', 'three'], ['minNormal', 'mone'], ['denormMax', 'twoPointFive'],
    ['one', 'pinf'], ['one', 'ninf'], ['pzero', 'pinf'], ['pinf', 'ninf'], ['one', 'qnan'], ['snan', 'one'], ['qnan', 'snan'], ['unnormal', 'one'], ['three', 'big'], ['third', 'p2p63'], ['pi', 'm2p63']];
  slot = 0;
  add('fscale', scalePairs.map(([a, b]) => `fld tword [rel ${b}]\nfld tword [rel ${a}]\nfscale\n${store()}\n${store()}`).join('\n'), { x80: [...new Set(scalePairs.flat())] });
  const remPairs: Array<[X80Name, X80Name]> = [['pi', 'one'], ['three', 'mTwoPointFive'], ['twoPointFive', 'one'], ['mTwoPointFive', 'one'], ['huge', 'three'], ['huge', 'pi'], ['one', 'pzero'],
    ['pinf', 'one'], ['one', 'pinf'], ['qnan', 'one'], ['denormMax', 'denormMin'], ['pseudoDenorm', 'pinf'], ['pointFive', 'one'], ['third', 'pi'], ['big', 'third'], ['unnormal', 'one']];
  for (const op of ['fprem', 'fprem1']) {
    slot = 0;
    add(op, remPairs.map(([a, b]) => `fld tword [rel ${b}]\nfld tword [rel ${a}]\n${op}\nfnstsw ax\n${op}\n${store()}\n${store()}`).join('\n'), { x80: [...new Set(remPairs.flat())] });
  }
  add('fchs/fabs', ['fld tword [rel snan]', 'fchs', 'fabs', 'fld tword [rel nzero]', 'fabs', 'fchs', 'fld tword [rel unnormal]', 'fchs', 'fabs'].join('\n'), { x80: ['snan', 'nzero', 'unnormal'] });
  slot = 0;
  const trig: X80Name[] = ['pzero', 'nzero', 'one', 'pointFive', 'mPointSeven', 'three', 'third', 'twoPointFive', 'p2p63', 'm2p63', 'big', 'pi', 'denormMin', 'qnan', 'snan', 'pinf', 'huge', 'minNormal'];
  for (const [rc, pc] of [[0, 64], [1, 24], [3, 53]] as const) {
    slot = 0;
    add(`fsin/fcos/fsincos/fptan RC=${rc} PC=${pc} (QEMU: host libm on doubles)`, ['fldcw [rel w0]', ...trig.map((v) => `fld tword [rel ${v}]\nfld st0\nfld st0\nfld st0\nfsin\n${store()}\nfcos\n${store()}\nfptan\n${store()}\n${store()}\nfsincos\n${store()}\n${store()}\nfninit\nfldcw [rel w0]`)].join('\n'),
      { x80: trig, words: [fcw(rc, pc)] });
  }

  // F2XM1 over every table interval of QEMU's algorithm: off-grid points, exact multiples of 1/32, tiny and special values.
  const f2xm1Inputs: bigint[] = [];
  for (let k = 0; k <= 64; k++) {
    const t = (k - 32) / 32;
    f2xm1Inputs.push(doubleToX80(t + 0.0123), doubleToX80(t - 0.0071), doubleToX80(t));
  }
  f2xm1Inputs.push(X80.denormMax, X80.ndenorm, X80.pseudoDenorm, 0x3faf_f123456789abcdefn, 0xbfa0_8000000000000001n, X80.pzero, X80.nzero, X80.one, X80.mone,
    0x3fff_8000000000000001n, X80.pinf, X80.ninf, X80.qnan, X80.snan, X80.unnormal, 0x3ffd_aaaaaaaaaaaaaaabn, 0xbffe_ffffffffffffffffn);
  for (let start = 0; start < f2xm1Inputs.length; start += 40) {
    for (const [rc, pc] of [[0, 64], [1, 24], [2, 53], [3, 64]] as const) {
      if (start > 0 && rc !== 0) continue;
      slot = 0;
      const chunk = f2xm1Inputs.slice(start, start + 40);
      const labels = chunk.map((_, i) => `fx${i}`);
      out.push({ name: `x87 f2xm1 inputs ${start}–${start + chunk.length - 1} RC=${rc} PC=${pc}`,
        asm: programWith(['fldcw [rel w0]', ...labels.map((l) => `fld tword [rel ${l}]\nf2xm1\n${store()}`)].join('\n'), labels.map((l, i) => [l, chunk[i]!]), [fcw(rc, pc)]) });
    }
  }

  // FYL2X / FYL2XP1 (QEMU's 128-bit polynomial algorithms): ST(0) across ranges and the √2 split, ST(1) special and ordinary.
  const log2Args: bigint[] = [X80.one, X80.three, X80.pi, X80.pointFive, X80.third, X80.nearTwo, 0x3fff_8000000000000001n, 0x3ffe_ffffffffffffffffn,
    0x3fff_b504f333f9de6484n, 0x3fff_b504f333f9de6485n, 0x4000_8000000000000000n, 0x7ffe_c000000000000000n, X80.denormMax, X80.minNormal, X80.huge,
    doubleToX80(1e-300), doubleToX80(12345.678), doubleToX80(0.999), X80.pzero, X80.nzero, X80.mone, X80.pinf, X80.qnan, X80.snan, X80.unnormal];
  const log2Scales: bigint[] = [X80.one, X80.mTwoPointFive, X80.third, X80.pzero, X80.ninf, X80.denormMin];
  const lnp1Args: bigint[] = [doubleToX80(0.1), doubleToX80(-0.2), doubleToX80(0.29), doubleToX80(-0.29), 0x3ffd_d413cccfe7799211n, 0x3ffd_d413cccfe7799212n,
    0xbffd_95f619980c4336f7n, 0xbffd_95f619980c4336f8n, 0x3fb0_8000000000000000n, 0x3faf_ffffffffffffffffn, 0xbf80_c000000000000000n, X80.denormMax,
    doubleToX80(1e-10), doubleToX80(-3e-5), X80.pzero, X80.nzero, X80.one, X80.qnan, X80.pinf];
  for (const [name, args] of [['fyl2x', log2Args], ['fyl2xp1', lnp1Args]] as const) {
    for (const [rc, pc] of [[0, 64], [1, 24], [2, 53], [3, 64]] as const) {
      slot = 0;
      const labels = [...args.map((_, i) => `la${i}`), ...log2Scales.map((_, i) => `ls${i}`)];
      const values = [...args, ...log2Scales];
      const body = ['fldcw [rel w0]'];
      args.forEach((_, i) => body.push(`fld tword [rel ls${(i * (rc + 1)) % log2Scales.length}]\nfld tword [rel la${i}]\n${name}\n${store()}`));
      out.push({ name: `x87 ${name} RC=${rc} PC=${pc}`, asm: programWith(body.join('\n'), labels.map((l, i) => [l, values[i]!]), [fcw(rc, pc)]) });
    }
  }

  // FPATAN: ST(1)/ST(0) over all quadrants, every 1/8 table interval, exponent gaps ≥ 80 (the division path), zeros, infinities, NaNs.
  const atanPairs: Array<[bigint, bigint]> = [];
  for (let k = 0; k <= 16; k++) {
    const ratio = k / 16 + 0.0137;
    atanPairs.push([doubleToX80(ratio), X80.one], [X80.one, doubleToX80(ratio + 0.3)], [doubleToX80(-ratio), X80.mone], [doubleToX80(ratio * 3), doubleToX80(-2.5)]);
  }
  atanPairs.push([doubleToX80(0.125), X80.one], [X80.one, 0x4063_8000000000000000n], [0x4063_8000000000000000n, X80.one], [X80.one, 0xc063_8000000000000000n],
    [X80.three, 0x4063_c000000000000000n], [X80.pzero, X80.one], [X80.nzero, X80.mone], [X80.pzero, X80.mone], [X80.one, X80.pzero], [X80.one, X80.nzero],
    [X80.pinf, X80.one], [X80.ninf, X80.mone], [X80.pinf, X80.pinf], [X80.pinf, X80.ninf], [X80.one, X80.pinf], [X80.one, X80.ninf], [X80.denormMax, X80.one],
    [X80.one, X80.denormMin], [X80.denormMin, X80.denormMax], [X80.qnan, X80.one], [X80.one, X80.snan], [X80.unnormal, X80.one], [X80.minNormal, X80.huge]);
  for (let start = 0; start < atanPairs.length; start += 35) {
    for (const [rc, pc] of [[0, 64], [1, 24], [2, 53], [3, 64]] as const) {
      if (start > 0 && rc !== 0) continue;
      slot = 0;
      const chunk = atanPairs.slice(start, start + 35);
      const consts: Array<[string, bigint]> = chunk.flatMap(([y, xv], i) => [[`ay${i}`, y], [`ax${i}`, xv]] as Array<[string, bigint]>);
      const body = ['fldcw [rel w0]', ...chunk.map((_, i) => `fld tword [rel ay${i}]\nfld tword [rel ax${i}]\nfpatan\n${store()}`)];
      out.push({ name: `x87 fpatan pairs ${start}–${start + chunk.length - 1} RC=${rc} PC=${pc}`, asm: programWith(body.join('\n'), consts, [fcw(rc, pc)]) });
    }
  }

  // ---- environment images ----------------------------------------------------------------
  add('fnstenv/fldenv 28-byte and 14-byte forms', ['fld1', 'fldpi', 'fld tword [rel snan]', 'fadd st0, st1', 'fstp dword [0x20010]', 'fnstenv [0x20100]', 'o16 fnstenv [0x20200]',
    'fninit', 'fldenv [0x20100]', 'fnstsw ax', 'fxam', 'fninit', 'o16 fldenv [0x20200]', 'fnstenv [0x20300]', 'fldenv [rel b0]', 'fnstenv [0x20400]'].join('\n'),
  { x80: ['snan'], bytes: [[0x7f, 0x0b, 0, 0, 0x00, 0x38, 0, 0, 0xff, 0x3f, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]] });
  add('fnsave/frstor (28-byte, 14-byte and REX.W forms)', ['fld1', 'fldpi', 'fldz', 'fld tword [rel third]', 'fld tword [rel ndenorm]', 'fnsave [0x20100]', 'fnstsw ax', 'frstor [0x20100]',
    'o16 fnsave [0x20200]', 'o16 frstor [0x20200]', 'fxch st2', 'db 0x48, 0xdd, 0x34, 0x25, 0x00, 0x03, 0x02, 0x00', 'db 0x48, 0xdd, 0x24, 0x25, 0x00, 0x03, 0x02, 0x00',
    'fstp tword [0x20000]', 'fincstp'].join('\n'), { x80: ['third', 'ndenorm'] });
  add('pointers: FDP/FDS from memory forms, FIP kept by control instructions', ['fld tword [rel pi]', 'mov rbx, 0x20040', 'fst dword [rbx+8]', 'fnstcw [0x20100]', 'fnop',
    'fnstenv [0x20200]', 'fadd st0, st0', 'fnstenv [0x20240]', 'fiadd dword [rsp-16]', 'fnstenv [0x20280]'].join('\n'), { x80: ['pi'] });
  // found by difftest fuzz --family sse --family x87 --raw (seed 6): QEMU quietens a signalling pseudo-NaN with J set
  add('fyl2x/fyl2xp1/fpatan quieten a signalling pseudo-NaN (integer bit clear) in ST(1) or ST(0)', ['mov rax, 0x1f80fa4e07269fd8', 'mov [0x20000], rax',
    'mov word [0x20008], 0xffff', 'fld tword [0x20000]', 'fld1', 'fyl2xp1', 'fld tword [0x20000]', 'fldpi', 'fyl2x', 'fld1', 'fld tword [0x20000]', 'fpatan',
    'fld tword [0x20000]', 'fld tword [0x20000]', 'fyl2x', 'fnstsw ax'].join('\n'));
  // found by difftest fuzz --family x87 --raw: QEMU 7.2 records the prefix 64-bit mode ignores
  add('pointers: FDS after CS/SS/ES/DS prefixes 64-bit mode ignores (QEMU records the prefix)', ['mov rbx, 0x20040', 'db 0x2e', 'fld dword [rbx]',
    'fnstenv [0x20200]', 'db 0x36', 'fst dword [rbx+8]', 'fnstenv [0x20240]', 'db 0x26, 0x2e', 'fadd dword [rbx]', 'fnsave [0x20280]',
    'db 0x2e, 0x3e', 'fld dword [rsp-8]', 'fnstenv [0x20300]'].join('\n'));

  // ---- random operands (fixed seed) ----------------------------------------------------
  const rand = xorshift(0x87d1f2e3n);
  for (let k = 0; k < 12; k++) {
    slot = 0;
    const values = Array.from({ length: 16 }, () => randomX80(rand));
    const labels = values.map((_, i) => `rnd${i}`);
    const ops = ['fadd st0, st1', 'fsub st0, st1', 'fmul st0, st1', 'fdiv st0, st1', 'fsqrt', 'frndint', 'fprem', 'fscale', 'fxtract', 'fcom st1'];
    const body = [`fldcw [rel w0]`];
    for (let i = 0; i < 16; i += 2) {
      const op = ops[Number(rand() % BigInt(ops.length))]!;
      body.push(`fld tword [rel ${labels[i]}]\nfld tword [rel ${labels[i + 1]}]\n${op}\n${store()}\n${store()}\nfninit\nfldcw [rel w0]`);
    }
    const cw = fcw(Number(rand() & 3n), ([24, 53, 64] as const)[Number(rand() % 3n)]!);
    out.push({ name: `x87 random operands #${k} (fcw 0x${cw.toString(16)})`, asm: programWith(body.join('\n'), labels.map((l, i) => [l, values[i]!]), [cw]) });
  }

  // Transcendentals on random in-domain operands (fixed seed).
  const trand = xorshift(0x5eed7a11n);
  const fraction = () => Number(trand() % 1000000n) / 1000000;
  for (let k = 0; k < 4; k++) {
    slot = 0;
    const consts: Array<[string, bigint]> = [];
    const body: string[] = ['fldcw [rel w0]'];
    for (let i = 0; i < 10; i++) {
      const sign = trand() & 1n ? -1 : 1;
      const scale = 2 ** -Number(trand() % 40n);
      const cases: Array<[string, number, number]> = [
        ['f2xm1', sign * fraction() * scale, 0], ['fyl2x', (fraction() + 0.001) * 2 ** Number(trand() % 64n - 32n), sign * (fraction() + 0.5)],
        ['fyl2xp1', sign * fraction() * 0.29 * scale, fraction() * 10], ['fpatan', sign * fraction() * 2 ** Number(trand() % 20n - 10n), (fraction() - 0.5) * 8],
        ['fsin', sign * fraction() * 2 ** Number(trand() % 30n), 0],
      ];
      for (const [op, st0, st1] of cases) {
        const j = consts.length;
        consts.push([`ta${j}`, doubleToX80(st0 === 0 ? 0.5 : st0)], [`tb${j}`, doubleToX80(st1 === 0 ? 1 : st1)]);
        body.push(`fld tword [rel tb${j}]\nfld tword [rel ta${j}]\n${op}\n${store()}${op === 'f2xm1' || op === 'fsin' ? `\n${store()}` : ''}`);
      }
    }
    const cw = fcw(Number(trand() & 3n), ([24, 53, 64] as const)[Number(trand() % 3n)]!);
    out.push({ name: `x87 transcendentals on random operands #${k} (fcw 0x${cw.toString(16)})`, asm: programWith(body.join('\n'), consts, [cw]) });
  }

  // ---- exceptions ------------------------------------------------------------------------
  add('unmasked IE: FSW.ES/B, then #MF at FWAIT', ['fldcw [rel w0]', 'fld1', 'fld tword [rel snan]', 'fadd st0, st1', 'fnstsw ax', 'fld1', 'fwait'].join('\n'),
    { x80: ['snan'], words: [0x037e] });
  add('unmasked ZE: #MF at FNOP', ['fldcw [rel w0]', 'fld1', 'fldz', 'fdivp st1, st0', 'fnstsw ax', 'fnop'].join('\n'), { words: [0x037b] });
  add('FLDCW unmasking a pending exception does not set ES', ['fld1', 'fldz', 'fdivp st1, st0', 'fldcw [rel w0]', 'fnstsw ax', 'fwait', 'fnclex', 'fwait'].join('\n'), { words: [0x037b] });
  add('CR0.TS: #NM on an x87 instruction', ['mov rax, cr0', 'or eax, 8', 'mov cr0, rax', 'fld1'].join('\n'));
  add('CR0.TS with MP: #NM on FWAIT', ['mov rax, cr0', 'or eax, 8', 'mov cr0, rax', 'fwait'].join('\n'));
  add('CR0.EM: #NM on an x87 instruction', ['mov rax, cr0', 'or eax, 4', 'mov cr0, rax', 'fldz'].join('\n'));
  add('unmasked OE/UE/PE/IE: QEMU still stores the rounded result (and the integer indefinite)', ['fldcw [rel w0]', 'fld tword [rel huge]', 'fst dword [0x20000]', 'fst qword [0x20008]',
    'fld tword [rel denormMax]', 'fst dword [0x20010]', 'fld tword [rel qnan]', 'fist dword [0x20020]', 'fistp word [0x20024]', 'fld1', 'fld tword [rel snan]', 'faddp st1, st0', 'fnstsw ax'].join('\n'),
  { x80: ['huge', 'denormMax', 'qnan', 'snan'], words: [0x0340] });
  add('pointers with FS/GS overrides, addr32 and a stack operand', ['mov eax, 0x20000', 'fs fld dword [0x20000]', 'fnstenv [0x20100]', 'gs fild word [0x20004]', 'fnstenv [0x20140]',
    'fld qword [eax+8]', 'fnstenv [0x20180]', 'push rax', 'fild dword [rsp]', 'pop rax', 'fnstenv [0x201c0]', 'fld tword [rbp+rax*1+0x10]', 'fnstenv [0x20200]'].join('\n'));
  add('#PF: FLD m80 across into an unmapped page (nothing pushed)', ['fld1', 'fld tword [0x2fff8]'].join('\n'));
  add('#PF: FSTP m80 across into an unmapped page (first 8 bytes written, no pop)', ['fld1', 'fldpi', 'fstp tword [0x2fff8]'].join('\n'));
  add('#PF: FIST to a read-only page (flags already merged, no pop)', ['fld tword [rel third]', 'fistp dword [0x100]'].join('\n'), { x80: ['third'] });
  add('#PF: FNSAVE across into an unmapped page', ['fld1', 'fldpi', 'fnsave [0x2ffa0]'].join('\n'));
  add('#UD: holes in the x87 map', 'db 0xd9, 0xd1');
  add('#UD: D9 /1 memory form', 'db 0xd9, 0x08');
  add('#UD: LOCK on x87', 'mov rax, 0x20000\ndb 0xf0, 0xd8, 0x00', {}, 'QEMU 7.2 ignores LOCK on x87 instructions and executes FADD; the SDM says #UD, which the emulator raises');
  return out;
}
