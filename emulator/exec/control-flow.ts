import type { Cpu } from '../cpu/cpu.js';
import type { Insn } from '../decode/insn.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';
import { testCondition } from './conditions.js';
import { readOp, sext } from './operands.js';

/** JMP/Jcc/CALL/RET (near), LOOP/JrCXZ, INT n/INT3/INT1. */

function relTarget(c: Cpu, d: Insn): number {
  const rel = d.os[0] === 2 ? sext(d.imm, 2) : d.imm | 0;
  return c.nextRip + rel;
}

export function jmpRel(c: Cpu, d: Insn): void {
  c.branch(relTarget(c, d), d.osize);
}

export function jcc(c: Cpu, d: Insn): void {
  if (testCondition(c, d.arg)) c.branch(relTarget(c, d), d.osize);
}

export function jmpInd(c: Cpu, d: Insn): void {
  const lo = readOp(c, d, 0);
  c.branchHalves(lo, c.hi, d.osize);
}

export function callRel(c: Cpu, d: Insn): void {
  const target = relTarget(c, d);
  const ret = c.nextRip;
  c.branch(target, d.osize); // validates the target before anything is pushed
  pushReturn(c, d.osize, ret);
}

export function callInd(c: Cpu, d: Insn): void {
  const lo = readOp(c, d, 0);
  const ret = c.nextRip;
  c.branchHalves(lo, c.hi, d.osize);
  pushReturn(c, d.osize, ret);
}

function pushReturn(c: Cpu, size: number, ret: number): void {
  const hi = Math.floor(ret / 4294967296);
  c.push(size, (ret - hi * 4294967296) >>> 0, hi >>> 0);
}

export function ret(c: Cpu, d: Insn): void {
  const s = d.osize;
  const lo = c.peekStack(0, s);
  const hi = s === 8 ? c.hi : 0;
  c.branchHalves(lo, hi, s);
  c.adjustRsp(s + (d.ot[0] ? d.imm & 0xffff : 0));
}

/** Counter register per address size: RCX, ECX or CX. Returns the decremented value's zero-ness. */
function decCounter(c: Cpu, asize: number): boolean {
  if (asize === 8) {
    const lo = c.regs[2]!;
    const hi = c.regs[3]!;
    const nlo = (lo - 1) >>> 0;
    const nhi = lo === 0 ? (hi - 1) >>> 0 : hi;
    c.regs[2] = nlo;
    c.regs[3] = nhi;
    return (nlo | nhi) === 0;
  }
  const v = (c.getReg(1, asize) - 1) >>> 0;
  c.setReg(1, asize, asize === 2 ? v & 0xffff : v);
  return (asize === 2 ? v & 0xffff : v) === 0;
}

export function counterIsZero(c: Cpu, asize: number): boolean {
  if (asize === 8) return (c.regs[2]! | c.regs[3]!) === 0;
  return c.getReg(1, asize) === 0;
}

/** LOOPNE (arg 0), LOOPE (1), LOOP (2). */
export function loop(c: Cpu, d: Insn): void {
  const zero = decCounter(c, d.asize);
  let take = !zero;
  if (d.arg === 0) take &&= !testCondition(c, 4);
  else if (d.arg === 1) take &&= testCondition(c, 4);
  if (take) c.branch(relTarget(c, d), d.osize);
}

export function jrcxz(c: Cpu, d: Insn): void {
  if (counterIsZero(c, d.asize)) c.branch(relTarget(c, d), d.osize);
}

/** Software interrupts are traps: delivered with RIP after the instruction. */
export class SoftwareInterrupt {
  constructor(
    readonly vector: number,
    /** INT n checks the gate DPL; INT3/INTO do as well, INT1 does not. */
    readonly checkDpl: boolean,
  ) {}
}

export function int(c: Cpu, d: Insn): void {
  throw new SoftwareInterrupt(d.imm & 0xff, true);
}

export function int3(): void {
  throw new SoftwareInterrupt(Vec.BP, true);
}

export function int1(): void {
  throw new SoftwareInterrupt(Vec.DB, false);
}

export function ud(): void {
  throw new GuestFault(Vec.UD);
}
