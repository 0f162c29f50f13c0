import type { Cpu } from '../cpu/cpu.js';
import { CC } from '../cpu/lazy-flags.js';
import { type Insn, Seg } from '../decode/insn.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';
import { Access } from '../memory/mmu.js';
import { counterIsZero } from './control-flow.js';
import { testCondition } from './conditions.js';
import { mask } from './operands.js';
import { checkIoPermission } from './port-io.js';

/**
 * MOVS STOS LODS SCAS CMPS INS OUTS, with REP/REPE/REPNE. One iteration per step (RIP stays
 * on the instruction while iterations remain), which is how hardware single-steps string
 * instructions and how QEMU's gdbstub steps them. rSI/rDI/rCX follow the address size.
 */

/** Linear address of [seg:rSI] or [ES:rDI] (register n) at the address size. */
function indexLin(c: Cpu, n: number, asize: number, seg: number): number {
  if (asize === 8) return c.segLinear(c.regs[n << 1]!, c.regs[(n << 1) + 1]!, seg);
  return c.segLinear(c.getReg(n, asize), 0, seg);
}

function advance(c: Cpu, n: number, asize: number, delta: number): void {
  if (asize === 8) {
    const t = c.regs[n << 1]! + delta;
    c.regs[n << 1] = t >>> 0;
    c.regs[(n << 1) + 1] = (c.regs[(n << 1) + 1]! + Math.floor(t / 4294967296)) >>> 0;
  } else c.setReg(n, asize, mask(c.getReg(n, asize) + delta, asize));
}

function srcLin(c: Cpu, d: Insn): number {
  return indexLin(c, 6, d.asize, d.seg);
}

function dstLin(c: Cpu, d: Insn): number {
  return indexLin(c, 7, d.asize, Seg.ES);
}

/** rSI/rDI increment: the element size (operand 0, or operand 1 for OUTS, whose operand 0 is DX). */
function step(c: Cpu, d: Insn, operand = 0): number {
  const s = d.os[operand]!;
  return c.getDF() ? -s : s;
}

/**
 * One iteration under REP rules, split around the body (no closure per iteration):
 * `if (!repBegin(c, d)) return; body; repEnd(c, d, cc);` where `cc` = true for the
 * REPE/REPNE-sensitive instructions.
 */
function repBegin(c: Cpu, d: Insn): boolean {
  return d.rep === 0 || !counterIsZero(c, d.asize);
}

function repEnd(c: Cpu, d: Insn, cc: boolean): void {
  if (d.rep === 0) return;
  advance(c, 1, d.asize, -1);
  if (counterIsZero(c, d.asize)) return;
  if (cc) {
    const zf = testCondition(c, 4);
    if (d.rep === 0xf3 ? !zf : zf) return;
  }
  c.nextRip = c.rip; // more to do: execute this instruction again
}

function operandSize(d: Insn): number {
  return d.os[0]!;
}

export function movs(c: Cpu, d: Insn): void {
  if (!repBegin(c, d)) return;
  const s = operandSize(d);
  const v = c.readSized(srcLin(c, d), s);
  c.writeSized(dstLin(c, d), s, v, c.hi);
  const delta = step(c, d);
  advance(c, 6, d.asize, delta);
  advance(c, 7, d.asize, delta);
  repEnd(c, d, false);
}

export function stos(c: Cpu, d: Insn): void {
  if (!repBegin(c, d)) return;
  const s = operandSize(d);
  const v = c.getReg(0, s);
  c.writeSized(dstLin(c, d), s, v, s === 8 ? c.hi : 0);
  advance(c, 7, d.asize, step(c, d));
  repEnd(c, d, false);
}

export function lods(c: Cpu, d: Insn): void {
  if (!repBegin(c, d)) return;
  const s = operandSize(d);
  const v = c.readSized(srcLin(c, d), s);
  c.setReg(0, s, v, s === 8 ? c.hi : 0);
  advance(c, 6, d.asize, step(c, d));
  repEnd(c, d, false);
}

function compare(c: Cpu, s: number, a: number, ah: number, b: number, bh: number): void {
  const t = a - b;
  const r = s === 8 ? t >>> 0 : mask(t, s);
  const rh = s === 8 ? (ah - bh - (t < 0 ? 1 : 0)) >>> 0 : 0;
  c.setCc(CC.Sub, s, r, rh, a, ah, b, bh);
  c.cc.cin = 0;
}

export function scas(c: Cpu, d: Insn): void {
  if (!repBegin(c, d)) return;
  const s = operandSize(d);
  const a = c.getReg(0, s);
  const ah = s === 8 ? c.hi : 0;
  const b = c.readSized(dstLin(c, d), s);
  const bh = s === 8 ? c.hi : 0;
  compare(c, s, a, ah, b, bh);
  advance(c, 7, d.asize, step(c, d));
  repEnd(c, d, true);
}

export function cmps(c: Cpu, d: Insn): void {
  if (!repBegin(c, d)) return;
  const s = operandSize(d);
  const a = c.readSized(srcLin(c, d), s);
  const ah = s === 8 ? c.hi : 0;
  const b = c.readSized(dstLin(c, d), s);
  const bh = s === 8 ? c.hi : 0;
  compare(c, s, a, ah, b, bh);
  const delta = step(c, d);
  advance(c, 6, d.asize, delta);
  advance(c, 7, d.asize, delta);
  repEnd(c, d, true);
}

function ioSize(d: Insn, operand: number): 1 | 2 | 4 {
  const s = d.os[operand]!;
  if (s === 8) throw new GuestFault(Vec.UD);
  return s as 1 | 2 | 4;
}

export function ins(c: Cpu, d: Insn): void {
  const s = ioSize(d, 0);
  checkIoPermission(c, c.getReg(2, 2), s); // before the count: REP INS with rCX = 0 still checks
  if (!repBegin(c, d)) return;
  const lin = dstLin(c, d);
  c.probeWrite(lin, s);
  c.writeSized(lin, s, c.bus.portIn(c.getReg(2, 2), s), 0);
  advance(c, 7, d.asize, step(c, d));
  repEnd(c, d, false);
}

export function outs(c: Cpu, d: Insn): void {
  const s = ioSize(d, 1);
  checkIoPermission(c, c.getReg(2, 2), s);
  if (!repBegin(c, d)) return;
  const v = c.readSized(srcLin(c, d), s);
  c.bus.portOut(c.getReg(2, 2), s, v);
  advance(c, 6, d.asize, step(c, d, 1));
  repEnd(c, d, false);
}

/**
 * Many iterations of REP MOVS/STOS at once (Machine.burst's REP loop): a hot path for the block
 * copies and fills that firmware, kernels and the batch runner spend their time in. Returns how
 * many iterations it did (at most `limit`), 0 when it would not apply: only 64-bit addressing
 * with DF clear, only within one page on each side, only plain RAM that holds no decoded code,
 * and, for MOVS, not onto an overlapping destination above the source (where iterations see
 * each other's stores). Translations happen in the order one iteration makes them (source
 * read, then destination write), so a fault leaves the same accessed/dirty bits: it is left
 * for the per-iteration path to raise.
 */
export function repBulk(c: Cpu, d: Insn, limit: number): number {
  const isMovs = d.exec === (movs as unknown);
  if ((!isMovs && d.exec !== (stos as unknown)) || d.asize !== 8 || c.getDF()) return 0;
  const s = operandSize(d);
  const regs = c.regs;
  const count = regs[3] !== 0 ? 0x7fffffff : regs[2]!;
  let k = Math.min(limit, count);
  let src = 0;
  let dst: number;
  try {
    if (isMovs) {
      const lin = srcLin(c, d);
      k = Math.min(k, Math.floor((4096 - (lin & 0xfff)) / s));
      if (k < 2) return 0;
      src = c.mmu.translate(lin, Access.Read, c.user);
    }
    const lin = dstLin(c, d);
    k = Math.min(k, Math.floor((4096 - (lin & 0xfff)) / s));
    if (k < 2) return 0;
    dst = c.mmu.translate(lin, Access.Write, c.user);
  } catch {
    return 0;
  }
  const bus = c.bus;
  const bytes = k * s;
  if (bus.codePages[Math.floor(dst / 4096)] !== 0 || !bus.isPlainRam(dst, bytes)) return 0;
  const ram = bus.ram;
  if (isMovs) {
    if (!bus.isPlainRam(src, bytes) || (dst > src && dst < src + bytes)) return 0;
    ram.copyWithin(dst, src, src + bytes);
    advance(c, 6, 8, bytes);
  } else if (s === 1) {
    ram.fill(regs[0]! & 0xff, dst, dst + bytes);
  } else {
    const view = bus.view;
    const lo = regs[0]!;
    const hi = regs[1]!;
    for (let p = dst, end = dst + bytes; p < end; p += s) {
      if (s === 2) view.setUint16(p, lo & 0xffff, true);
      else {
        view.setUint32(p, lo, true);
        if (s === 8) view.setUint32(p + 4, hi, true);
      }
    }
  }
  advance(c, 7, 8, bytes);
  advance(c, 1, 8, -k);
  c.nextRip = counterIsZero(c, 8) ? c.rip + d.len : c.rip;
  return k;
}
