import type { Cpu } from '../cpu/cpu.js';
import { type Insn, Opnd } from '../decode/insn.js';
import { IOPL } from '../isa/flags.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';

/**
 * IN/OUT and the I/O permission check INS/OUTS share (SDM Vol. 1 §19.5). Ports themselves are
 * the bus's (emulator/memory/bus.ts, pc-ports.ts).
 */

/** TSS types that hold an I/O permission bit map: 32/64-bit TSS, available (9) or busy (11). */
function hasIoBitmap(attrs: number): boolean {
  return (attrs & 0x8000) !== 0 && (((attrs >> 8) & 0x1f) === 0x09 || ((attrs >> 8) & 0x1f) === 0x0b);
}

/**
 * At CPL > IOPL an access to ports [port, port+size) needs every one of their bits clear in the
 * TSS's I/O permission bit map (base at TSS offset 0x66, bits past the TSS limit count as set);
 * otherwise #GP(0). At CPL ≤ IOPL all ports are allowed.
 */
export function checkIoPermission(c: Cpu, port: number, size: number): void {
  if (c.cpl <= (c.flagsRest & IOPL) >> 12) return;
  const tr = c.tr;
  if (!hasIoBitmap(tr.attrs) || tr.limit < 0x67) throw new GuestFault(Vec.GP, 0);
  const base = c.asSupervisor(() => c.read16(tr.base + 0x66));
  // The bits of one access lie in at most two bytes: the check reads both, as hardware does.
  const offset = base + (port >>> 3);
  if (offset + 1 > tr.limit) throw new GuestFault(Vec.GP, 0);
  const bits = c.asSupervisor(() => c.read16(tr.base + offset)) >>> (port & 7);
  if (bits & ((1 << size) - 1)) throw new GuestFault(Vec.GP, 0);
}

function port(c: Cpu, d: Insn, i: number): number {
  return d.ot[i] === Opnd.Imm ? d.imm & 0xff : c.getReg(2, 2);
}

export function portIn(c: Cpu, d: Insn): void {
  const s = d.os[0]! as 1 | 2 | 4;
  const p = port(c, d, 1);
  checkIoPermission(c, p, s);
  c.setReg(0, s, c.bus.portIn(p, s));
}

export function portOut(c: Cpu, d: Insn): void {
  const s = d.os[1]! as 1 | 2 | 4;
  const p = port(c, d, 0);
  checkIoPermission(c, p, s);
  c.bus.portOut(p, s, c.getReg(0, s));
}
