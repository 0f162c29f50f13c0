import type { Cpu } from '../cpu/cpu.js';
import { type Insn, Opnd } from '../decode/insn.js';

/** Mask a value to `size` bytes (sizes 1/2/4; size 8 keeps the low half as is). */
export function mask(v: number, size: number): number {
  return size === 1 ? v & 0xff : size === 2 ? v & 0xffff : v >>> 0;
}

/** Sign-extend the low `size` bytes of v to a signed 32-bit number. */
export function sext(v: number, size: number): number {
  return size === 1 ? (v << 24) >> 24 : size === 2 ? (v << 16) >> 16 : v | 0;
}

/**
 * Read operand i at its decoded size. Returns the low 32 bits; for 8-byte operands the high
 * half is left in `c.hi` (0 for smaller sizes).
 */
export function readOp(c: Cpu, d: Insn, i: number): number {
  const size = d.os[i]!;
  switch (d.ot[i]) {
    case Opnd.Reg:
      if (size !== 8) {
        c.hi = 0;
        return c.getReg(d.or[i]!, size);
      }
      return c.getReg(d.or[i]!, 8);
    case Opnd.Mem:
      if (size !== 8) {
        const v = c.readSized(c.lin, size);
        c.hi = 0;
        return v;
      }
      return c.read64(c.lin);
    case Opnd.Imm:
      c.hi = size === 8 ? d.immHi : 0;
      return mask(d.imm, size);
    case Opnd.Imm2:
      c.hi = 0;
      return d.imm2;
    case Opnd.One:
      c.hi = 0;
      return 1;
    default:
      throw new Error(`operand ${i} of ${d.row.mnemonic} ${d.row.forms} is not readable generically`);
  }
}

export function writeOp(c: Cpu, d: Insn, i: number, lo: number, hi: number): void {
  const size = d.os[i]!;
  if (d.ot[i] === Opnd.Reg) c.setReg(d.or[i]!, size, lo, hi);
  else if (d.ot[i] === Opnd.Mem) c.writeSized(c.lin, size, lo, hi);
  else throw new Error(`operand ${i} of ${d.row.mnemonic} ${d.row.forms} is not writable`);
}

/** Read operand i as a BigInt (slow paths: MUL/DIV, wide shifts). */
export function readOpBig(c: Cpu, d: Insn, i: number): bigint {
  const lo = readOp(c, d, i);
  return d.os[i] === 8 ? (BigInt(c.hi >>> 0) << 32n) | BigInt(lo >>> 0) : BigInt(lo >>> 0);
}

export function writeOpBig(c: Cpu, d: Insn, i: number, v: bigint): void {
  writeOp(c, d, i, Number(v & 0xffffffffn), Number((v >> 32n) & 0xffffffffn));
}
