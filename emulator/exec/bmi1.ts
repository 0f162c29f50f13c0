import type { Cpu } from '../cpu/cpu.js';
import { CC } from '../cpu/lazy-flags.js';
import type { Insn } from '../decode/insn.js';
import { AF, CF, OF, PF, SF, ZF } from '../isa/flags.js';
import { readOpBig, writeOpBig } from './operands.js';

/**
 * BMI1's VEX-encoded general-register instructions (rows in isa/rows-vex.ts; TZCNT is a legacy
 * row, exec/bits.ts). Operands are 32 or 64 bits (VEX.W in 64-bit mode). Flags as the SDM
 * defines them; the ones it leaves undefined as QEMU 7.2 computes them: ANDN and BEXTR set the
 * logic flags of their result (PF and SF from it, AF = 0), the BLS* ones clear PF and AF.
 */

type Handler = (c: Cpu, d: Insn) => void;

function logicResult(c: Cpu, d: Insn, v: bigint): void {
  writeOpBig(c, d, 0, v);
  c.setCc(CC.Logic, d.os[0]!, Number(v & 0xffffffffn), Number(v >> 32n), 0, 0, 0, 0);
}

/** ANDN Gy, By, Ey: ~B & E; SF, ZF from the result, CF = OF = 0. */
const andn: Handler = (c, d) => {
  const bits = BigInt(d.os[0]! * 8);
  const b = readOpBig(c, d, 1);
  const e = readOpBig(c, d, 2);
  logicResult(c, d, BigInt.asUintN(Number(bits), ~b) & e);
};

/**
 * BEXTR Gy, Ey, By: LEN (B[15:8]) bits of E from START (B[7:0]); bits past the operand read as
 * zero, so START at or beyond the operand size gives 0. ZF from the result, CF = OF = 0.
 */
const bextr: Handler = (c, d) => {
  const bits = d.os[0]! * 8;
  const src = readOpBig(c, d, 1);
  const ctl = readOpBig(c, d, 2);
  const start = Number(ctl & 0xffn);
  const len = Number((ctl >> 8n) & 0xffn);
  let v = start >= bits ? 0n : src >> BigInt(start);
  if (len < bits) v &= (1n << BigInt(len)) - 1n;
  logicResult(c, d, v);
};

/** The BLS* group: destination VEX.vvvv (operand 0), source E; ZF/SF from the result, OF = 0, CF by `carry`. */
function blsOp(op: (src: bigint, bits: number) => bigint, carry: (src: bigint) => boolean): Handler {
  return (c, d) => {
    const bits = d.os[0]! * 8;
    const src = readOpBig(c, d, 1);
    const v = BigInt.asUintN(bits, op(src, bits));
    writeOpBig(c, d, 0, v);
    const sf = (v >> BigInt(bits - 1)) & 1n ? SF : 0;
    c.setStatus(OF | SF | ZF | AF | PF | CF, sf | (v === 0n ? ZF : 0) | (carry(src) ? CF : 0));
  };
}

/** BLSR: src & (src - 1), the lowest set bit cleared; CF = (src == 0). */
const blsr = blsOp((s) => s & (s - 1n), (s) => s === 0n);
/** BLSMSK: src ^ (src - 1), a mask up to the lowest set bit (never zero, so ZF = 0 as the SDM says); CF = (src == 0). */
const blsmsk = blsOp((s, bits) => s ^ BigInt.asUintN(bits, s - 1n), (s) => s === 0n);
/** BLSI: src & -src, the lowest set bit alone; CF = (src != 0). */
const blsi = blsOp((s) => s & -s, (s) => s !== 0n);

export const BMI1_HANDLERS: Readonly<Record<string, Handler>> = { andn, bextr, blsr, blsmsk, blsi };
