import type { Cpu } from '../cpu/cpu.js';
import { CC } from '../cpu/lazy-flags.js';
import type { Insn } from '../decode/insn.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';
import { readOpBig, writeOpBig } from './operands.js';

/**
 * MUL / IMUL (one, two, three operands) / DIV / IDIV. Flags follow QEMU's CC_OP_MUL: CF = OF =
 * "the high half matters"; SF, ZF, PF from the low half; AF = 0. DIV/IDIV leave flags untouched.
 * BigInt here is deliberate: these are rare next to ADD/MOV and correctness is subtle.
 */

function bitsOf(size: number): bigint {
  return BigInt(size * 8);
}

function signed(v: bigint, size: number): bigint {
  return BigInt.asIntN(size * 8, v);
}

function getAcc(c: Cpu, n: number, size: number): bigint {
  if (size === 1) return BigInt(n === 0 ? c.getReg(0, 1) : c.getReg(16, 1)); // AL, AH
  if (size === 8) return c.get64(n);
  return BigInt(c.getReg(n, size));
}

function setAcc(c: Cpu, n: number, size: number, v: bigint): void {
  if (size === 8) c.set64(n, BigInt.asUintN(64, v));
  else c.setReg(n, size, Number(BigInt.asUintN(size * 8, v)));
}

/** Record MUL-style lazy flags: res = low half, a = overflow indicator. */
function mulFlags(c: Cpu, size: number, low: bigint, overflow: boolean): void {
  const u = BigInt.asUintN(size * 8, low);
  c.setCc(CC.Mul, size, Number(u & 0xffffffffn), Number(u >> 32n), overflow ? 1 : 0, 0, 0, 0);
}

export function mul(c: Cpu, d: Insn): void {
  const s = d.os[0]!;
  const src = readOpBig(c, d, 0);
  const p = getAcc(c, 0, s) * src;
  const lo = BigInt.asUintN(s * 8, p);
  const hi = p >> bitsOf(s);
  if (s === 1) c.setReg(0, 2, Number(p));
  else {
    setAcc(c, 0, s, lo);
    setAcc(c, 2, s, hi);
  }
  mulFlags(c, s, lo, hi !== 0n);
}

export function imul1(c: Cpu, d: Insn): void {
  const s = d.os[0]!;
  const src = signed(readOpBig(c, d, 0), s);
  const p = signed(getAcc(c, 0, s), s) * src;
  const lo = BigInt.asUintN(s * 8, p);
  if (s === 1) c.setReg(0, 2, Number(BigInt.asUintN(16, p)));
  else {
    setAcc(c, 0, s, lo);
    setAcc(c, 2, s, p >> bitsOf(s));
  }
  mulFlags(c, s, lo, signed(lo, s) !== p);
}

function imulInto(c: Cpu, d: Insn, a: bigint, b: bigint): void {
  const s = d.os[0]!;
  const p = signed(a, s) * signed(b, s);
  const lo = BigInt.asUintN(s * 8, p);
  writeOpBig(c, d, 0, lo);
  mulFlags(c, s, lo, signed(lo, s) !== p);
}

/** IMUL Gv, Ev */
export function imul2(c: Cpu, d: Insn): void {
  const b = readOpBig(c, d, 1);
  imulInto(c, d, readOpBig(c, d, 0), b);
}

/** IMUL Gv, Ev, Ib/Iz */
export function imul3(c: Cpu, d: Insn): void {
  const a = readOpBig(c, d, 1);
  const imm = readOpBig(c, d, 2);
  imulInto(c, d, a, imm);
}

function dividend(c: Cpu, s: number): bigint {
  if (s === 1) return BigInt(c.getReg(0, 2));
  return (getAcc(c, 2, s) << bitsOf(s)) | getAcc(c, 0, s);
}

function storeQuotient(c: Cpu, s: number, q: bigint, r: bigint): void {
  if (s === 1) {
    c.setReg(0, 1, Number(BigInt.asUintN(8, q)));
    c.setReg(16, 1, Number(BigInt.asUintN(8, r)));
  } else {
    setAcc(c, 0, s, q);
    setAcc(c, 2, s, r);
  }
}

export function div(c: Cpu, d: Insn): void {
  const s = d.os[0]!;
  const divisor = readOpBig(c, d, 0);
  if (divisor === 0n) throw new GuestFault(Vec.DE);
  const n = dividend(c, s);
  const q = n / divisor;
  if (q >> bitsOf(s) !== 0n) throw new GuestFault(Vec.DE);
  storeQuotient(c, s, q, n % divisor);
}

export function idiv(c: Cpu, d: Insn): void {
  const s = d.os[0]!;
  const divisor = signed(readOpBig(c, d, 0), s);
  if (divisor === 0n) throw new GuestFault(Vec.DE);
  const n = BigInt.asIntN(s * 16, dividend(c, s));
  const q = n / divisor; // BigInt division truncates toward zero, like IDIV
  if (signed(q, s) !== q) throw new GuestFault(Vec.DE);
  storeQuotient(c, s, q, n % divisor);
}
