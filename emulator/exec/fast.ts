import type { Cpu } from '../cpu/cpu.js';
import { CC } from '../cpu/lazy-flags.js';
import { BASE_RIP, type Insn, Opnd } from '../decode/insn.js';
import { add64MemSourceHi } from './alu.js';
import { ZF } from '../isa/flags.js';
import { testCondition } from './conditions.js';
import { shift } from './shifts.js';
import type { Handler } from './handlers.js';

/**
 * Operand-form-specialised handlers, chosen once per decoded instruction (Machine.fetchDecode)
 * for the hottest rows: ALU and MOV on 32/64-bit registers with a register, immediate or
 * memory source, LEA, INC/DEC, Jcc, PUSH/POP of a register. Each does exactly what the row's
 * generic handler does for that form (same results, lazy-flag record, fault order), without
 * the readOp/writeOp switches. Registers live in c.regs: `d.ra`/`d.rb` are the array indices
 * (2n) of operands 0 and 1. Anything not covered here keeps the generic handler.
 *
 * Planted bugs stay on these paths: add64MemSourceHi (mutants.add64MemTrunc32) is shared with
 * the generic ALU; RIP-relative LEA (mutants.ripRelFromStart) and every form a mutant touches
 * otherwise are left to the generic handlers.
 */

// ---- ALU: a op= b with lazy flags, as alu() records them --------------------------------------


function add64(c: Cpu, x: number, b: number, bh: number): void {
  const r = c.regs;
  const a = r[x]!;
  const ah = r[x + 1]!;
  const t = a + b;
  const lo = t >>> 0;
  const hi = (ah + bh + (t > 0xffffffff ? 1 : 0)) >>> 0;
  r[x] = lo;
  r[x + 1] = hi;
  c.setCc(CC.Add, 8, lo, hi, a, ah, b, bh);
  c.cc.cin = 0;
}

function sub64(c: Cpu, x: number, b: number, bh: number, write: boolean): void {
  const r = c.regs;
  const a = r[x]!;
  const ah = r[x + 1]!;
  const t = a - b;
  const lo = t >>> 0;
  const hi = (ah - bh - (t < 0 ? 1 : 0)) >>> 0;
  if (write) {
    r[x] = lo;
    r[x + 1] = hi;
  }
  c.setCc(CC.Sub, 8, lo, hi, a, ah, b, bh);
  c.cc.cin = 0;
}

/** OR (1), AND (4), XOR (6). */
function logic64(c: Cpu, x: number, b: number, bh: number, op: number): void {
  const r = c.regs;
  const a = r[x]!;
  const ah = r[x + 1]!;
  const lo = (op === 1 ? a | b : op === 4 ? a & b : a ^ b) >>> 0;
  const hi = (op === 1 ? ah | bh : op === 4 ? ah & bh : ah ^ bh) >>> 0;
  r[x] = lo;
  r[x + 1] = hi;
  c.setCc(CC.Logic, 8, lo, hi, a, ah, b, bh);
  c.cc.cin = 0;
}

function add32(c: Cpu, x: number, b: number): void {
  const r = c.regs;
  const a = r[x]!;
  const lo = (a + b) >>> 0;
  r[x] = lo;
  r[x + 1] = 0;
  c.setCc(CC.Add, 4, lo, 0, a, 0, b, 0);
  c.cc.cin = 0;
}

function sub32(c: Cpu, x: number, b: number, write: boolean): void {
  const r = c.regs;
  const a = r[x]!;
  const lo = (a - b) >>> 0;
  if (write) {
    r[x] = lo;
    r[x + 1] = 0;
  }
  c.setCc(CC.Sub, 4, lo, 0, a, 0, b, 0);
  c.cc.cin = 0;
}

function logic32(c: Cpu, x: number, b: number, op: number): void {
  const r = c.regs;
  const a = r[x]!;
  const lo = (op === 1 ? a | b : op === 4 ? a & b : a ^ b) >>> 0;
  r[x] = lo;
  r[x + 1] = 0;
  c.setCc(CC.Logic, 4, lo, 0, a, 0, b, 0);
  c.cc.cin = 0;
}

const add64rr: Handler = (c, d) => add64(c, d.ra, c.regs[d.rb]!, c.regs[d.rb + 1]!);
const add64ri: Handler = (c, d) => add64(c, d.ra, d.imm, d.immHi);
const add64rm: Handler = (c, d) => {
  const b = c.read64(c.lin);
  add64(c, d.ra, b, add64MemSourceHi(c.hi));
};
const sub64rr: Handler = (c, d) => sub64(c, d.ra, c.regs[d.rb]!, c.regs[d.rb + 1]!, true);
const sub64ri: Handler = (c, d) => sub64(c, d.ra, d.imm, d.immHi, true);
const sub64rm: Handler = (c, d) => {
  const b = c.read64(c.lin);
  sub64(c, d.ra, b, c.hi, true);
};
const cmp64rr: Handler = (c, d) => sub64(c, d.ra, c.regs[d.rb]!, c.regs[d.rb + 1]!, false);
const cmp64ri: Handler = (c, d) => sub64(c, d.ra, d.imm, d.immHi, false);
const cmp64rm: Handler = (c, d) => {
  const b = c.read64(c.lin);
  sub64(c, d.ra, b, c.hi, false);
};
const or64rr: Handler = (c, d) => logic64(c, d.ra, c.regs[d.rb]!, c.regs[d.rb + 1]!, 1);
const or64ri: Handler = (c, d) => logic64(c, d.ra, d.imm, d.immHi, 1);
const or64rm: Handler = (c, d) => {
  const b = c.read64(c.lin);
  logic64(c, d.ra, b, c.hi, 1);
};
const and64rr: Handler = (c, d) => logic64(c, d.ra, c.regs[d.rb]!, c.regs[d.rb + 1]!, 4);
const and64ri: Handler = (c, d) => logic64(c, d.ra, d.imm, d.immHi, 4);
const and64rm: Handler = (c, d) => {
  const b = c.read64(c.lin);
  logic64(c, d.ra, b, c.hi, 4);
};
const xor64rr: Handler = (c, d) => logic64(c, d.ra, c.regs[d.rb]!, c.regs[d.rb + 1]!, 6);
const xor64ri: Handler = (c, d) => logic64(c, d.ra, d.imm, d.immHi, 6);
const xor64rm: Handler = (c, d) => {
  const b = c.read64(c.lin);
  logic64(c, d.ra, b, c.hi, 6);
};

const add32rr: Handler = (c, d) => add32(c, d.ra, c.regs[d.rb]!);
const add32ri: Handler = (c, d) => add32(c, d.ra, d.imm);
const add32rm: Handler = (c, d) => add32(c, d.ra, c.read32(c.lin));
const sub32rr: Handler = (c, d) => sub32(c, d.ra, c.regs[d.rb]!, true);
const sub32ri: Handler = (c, d) => sub32(c, d.ra, d.imm, true);
const sub32rm: Handler = (c, d) => sub32(c, d.ra, c.read32(c.lin), true);
const cmp32rr: Handler = (c, d) => sub32(c, d.ra, c.regs[d.rb]!, false);
const cmp32ri: Handler = (c, d) => sub32(c, d.ra, d.imm, false);
const cmp32rm: Handler = (c, d) => sub32(c, d.ra, c.read32(c.lin), false);
const or32rr: Handler = (c, d) => logic32(c, d.ra, c.regs[d.rb]!, 1);
const or32ri: Handler = (c, d) => logic32(c, d.ra, d.imm, 1);
const or32rm: Handler = (c, d) => logic32(c, d.ra, c.read32(c.lin), 1);
const and32rr: Handler = (c, d) => logic32(c, d.ra, c.regs[d.rb]!, 4);
const and32ri: Handler = (c, d) => logic32(c, d.ra, d.imm, 4);
const and32rm: Handler = (c, d) => logic32(c, d.ra, c.read32(c.lin), 4);
const xor32rr: Handler = (c, d) => logic32(c, d.ra, c.regs[d.rb]!, 6);
const xor32ri: Handler = (c, d) => logic32(c, d.ra, d.imm, 6);
const xor32rm: Handler = (c, d) => logic32(c, d.ra, c.read32(c.lin), 6);

/** [op][form]: form 0 = reg source, 1 = immediate, 2 = memory source; ADC (2) and SBB (3) stay generic. */
const ALU64: ReadonlyArray<readonly Handler[] | undefined> = [
  [add64rr, add64ri, add64rm], [or64rr, or64ri, or64rm], undefined, undefined,
  [and64rr, and64ri, and64rm], [sub64rr, sub64ri, sub64rm], [xor64rr, xor64ri, xor64rm], [cmp64rr, cmp64ri, cmp64rm],
];
const ALU32: ReadonlyArray<readonly Handler[] | undefined> = [
  [add32rr, add32ri, add32rm], [or32rr, or32ri, or32rm], undefined, undefined,
  [and32rr, and32ri, and32rm], [sub32rr, sub32ri, sub32rm], [xor32rr, xor32ri, xor32rm], [cmp32rr, cmp32ri, cmp32rm],
];

// ---- TEST, INC/DEC ----------------------------------------------------------------------------

const test64rr: Handler = (c, d) => {
  const r = c.regs;
  c.setCc(CC.Logic, 8, (r[d.ra]! & r[d.rb]!) >>> 0, (r[d.ra + 1]! & r[d.rb + 1]!) >>> 0, 0, 0, 0, 0);
};
const test32rr: Handler = (c, d) => {
  const r = c.regs;
  c.setCc(CC.Logic, 4, (r[d.ra]! & r[d.rb]!) >>> 0, 0, 0, 0, 0, 0);
};
const test64ri: Handler = (c, d) => {
  const r = c.regs;
  c.setCc(CC.Logic, 8, (r[d.ra]! & d.imm) >>> 0, (r[d.ra + 1]! & d.immHi) >>> 0, 0, 0, 0, 0);
};
const test32ri: Handler = (c, d) => {
  c.setCc(CC.Logic, 4, (c.regs[d.ra]! & d.imm) >>> 0, 0, 0, 0, 0, 0);
};

/** INC/DEC keep CF: it is saved in cin (computed from the previous flag state first). */
function incDec64(c: Cpu, x: number, delta: number, op: CC): void {
  const r = c.regs;
  const a = r[x]!;
  const ah = r[x + 1]!;
  const t = a + delta;
  const lo = t >>> 0;
  const hi = (ah + (t > 0xffffffff ? 1 : t < 0 ? -1 : 0)) >>> 0;
  const cf = c.carry();
  r[x] = lo;
  r[x + 1] = hi;
  c.setCc(op, 8, lo, hi, a, ah, 1, 0);
  c.cc.cin = cf;
}

function incDec32(c: Cpu, x: number, delta: number, op: CC): void {
  const r = c.regs;
  const a = r[x]!;
  const lo = (a + delta) >>> 0;
  const cf = c.carry();
  r[x] = lo;
  r[x + 1] = 0;
  c.setCc(op, 4, lo, 0, a, 0, 1, 0);
  c.cc.cin = cf;
}

const inc64r: Handler = (c, d) => incDec64(c, d.ra, 1, CC.Inc);
const dec64r: Handler = (c, d) => incDec64(c, d.ra, -1, CC.Dec);
const inc32r: Handler = (c, d) => incDec32(c, d.ra, 1, CC.Inc);
const dec32r: Handler = (c, d) => incDec32(c, d.ra, -1, CC.Dec);

// ---- MOV, LEA ---------------------------------------------------------------------------------

const mov64rr: Handler = (c, d) => {
  const r = c.regs;
  const y = d.rb;
  const lo = r[y]!;
  const hi = r[y + 1]!;
  r[d.ra] = lo;
  r[d.ra + 1] = hi;
};
const mov32rr: Handler = (c, d) => {
  const r = c.regs;
  r[d.ra] = r[d.rb]!;
  r[d.ra + 1] = 0;
};
const mov64ri: Handler = (c, d) => {
  c.regs[d.ra] = d.imm;
  c.regs[d.ra + 1] = d.immHi;
};
const mov32ri: Handler = (c, d) => {
  c.regs[d.ra] = d.imm;
  c.regs[d.ra + 1] = 0;
};
const mov64rm: Handler = (c, d) => {
  const lo = c.read64(c.lin);
  c.regs[d.ra] = lo;
  c.regs[d.ra + 1] = c.hi;
};
const mov32rm: Handler = (c, d) => {
  const lo = c.read32(c.lin);
  c.regs[d.ra] = lo;
  c.regs[d.ra + 1] = 0;
};
const mov8rm: Handler = (c, d) => {
  const v = c.read8(c.lin);
  const r = c.regs;
  r[d.ra] = (r[d.ra]! & 0xffffff00) | v;
};
const mov64mr: Handler = (c, d) => c.write64(c.lin, c.regs[d.rb]!, c.regs[d.rb + 1]!);
const mov32mr: Handler = (c, d) => c.write32(c.lin, c.regs[d.rb]!);
const mov8mr: Handler = (c, d) => c.write8(c.lin, c.regs[d.rb]!);

/** LEA with a 64-bit address, not RIP-relative: base + index << scale + disp, modulo 2^64. */
function lea64Address(c: Cpu, d: Insn): number {
  const r = c.regs;
  let lo = d.disp >>> 0;
  let hi = d.disp < 0 ? 0xffffffff : 0;
  let t: number;
  const base = d.base;
  if (base >= 0) {
    t = lo + r[base << 1]!;
    lo = t >>> 0;
    hi = (hi + r[(base << 1) + 1]! + (t > 0xffffffff ? 1 : 0)) >>> 0;
  }
  const index = d.index;
  if (index >= 0) {
    const s = d.scale;
    const il = r[index << 1]!;
    const ih = r[(index << 1) + 1]!;
    const sl = s === 0 ? il : (il << s) >>> 0;
    const sh = s === 0 ? ih : ((ih << s) | (il >>> (32 - s))) >>> 0;
    t = lo + sl;
    lo = t >>> 0;
    hi = (hi + sh + (t > 0xffffffff ? 1 : 0)) >>> 0;
  }
  c.hi = hi;
  return lo;
}

const lea64: Handler = (c, d) => {
  const lo = lea64Address(c, d);
  c.regs[d.ra] = lo;
  c.regs[d.ra + 1] = c.hi;
};
const lea32: Handler = (c, d) => {
  c.regs[d.ra] = lea64Address(c, d);
  c.regs[d.ra + 1] = 0;
};

// ---- Jcc, PUSH/POP ----------------------------------------------------------------------------

const jcc64: Handler = (c, d) => {
  if (testCondition(c, d.arg)) c.branch(c.nextRip + (d.imm | 0), 8);
};

/** JZ/JNZ: ZF straight from the lazy result when there is one (testCondition's fast path). */
function zero(c: Cpu): boolean {
  const f = c.cc;
  if (f.op === CC.Eager) return (f.eager & ZF) !== 0;
  return f.size === 8 ? (f.res | f.resHi) === 0 : f.res === 0;
}
const jz64: Handler = (c, d) => {
  if (zero(c)) c.branch(c.nextRip + (d.imm | 0), 8);
};
const jnz64: Handler = (c, d) => {
  if (!zero(c)) c.branch(c.nextRip + (d.imm | 0), 8);
};

const push64r: Handler = (c, d) => c.push64(c.regs[d.ra]!, c.regs[d.ra + 1]!);
const pop64r: Handler = (c, d) => {
  const v = c.pop64();
  c.regs[d.ra] = v;
  c.regs[d.ra + 1] = c.hi;
};

/** CALL rel32 / RET with 64-bit operand size: the target is checked before anything moves. */
const call64: Handler = (c, d) => {
  const ret = c.nextRip;
  c.branch(ret + (d.imm | 0), 8);
  const hi = Math.floor(ret / 4294967296);
  c.push64((ret - hi * 4294967296) >>> 0, hi >>> 0);
};
const ret64: Handler = (c) => {
  const lo = c.peekStack(0, 8);
  c.branchHalves(lo, c.hi, 8);
  c.adjustRsp(8);
};

// ---- selection --------------------------------------------------------------------------------

/** A full 32/64-bit general register (not AH–BH, which only byte operands name). */
function fullReg(d: Insn, i: number): boolean {
  return d.ot[i] === Opnd.Reg && d.or[i]! < 16;
}

/** A handler specialised for this instruction's operand forms, or undefined (use the row's). */
export function specialise(d: Insn): Handler | undefined {
  const h = pick(d);
  if (h !== undefined) {
    d.ra = d.or[0]! << 1;
    d.rb = d.or[1]! << 1;
  }
  return h;
}

/**
 * SHL/SAL, SHR and SAR of a full register by a constant count (C1 ib, D1): the generic handler
 * under names of their own, so that the block compiler knows the form (FORMS below).
 */
const shl64ri: Handler = (c, d) => shift(c, d);
const shr64ri: Handler = (c, d) => shift(c, d);
const sar64ri: Handler = (c, d) => shift(c, d);
const shl32ri: Handler = (c, d) => shift(c, d);
const shr32ri: Handler = (c, d) => shift(c, d);
const sar32ri: Handler = (c, d) => shift(c, d);
/** By group-2 /digit: 4 SHL, 5 SHR, 6 SAL (= SHL), 7 SAR. */
const SHIFT_RI: Record<number, readonly [Handler, Handler]> = {
  4: [shl64ri, shl32ri],
  5: [shr64ri, shr32ri],
  6: [shl64ri, shl32ri],
  7: [sar64ri, sar32ri],
};

/** The count a constant-count shift applies (before masking), or -1 when the count is not constant. */
export function constantShiftCount(d: Insn): number {
  return d.ot[1] === Opnd.One ? 1 : d.ot[1] === Opnd.Imm ? d.imm & 0xff : -1;
}

function pick(d: Insn): Handler | undefined {
  const row = d.row;
  if (d.lock || d.rep !== 0 && row.rep !== 'none') return undefined;
  const s = d.os[0]!;
  const wide = s === 8 || s === 4;
  switch (row.handler) {
    case 'shift': {
      const forms = SHIFT_RI[d.arg];
      if (!wide || !fullReg(d, 0) || forms === undefined || constantShiftCount(d) < 0) return undefined;
      return forms[s === 8 ? 0 : 1];
    }
    case 'alu': {
      if (!wide || !fullReg(d, 0) || d.os[1] !== s) return undefined;
      const ops = (s === 8 ? ALU64 : ALU32)[d.arg];
      if (ops === undefined) return undefined;
      const t = d.ot[1];
      if (t === Opnd.Reg) return fullReg(d, 1) ? ops[0] : undefined;
      if (t === Opnd.Imm) return ops[1];
      if (t === Opnd.Mem) return ops[2];
      return undefined;
    }
    case 'test':
      if (!wide || !fullReg(d, 0) || d.os[1] !== s) return undefined;
      if (d.ot[1] === Opnd.Reg && fullReg(d, 1)) return s === 8 ? test64rr : test32rr;
      if (d.ot[1] === Opnd.Imm) return s === 8 ? test64ri : test32ri;
      return undefined;
    case 'inc':
    case 'dec':
      if (!wide || !fullReg(d, 0)) return undefined;
      if (row.handler === 'inc') return s === 8 ? inc64r : inc32r;
      return s === 8 ? dec64r : dec32r;
    case 'mov': {
      const t0 = d.ot[0];
      const t1 = d.ot[1];
      if (d.os[1] !== s) return undefined;
      if (s === 1) {
        // Byte loads and stores through AL…R15B (not AH–BH).
        if (t0 === Opnd.Reg && d.or[0]! < 16 && t1 === Opnd.Mem) return mov8rm;
        if (t0 === Opnd.Mem && t1 === Opnd.Reg && d.or[1]! < 16) return mov8mr;
        return undefined;
      }
      if (!wide) return undefined;
      if (fullReg(d, 0)) {
        if (t1 === Opnd.Reg && fullReg(d, 1)) return s === 8 ? mov64rr : mov32rr;
        if (t1 === Opnd.Imm) return s === 8 ? mov64ri : mov32ri;
        if (t1 === Opnd.Mem) return s === 8 ? mov64rm : mov32rm;
      } else if (t0 === Opnd.Mem && fullReg(d, 1)) return s === 8 ? mov64mr : mov32mr;
      return undefined;
    }
    case 'lea':
      if (!wide || d.asize !== 8 || d.absolute || d.base === BASE_RIP || !fullReg(d, 0)) return undefined;
      return s === 8 ? lea64 : lea32;
    case 'jcc':
      if (d.osize !== 8 || d.ot[0] !== Opnd.Imm) return undefined;
      return d.arg === 4 ? jz64 : d.arg === 5 ? jnz64 : jcc64;
    case 'push':
      return d.osize === 8 && fullReg(d, 0) ? push64r : undefined;
    case 'pop':
      return d.osize === 8 && fullReg(d, 0) ? pop64r : undefined;
    case 'call_rel':
      return d.osize === 8 ? call64 : undefined;
    case 'ret':
      return d.osize === 8 && d.ot[0] === Opnd.None ? ret64 : undefined;
    default:
      return undefined;
  }
}

// ---- forms for the block compiler -------------------------------------------------------------

/**
 * What a register-only specialised handler computes, for exec/block-compiler.ts, which emits
 * the same operations inline: `op` is the ALU operation (0 ADD, 1 OR, 4 AND, 5 SUB, 6 XOR,
 * 7 CMP), or 'test' | 'inc' | 'dec' | 'mov' | 'lea'; `src` is 'r' (register), 'i' (immediate)
 * or 'm' (the instruction's memory operand, not compiled).
 */
export interface FastForm {
  readonly op: number | 'test' | 'inc' | 'dec' | 'mov' | 'lea' | 'load' | 'store' | 'push' | 'pop' | 'shl' | 'shr' | 'sar';
  readonly size: 1 | 4 | 8;
  readonly src: 'r' | 'i' | 'm' | 'none';
}

const FORMS = new Map<Handler, FastForm>();
for (const [size, table] of [[8, ALU64], [4, ALU32]] as const) {
  table.forEach((ops, op) => {
    if (ops === undefined) return;
    FORMS.set(ops[0]!, { op, size, src: 'r' });
    FORMS.set(ops[1]!, { op, size, src: 'i' });
    FORMS.set(ops[2]!, { op, size, src: 'm' });
  });
}
FORMS.set(test64rr, { op: 'test', size: 8, src: 'r' });
FORMS.set(test32rr, { op: 'test', size: 4, src: 'r' });
FORMS.set(test64ri, { op: 'test', size: 8, src: 'i' });
FORMS.set(test32ri, { op: 'test', size: 4, src: 'i' });
FORMS.set(inc64r, { op: 'inc', size: 8, src: 'none' });
FORMS.set(inc32r, { op: 'inc', size: 4, src: 'none' });
FORMS.set(dec64r, { op: 'dec', size: 8, src: 'none' });
FORMS.set(dec32r, { op: 'dec', size: 4, src: 'none' });
FORMS.set(mov64rr, { op: 'mov', size: 8, src: 'r' });
FORMS.set(mov32rr, { op: 'mov', size: 4, src: 'r' });
FORMS.set(mov64ri, { op: 'mov', size: 8, src: 'i' });
FORMS.set(mov32ri, { op: 'mov', size: 4, src: 'i' });
FORMS.set(lea64, { op: 'lea', size: 8, src: 'none' });
FORMS.set(lea32, { op: 'lea', size: 4, src: 'none' });
// Register ↔ memory moves and PUSH/POP: memory access, no flags.
FORMS.set(mov64rm, { op: 'load', size: 8, src: 'm' });
FORMS.set(mov32rm, { op: 'load', size: 4, src: 'm' });
FORMS.set(mov8rm, { op: 'load', size: 1, src: 'm' });
FORMS.set(mov64mr, { op: 'store', size: 8, src: 'r' });
FORMS.set(mov32mr, { op: 'store', size: 4, src: 'r' });
FORMS.set(mov8mr, { op: 'store', size: 1, src: 'r' });
FORMS.set(push64r, { op: 'push', size: 8, src: 'r' });
FORMS.set(shl64ri, { op: 'shl', size: 8, src: 'i' });
FORMS.set(shr64ri, { op: 'shr', size: 8, src: 'i' });
FORMS.set(sar64ri, { op: 'sar', size: 8, src: 'i' });
FORMS.set(shl32ri, { op: 'shl', size: 4, src: 'i' });
FORMS.set(shr32ri, { op: 'shr', size: 4, src: 'i' });
FORMS.set(sar32ri, { op: 'sar', size: 4, src: 'i' });
FORMS.set(pop64r, { op: 'pop', size: 8, src: 'none' });

/** The form a specialised handler implements, undefined for generic handlers and other forms. */
export function fastForm(h: unknown): FastForm | undefined {
  return FORMS.get(h as Handler);
}
