import type { Cpu } from '../cpu/cpu.js';
import type { Insn } from '../decode/insn.js';
import { AF, ARITH, CF, PARITY, SF, ZF } from '../isa/flags.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';

/**
 * The decimal-arithmetic adjustments and SALC, outside 64-bit mode (#UD there, which the decoder
 * handles): SDM Vol. 2 DAA/DAS/AAA/AAS/AAM/AAD. Flags the SDM leaves undefined are what QEMU 7.2
 * (int_helper.c) leaves: DAA/DAS clear OF; AAA/AAS keep OF, SF, ZF, PF; AAM/AAD clear OF, AF, CF.
 */

/** SF, ZF and PF of an 8-bit result. */
function szp(v: number): number {
  return (v & 0x80) | (v === 0 ? ZF : 0) | PARITY[v]!;
}

/** AX ← lo | hi << 8, the rest of EAX kept. */
function setAx(c: Cpu, al: number, ah: number): void {
  c.setReg(0, 2, (al & 0xff) | ((ah & 0xff) << 8));
}

export function daa(c: Cpu): void {
  const f = c.status();
  const old = c.getReg(0, 1);
  let al = old;
  let out = 0;
  if ((al & 0x0f) > 9 || f & AF) {
    al = (al + 6) & 0xff;
    out |= AF;
  }
  if (old > 0x99 || f & CF) {
    al = (al + 0x60) & 0xff;
    out |= CF;
  }
  c.setReg(0, 1, al);
  c.setStatus(ARITH, out | szp(al));
}

export function das(c: Cpu): void {
  const f = c.status();
  const old = c.getReg(0, 1);
  let al = old;
  let out = 0;
  if ((al & 0x0f) > 9 || f & AF) {
    out |= AF;
    if (al < 6 || f & CF) out |= CF;
    al = (al - 6) & 0xff;
  }
  if (old > 0x99 || f & CF) {
    al = (al - 0x60) & 0xff;
    out |= CF;
  }
  c.setReg(0, 1, al);
  c.setStatus(ARITH, out | szp(al));
}

/** AAA (arg 1) and AAS (arg -1): AX ± 106H when the low digit overflowed, AL's high nibble cleared. */
export function asciiAdjust(c: Cpu, d: Insn): void {
  const al = c.getReg(0, 1);
  const ah = c.getReg(16, 1);
  if ((al & 0x0f) > 9 || c.status() & AF) {
    const ax = (ah << 8) + al + d.arg * 0x106;
    setAx(c, ax & 0x0f, ax >> 8);
    c.setStatus(AF | CF, AF | CF);
  } else {
    setAx(c, al & 0x0f, ah);
    c.setStatus(AF | CF, 0);
  }
}

/** AAM imm8: AH ← AL / imm8, AL ← AL mod imm8; #DE for 0. */
export function aam(c: Cpu, d: Insn): void {
  const base = d.imm & 0xff;
  if (base === 0) throw new GuestFault(Vec.DE);
  const al = c.getReg(0, 1);
  setAx(c, al % base, Math.floor(al / base));
  c.setStatus(ARITH, szp(al % base));
}

/** AAD imm8: AL ← AL + AH · imm8 (8 bits), AH ← 0. */
export function aad(c: Cpu, d: Insn): void {
  const al = (c.getReg(0, 1) + c.getReg(16, 1) * (d.imm & 0xff)) & 0xff;
  setAx(c, al, 0);
  c.setStatus(ARITH, szp(al));
}

/** SALC (D6, undocumented): AL ← FFH when CF is set, else 00H; flags unchanged. */
export function salc(c: Cpu): void {
  c.setReg(0, 1, c.getCF() ? 0xff : 0);
}

/** BOUND r, m16&16 / m32&32: #BR (a fault) unless lower ≤ r ≤ upper, all signed. */
export function bound(c: Cpu, d: Insn): void {
  const s = d.osize === 2 ? 2 : 4;
  const shift = 32 - 8 * s;
  const signed = (v: number) => (v << shift) >> shift;
  const lower = signed(c.readSized(c.lin, s));
  const upper = signed(c.readSized(c.lin + s, s));
  const v = signed(c.getReg(d.or[0]!, s));
  if (v < lower || v > upper) throw new GuestFault(Vec.BR);
}
