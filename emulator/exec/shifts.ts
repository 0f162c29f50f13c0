import { mutants } from '../mutants.js';
import type { Cpu } from '../cpu/cpu.js';
import { CC } from '../cpu/lazy-flags.js';
import type { Insn } from '../decode/insn.js';
import { CF, OF } from '../isa/flags.js';
import { mask, readOp, readOpBig, sext, writeOp, writeOpBig } from './operands.js';

/**
 * Shifts and rotates (group 2), SHLD/SHRD. Counts are masked to 5 bits (6 for 64-bit).
 * A masked count of 0 leaves the flags alone; the destination is still written back (QEMU
 * stores unconditionally, so a read-only memory operand faults even then).
 * Undefined flags follow QEMU: AF = 0 after shifts; OF from the last single-bit step for
 * multi-bit counts (the formulas below hold for count 1 exactly as the SDM states).
 */

const ROL = 0, ROR = 1, RCL = 2, RCR = 3, SHL = 4, SHR = 5, SAL = 6;

function shl64(lo: number, hi: number, n: number): [number, number] {
  if (n === 0) return [lo, hi];
  if (n < 32) return [(lo << n) >>> 0, ((hi << n) | (lo >>> (32 - n))) >>> 0];
  return [0, (lo << (n - 32)) >>> 0];
}

function shr64(lo: number, hi: number, n: number): [number, number] {
  if (n === 0) return [lo, hi];
  if (n < 32) return [((lo >>> n) | (hi << (32 - n))) >>> 0, hi >>> n];
  return [hi >>> (n - 32), 0];
}

function sar64(lo: number, hi: number, n: number): [number, number] {
  if (n === 0) return [lo, hi];
  if (n < 32) return [((lo >>> n) | (hi << (32 - n))) >>> 0, (hi >> n) >>> 0];
  return [(hi >> (n - 32)) >>> 0, (hi >> 31) >>> 0];
}

export function shift(c: Cpu, d: Insn): void {
  const s = d.os[0]!;
  const a = readOp(c, d, 0);
  const ah = c.hi;
  const count = readOp(c, d, 1) & (mutants.shiftCountUnmasked ? 0xff : s === 8 ? 0x3f : 0x1f);
  const op = d.arg;
  if (count === 0) {
    writeOp(c, d, 0, a, ah);
    return;
  }
  if (op === SHL || op === SAL || op === SHR || op === 7) {
    let t: number, th: number, r: number, rh: number;
    if (s === 8) {
      const f = op === SHR ? shr64 : op === 7 ? sar64 : shl64;
      [t, th] = f(a, ah, count - 1);
      [r, rh] = f(t, th, 1);
    } else {
      th = rh = 0;
      if (op === SHR) {
        t = a >>> (count - 1);
        r = t >>> 1;
      } else if (op === 7) {
        t = mask(sext(a, s) >> (count - 1), s);
        r = mask(sext(a, s) >> count, s);
      } else {
        t = mask(a << (count - 1), s);
        r = mask(a << count, s);
      }
    }
    writeOp(c, d, 0, r, rh);
    c.setCc(op === SHR || op === 7 ? CC.Sar : CC.Shl, s, r, rh, t, th, 0, 0);
    return;
  }
  // Rotates: BigInt is fine off the hot path.
  const bits = BigInt(s * 8);
  const m = (1n << bits) - 1n;
  const v = readBack(a, ah, s);
  let res: bigint;
  let cf: number;
  let of: number;
  if (op === ROL || op === ROR) {
    const n = BigInt(count) % bits;
    res = op === ROL ? ((v << n) | (v >> ((bits - n) % bits))) & m : ((v >> n) | (v << ((bits - n) % bits))) & m;
    const msb = Number((res >> (bits - 1n)) & 1n);
    if (op === ROL) {
      cf = Number(res & 1n);
      of = msb ^ cf;
    } else {
      cf = msb;
      of = msb ^ Number((res >> (bits - 2n)) & 1n);
    }
  } else {
    // RCL/RCR rotate through CF: a (bits+1)-bit rotation. QEMU reduces 8/16-bit counts mod 9/17
    // and leaves everything alone when that is 0.
    const n = s === 1 ? count % 9 : s === 2 ? count % 17 : count;
    if (n === 0) {
      writeOp(c, d, 0, a, ah);
      return;
    }
    const width = bits + 1n;
    const wm = (1n << width) - 1n;
    const w = (BigInt(c.carry()) << bits) | v;
    const nn = BigInt(n);
    const rot = op === RCL ? ((w << nn) | (w >> (width - nn))) & wm : ((w >> nn) | (w << (width - nn))) & wm;
    res = rot & m;
    cf = Number((rot >> bits) & 1n);
    of = Number(((v ^ res) >> (bits - 1n)) & 1n);
  }
  writeOp(c, d, 0, Number(res & 0xffffffffn), Number(res >> 32n));
  c.setStatus(CF | OF, cf | (of ? OF : 0));
}

function readBack(lo: number, hi: number, s: number): bigint {
  return s === 8 ? (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0) : BigInt(lo >>> 0);
}

/** SHLD/SHRD, modelled on QEMU's gen_shiftd_rm_T1 (16-bit counts above 16 shift A:B:A, as Intel does). */
function shiftDouble(c: Cpu, d: Insn, right: boolean): void {
  const s = d.os[0]!;
  const dest = readOpBig(c, d, 0);
  const src = readOpBig(c, d, 1);
  const count = readOp(c, d, 2) & (s === 8 ? 0x3f : 0x1f);
  const bits = BigInt(s * 8);
  const m = (1n << bits) - 1n;
  if (count === 0) {
    writeOpBig(c, d, 0, dest);
    return;
  }
  const n = BigInt(count);
  let res: bigint;
  let tmp: bigint;
  const M64 = (1n << 64n) - 1n;
  if (s === 8) {
    if (right) {
      tmp = dest >> (n - 1n);
      res = ((dest >> n) | (src << (64n - n))) & M64;
    } else {
      tmp = (dest << (n - 1n)) & M64;
      res = ((dest << n) | (src >> (64n - n))) & M64;
    }
  } else {
    // 32-bit: a 64-bit value src:dest (right) or dest:src (left). 16-bit: dest:src:dest.
    let wide: bigint;
    if (s === 2) {
      const sd = (src << 16n) | dest;
      wide = right ? (dest << 32n) | sd : (dest << 32n) | sd;
    } else wide = right ? (src << 32n) | dest : (dest << 32n) | src;
    if (right) {
      tmp = (wide >> (n - 1n)) & M64;
      res = (wide >> n) & M64;
    } else {
      tmp = ((wide << (n - 1n)) & M64) >> 32n;
      res = ((wide << n) & M64) >> 32n;
    }
  }
  res &= m;
  writeOpBig(c, d, 0, res);
  const t = tmp & (s === 8 ? M64 : (1n << 64n) - 1n);
  const tl = Number(t & 0xffffffffn);
  const th = Number((t >> 32n) & 0xffffffffn);
  const rl = Number(res & 0xffffffffn);
  const rh = Number(res >> 32n);
  // CC_OP_SHL/SAR read `size` bits of tmp for OF and CF (bit 0 or the top bit).
  c.setCc(right ? CC.Sar : CC.Shl, s, rl, rh, s === 8 ? tl : mask(tl, s), s === 8 ? th : 0, 0, 0);
}

export function shld(c: Cpu, d: Insn): void {
  shiftDouble(c, d, false);
}

export function shrd(c: Cpu, d: Insn): void {
  shiftDouble(c, d, true);
}

