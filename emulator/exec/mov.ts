import type { Cpu } from '../cpu/cpu.js';
import { type Insn, Opnd } from '../decode/insn.js';
import { mutants } from '../mutants.js';
import { testCondition } from './conditions.js';
import { mask, readOp, sext, writeOp } from './operands.js';

/** MOV and friends: MOV, MOVZX, MOVSX, MOVSXD, LEA, XCHG, BSWAP, CMOVcc, SETcc, CBW…CQO, XLAT. */

export function mov(c: Cpu, d: Insn): void {
  let v = readOp(c, d, 1);
  if (mutants.mov16ImmStoreSwapped && d.os[0] === 2 && d.ot[0] === Opnd.Mem && d.ot[1] === Opnd.Imm) v = ((v & 0xff) << 8) | ((v >>> 8) & 0xff);
  writeOp(c, d, 0, v, c.hi);
}

/** B8+r: imm16/32, or imm64 with REX.W (movabs). */
export function movImm(c: Cpu, d: Insn): void {
  c.setReg(d.or[0]!, d.os[0]!, d.imm, d.immHi);
}

export function movzx(c: Cpu, d: Insn): void {
  writeOp(c, d, 0, readOp(c, d, 1), 0);
}

export function movsx(c: Cpu, d: Insn): void {
  const v = sext(readOp(c, d, 1), d.os[1]!);
  writeOp(c, d, 0, mask(v, d.os[0]!), v >> 31);
}

/** MOVSXD: sign-extends with REX.W; without it QEMU (and Intel) perform a plain 32/16-bit move. */
export function movsxd(c: Cpu, d: Insn): void {
  const v = readOp(c, d, 1);
  if (d.os[0] === 8) writeOp(c, d, 0, v, (v | 0) >> 31);
  else writeOp(c, d, 0, mask(v, d.os[0]!), 0);
}

export function lea(c: Cpu, d: Insn): void {
  // Effective address only: no segment base, no canonical check; truncated to the operand size.
  c.effectiveAddress(d);
  c.setReg(d.or[0]!, d.os[0]!, mask(c.eaLo, d.os[0]!), c.eaHi);
}

export function xchg(c: Cpu, d: Insn): void {
  const a = readOp(c, d, 0);
  const ah = c.hi;
  const b = readOp(c, d, 1);
  const bh = c.hi;
  // Memory operand first: if the store faults, the register is untouched.
  if (d.ot[0] === Opnd.Mem) {
    writeOp(c, d, 0, b, bh);
    writeOp(c, d, 1, a, ah);
  } else {
    writeOp(c, d, 1, a, ah);
    writeOp(c, d, 0, b, bh);
  }
}

/** 0x90: NOP, PAUSE (F3 90), or XCHG r8, rAX when REX.B is set. */
export function nop90(c: Cpu, d: Insn): void {
  if ((d.rex & 1) === 0) return;
  const s = d.osize;
  const a = c.getReg(8, s);
  const ah = s === 8 ? c.hi : 0;
  const b = c.getReg(0, s);
  const bh = s === 8 ? c.hi : 0;
  c.setReg(8, s, b, bh);
  c.setReg(0, s, a, ah);
}

export function bswap(c: Cpu, d: Insn): void {
  const n = d.or[0]!;
  const s = d.os[0]!;
  const sw = (x: number) => (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
  if (s === 8) {
    const lo = c.getReg(n, 8);
    const hi = c.hi;
    c.setReg(n, 8, sw(hi), sw(lo));
  } else if (s === 4) c.setReg(n, 4, sw(c.getReg(n, 4)));
  else c.setReg(n, 2, 0); // BSWAP r16 is undefined; QEMU and hardware zero the low word
}

export function cmov(c: Cpu, d: Insn): void {
  const v = readOp(c, d, 1); // the source is read (and may fault) whatever the condition
  const vh = c.hi;
  if (testCondition(c, d.arg)) writeOp(c, d, 0, v, vh);
  else if (d.os[0] === 4) c.setReg(d.or[0]!, 4, c.getReg(d.or[0]!, 4)); // 32-bit CMOV always zero-extends
}

export function setcc(c: Cpu, d: Insn): void {
  writeOp(c, d, 0, testCondition(c, d.arg) ? 1 : 0, 0);
}

/** CBW / CWDE / CDQE. */
export function cbw(c: Cpu, d: Insn): void {
  const s = d.osize;
  const v = sext(c.getReg(0, s / 2), s / 2);
  c.setReg(0, s, mask(v, s), v >> 31);
}

/** CWD / CDQ / CQO: fill rDX with the sign of rAX. */
export function cwd(c: Cpu, d: Insn): void {
  const s = d.osize;
  const a = c.getReg(0, s);
  const top = s === 8 ? c.hi >>> 31 : (a >>> (s * 8 - 1)) & 1;
  c.setReg(2, s, top ? mask(-1, s) : 0, top ? 0xffffffff : 0);
}

export function xlat(c: Cpu, d: Insn): void {
  // AL = [rBX + zero-extended AL], address-size wrap, DS or the override segment.
  const al = c.getReg(0, 1);
  let lo = c.regs[6]! + al;
  let hi = c.regs[7]! + (lo > 0xffffffff ? 1 : 0);
  lo >>>= 0;
  if (d.asize !== 8) hi = 0;
  if (d.asize === 2) lo &= 0xffff;
  c.setReg(0, 1, c.read8(c.segLinear(lo, hi >>> 0, d.seg)));
}
