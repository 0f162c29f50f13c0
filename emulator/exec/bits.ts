import type { Cpu } from '../cpu/cpu.js';
import { CC } from '../cpu/lazy-flags.js';
import { type Insn, Opnd } from '../decode/insn.js';
import { CF, ZF } from '../isa/flags.js';
import { readOp, readOpBig, writeOp, writeOpBig } from './operands.js';

/** BT/BTS/BTR/BTC, BSF/BSR, POPCNT, LZCNT/TZCNT. */

/**
 * BT family (arg: 0 BT, 1 BTS, 2 BTR, 3 BTC). With a register offset and a memory operand the
 * offset is signed and selects the operand-sized word at EA + (offset >> log2(bits)) * size.
 * Flags: CF = the bit; the rest keep their values (what QEMU does when each instruction is its
 * own translation block, i.e. under single-stepping; the SDM leaves OF/SF/AF/PF undefined).
 */
export function bt(c: Cpu, d: Insn): void {
  const s = d.os[0]!;
  const bits = s * 8;
  const offset = readOpBig(c, d, 1);
  let bit: number;
  if (d.ot[0] === Opnd.Mem && d.ot[1] === Opnd.Reg) {
    const signedOff = BigInt.asIntN(bits, offset);
    const wordDelta = (signedOff >> BigInt(Math.log2(bits))) * BigInt(s);
    c.effectiveAddress(d);
    let ea = ((BigInt(c.eaHi) << 32n) | BigInt(c.eaLo)) + wordDelta;
    ea = d.asize === 4 ? BigInt.asUintN(32, ea) : d.asize === 2 ? BigInt.asUintN(16, ea) : BigInt.asUintN(64, ea);
    c.lin = c.segLinear(Number(ea & 0xffffffffn), Number(ea >> 32n), d.seg);
    bit = Number(BigInt.asUintN(Math.log2(bits), signedOff));
  } else {
    bit = Number(offset & BigInt(bits - 1));
  }
  const v = readOpBig(c, d, 0);
  const m = 1n << BigInt(bit);
  const cf = (v & m) !== 0n ? CF : 0;
  const op = d.arg;
  if (op !== 0) writeOpBig(c, d, 0, op === 1 ? v | m : op === 2 ? v & ~m : v ^ m);
  c.setStatus(CF, cf);
}

function setFlagsFromSource(c: Cpu, s: number, v: bigint): void {
  // QEMU: CC_OP_LOGIC on the source — ZF = (src == 0), SF/PF from the source, CF = OF = AF = 0.
  c.setCc(CC.Logic, s, Number(v & 0xffffffffn), Number(v >> 32n), 0, 0, 0, 0);
}

function bitScan(c: Cpu, d: Insn, reverse: boolean): void {
  const s = d.os[0]!;
  const v = readOpBig(c, d, 1);
  setFlagsFromSource(c, s, v);
  if (v === 0n) {
    // Destination keeps its value (but a 32-bit write still zero-extends, as in QEMU).
    writeOpBig(c, d, 0, readOpBig(c, d, 0));
    return;
  }
  let idx: number;
  if (reverse) idx = v.toString(2).length - 1;
  else {
    idx = 0;
    while (((v >> BigInt(idx)) & 1n) === 0n) idx++;
  }
  writeOp(c, d, 0, idx, 0);
}

export function bsf(c: Cpu, d: Insn): void {
  bitScan(c, d, false);
}

export function bsr(c: Cpu, d: Insn): void {
  bitScan(c, d, true);
}

function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

export function popcnt(c: Cpu, d: Insn): void {
  const lo = readOp(c, d, 1);
  const hi = d.os[1] === 8 ? c.hi : 0;
  writeOp(c, d, 0, popcount32(lo) + popcount32(hi), 0);
  c.setStatus(0xffff, (lo | hi) === 0 ? ZF : 0);
}

function countFlags(c: Cpu, src: bigint, res: number): void {
  c.setStatus(0xffff, (src === 0n ? CF : 0) | (res === 0 ? ZF : 0));
}

export function lzcnt(c: Cpu, d: Insn): void {
  const s = d.os[0]!;
  const v = readOpBig(c, d, 1);
  const n = v === 0n ? s * 8 : s * 8 - v.toString(2).length;
  writeOp(c, d, 0, n, 0);
  countFlags(c, v, n);
}

export function tzcnt(c: Cpu, d: Insn): void {
  const s = d.os[0]!;
  const v = readOpBig(c, d, 1);
  let n = 0;
  if (v === 0n) n = s * 8;
  else while (((v >> BigInt(n)) & 1n) === 0n) n++;
  writeOp(c, d, 0, n, 0);
  countFlags(c, v, n);
}
