import type { Cpu } from '../cpu/cpu.js';
import type { Insn } from '../decode/insn.js';
import { AF, CF, OF, PF, SF, ZF } from '../isa/flags.js';
import { readOpBig, writeOpBig } from './operands.js';

/**
 * BMI2's VEX-encoded general-register instructions (rows in isa/rows-vex.ts). Operands are 32 or
 * 64 bits (VEX.W in 64-bit mode). Only BZHI writes flags; the rest leave RFLAGS as it was.
 */

type Handler = (c: Cpu, d: Insn) => void;

const widthOf = (d: Insn): bigint => BigInt(d.os[0]! * 8);

/**
 * BZHI Gy, Ey, By: E with the bits from index N = B[7:0] up cleared; N at or past the operand
 * size keeps all of E and sets CF. ZF and SF from the result, OF = 0; AF and PF are undefined and
 * cleared, as QEMU 7.2 computes them (its CC_OP_BMILG, the BLS* ones' flags too).
 */
const bzhi: Handler = (c, d) => {
  const bits = widthOf(d);
  const src = readOpBig(c, d, 1);
  const n = readOpBig(c, d, 2) & 0xffn;
  const v = n < bits ? src & ((1n << n) - 1n) : src;
  writeOpBig(c, d, 0, v);
  const sf = (v >> (bits - 1n)) & 1n ? SF : 0;
  c.setStatus(OF | SF | ZF | AF | PF | CF, sf | (v === 0n ? ZF : 0) | (n >= bits ? CF : 0));
};

/** PDEP Gy, By, Ey: the low bits of B deposited, in order, at the set bits of the mask E. */
const pdep: Handler = (c, d) => {
  const src = readOpBig(c, d, 1);
  let m = readOpBig(c, d, 2);
  let v = 0n;
  for (let k = 0n; m !== 0n; k++) {
    const low = m & -m; // the lowest mask bit left
    if ((src >> k) & 1n) v |= low;
    m ^= low;
  }
  writeOpBig(c, d, 0, v);
};

/** PEXT Gy, By, Ey: the bits of B at the set bits of the mask E, packed into the low bits. */
const pext: Handler = (c, d) => {
  const src = readOpBig(c, d, 1);
  let m = readOpBig(c, d, 2);
  let v = 0n;
  for (let k = 0n; m !== 0n; k++) {
    const low = m & -m;
    if (src & low) v |= 1n << k;
    m ^= low;
  }
  writeOpBig(c, d, 0, v);
};

/**
 * MULX Gy, By, Ey: rDX × E unsigned, the low half to B, then the high half to G, so that when G
 * and B are the same register the high half is what it holds (SDM; QEMU 7.2's gen_MULX writes B
 * during the operation and G at writeback, in the same order).
 */
const mulx: Handler = (c, d) => {
  const bits = widthOf(d);
  const size = d.os[0]!;
  const lo = c.getReg(2, size);
  const rdx = size === 8 ? (BigInt(c.hi >>> 0) << 32n) | BigInt(lo >>> 0) : BigInt(lo >>> 0);
  const product = rdx * readOpBig(c, d, 2);
  writeOpBig(c, d, 1, BigInt.asUintN(Number(bits), product));
  writeOpBig(c, d, 0, product >> bits);
};

/** RORX Gy, Ey, Ib: rotate right by the immediate masked to the operand size (5 or 6 bits). */
const rorx: Handler = (c, d) => {
  const bits = widthOf(d);
  const v = readOpBig(c, d, 1);
  const n = BigInt(d.imm & 0xff) & (bits - 1n);
  writeOpBig(c, d, 0, BigInt.asUintN(Number(bits), (v >> n) | (v << (bits - n))));
};

/** The SHIFTX group: Gy := Ey shifted by By masked to the operand size (5 or 6 bits). */
function shiftx(op: (v: bigint, n: bigint, bits: bigint) => bigint): Handler {
  return (c, d) => {
    const bits = widthOf(d);
    const v = readOpBig(c, d, 1);
    const n = readOpBig(c, d, 2) & (bits - 1n);
    writeOpBig(c, d, 0, BigInt.asUintN(Number(bits), op(v, n, bits)));
  };
}

const shlx = shiftx((v, n) => v << n);
const shrx = shiftx((v, n) => v >> n);
const sarx = shiftx((v, n, bits) => BigInt.asIntN(Number(bits), v) >> n);

export const BMI2_HANDLERS: Readonly<Record<string, Handler>> = { bzhi, pdep, pext, mulx, rorx, shlx, shrx, sarx };
