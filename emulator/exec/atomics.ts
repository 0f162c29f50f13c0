import type { Cpu } from '../cpu/cpu.js';
import { CC } from '../cpu/lazy-flags.js';
import { type Insn, Opnd } from '../decode/insn.js';
import { ZF } from '../isa/flags.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';
import { mask, readOp, writeOp } from './operands.js';

/** XADD, CMPXCHG, CMPXCHG8B/16B. One CPU, so LOCK only needs to be validated, not honoured. */

export function xadd(c: Cpu, d: Insn): void {
  const s = d.os[0]!;
  const a = readOp(c, d, 0);
  const ah = c.hi;
  const b = readOp(c, d, 1);
  const bh = c.hi;
  const t = a + b;
  const r = s === 8 ? t >>> 0 : mask(t, s);
  const rh = s === 8 ? (ah + bh + (t > 0xffffffff ? 1 : 0)) >>> 0 : 0;
  if (d.ot[0] === Opnd.Mem) {
    writeOp(c, d, 0, r, rh);
    writeOp(c, d, 1, a, ah);
  } else {
    writeOp(c, d, 1, a, ah);
    writeOp(c, d, 0, r, rh);
  }
  c.setCc(CC.Add, s, r, rh, a, ah, b, bh);
}

/**
 * SDM semantics: equal → DEST = SRC; else → accumulator = DEST. A memory destination is always
 * written (old value when unequal). Note: QEMU 7.2 also rewrites a register destination and
 * RAX in every case (zero-extending 32-bit ones); that is a QEMU bug fixed in 8.x.
 */
export function cmpxchg(c: Cpu, d: Insn): void {
  const s = d.os[0]!;
  const dest = readOp(c, d, 0);
  const dh = c.hi;
  const acc = c.getReg(0, s);
  const accH = s === 8 ? c.hi : 0;
  const src = readOp(c, d, 1);
  const sh = c.hi;
  const equal = dest === acc && dh === accH;
  if (equal) writeOp(c, d, 0, src, sh);
  else {
    if (d.ot[0] === Opnd.Mem) writeOp(c, d, 0, dest, dh);
    c.setReg(0, s, dest, dh);
  }
  const t = acc - dest;
  const r = s === 8 ? t >>> 0 : mask(t, s);
  const rh = s === 8 ? (accH - dh - (t < 0 ? 1 : 0)) >>> 0 : 0;
  c.setCc(CC.Sub, s, r, rh, acc, accH, dest, dh);
  c.cc.cin = 0;
}

/** CMPXCHG8B m64, or CMPXCHG16B m128 with REX.W (16-byte alignment required). */
export function cmpxchg8b(c: Cpu, d: Insn): void {
  const wide = (d.rex & 8) !== 0;
  const lin = c.lin;
  if (wide) {
    if (lin % 16 !== 0) throw new GuestFault(Vec.GP, 0);
    c.probeWrite(lin, 16);
    const m0 = c.read64(lin);
    const m0h = c.hi;
    const m1 = c.read64(lin + 8);
    const m1h = c.hi;
    const r = c.regs;
    const equal = m0 === r[0] && m0h === r[1] && m1 === r[4] && m1h === r[5];
    if (equal) {
      c.write64(lin, r[6]!, r[7]!); // RBX
      c.write64(lin + 8, r[2]!, r[3]!); // RCX
    } else {
      c.write64(lin, m0, m0h);
      c.write64(lin + 8, m1, m1h);
      c.setReg(0, 8, m0, m0h);
      c.setReg(2, 8, m1, m1h);
    }
    c.setStatus(ZF, equal ? ZF : 0);
    return;
  }
  c.probeWrite(lin, 8);
  const lo = c.read32(lin);
  const hi = c.read32(lin + 4);
  const equal = lo === c.getReg(0, 4) && hi === c.getReg(2, 4);
  if (equal) {
    c.write32(lin, c.getReg(3, 4));
    c.write32(lin + 4, c.getReg(1, 4));
  } else {
    c.write32(lin, lo);
    c.write32(lin + 4, hi);
    c.setReg(0, 4, lo);
    c.setReg(2, 4, hi);
  }
  c.setStatus(ZF, equal ? ZF : 0);
}
