import { Seg } from '../decode/insn.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';
import { ATTR_DB, ATTR_G, ATTR_L, ATTR_P, ATTR_S, type Cpu } from './cpu.js';

/** Segment descriptors (SDM Vol. 3 §3.4.5) and selector loads, with QEMU's cache encoding. */

export interface Descriptor {
  readonly lo: number;
  readonly hi: number;
  readonly base: number;
  readonly limit: number;
  /** hi & 0x00f0ff00 */
  readonly attrs: number;
  readonly addr: number;
}

export function decodeDescriptor(lo: number, hi: number, addr: number): Descriptor {
  const base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
  let limit = (lo & 0xffff) | (hi & 0x000f0000);
  if (hi & ATTR_G) limit = ((limit << 12) | 0xfff) >>> 0;
  return { lo, hi, base, limit, attrs: (hi & 0x00f0ff00) >>> 0, addr };
}

/** Read the descriptor a selector names, or #GP(selector) when it lies outside the table. */
export function readDescriptor(c: Cpu, sel: number, errorVector = Vec.GP): Descriptor {
  const ldt = (sel & 4) !== 0;
  const base = ldt ? c.ldtr.base : c.gdtrBase;
  const limit = ldt ? c.ldtr.limit : c.gdtrLimit;
  const index = sel & ~7;
  if (index + 7 > limit) throw new GuestFault(errorVector, sel & 0xfffc);
  const addr = base + index;
  return c.asSupervisor(() => decodeDescriptor(c.read32(addr), c.read32(addr + 4), addr));
}

/** Set the accessed bit in memory if clear (a supervisor write, as hardware does). */
export function markAccessed(c: Cpu, d: Descriptor): void {
  if ((d.hi & 0x100) === 0) c.asSupervisor(() => c.write32(d.addr + 4, (d.hi | 0x100) >>> 0));
}

export function setSegmentCache(c: Cpu, seg: number, sel: number, base: number, limit: number, attrs: number): void {
  c.segSel[seg] = sel;
  c.segBase[seg] = base;
  c.segLimit[seg] = limit;
  c.segAttr[seg] = attrs;
  if (seg === Seg.CS) c.updateMode();
  if (seg === Seg.SS) {
    // QEMU derives CPL from SS.DPL.
    c.cpl = (attrs >> 13) & 3;
    c.updateMode();
  }
}

/**
 * A segment load in real mode: the selector and base (selector·16) only; limit and attributes
 * stay as they were (QEMU does the same, so "unreal" limits survive).
 */
export function loadRealSegment(c: Cpu, seg: number, sel: number): void {
  c.segSel[seg] = sel;
  c.segBase[seg] = sel * 16;
  if (seg === Seg.CS) c.updateMode();
}

/** MOV Sreg / POP Sreg / LxS for SS, DS, ES, FS, GS (real, protected and long mode). */
export function loadSegment(c: Cpu, seg: number, sel: number): void {
  if ((c.cr0 & 1) === 0) return loadRealSegment(c, seg, sel);
  const rpl = sel & 3;
  if ((sel & ~3) === 0) {
    if (seg === Seg.SS && (!c.long64 || c.cpl === 3 || rpl !== c.cpl)) throw new GuestFault(Vec.GP, 0);
    // Null selector: QEMU clears the cache (so FS/GS bases become 0, as on Intel).
    setSegmentCache(c, seg, sel, 0, 0, seg === Seg.SS ? (c.cpl << 13) >>> 0 : 0);
    return;
  }
  const d = readDescriptor(c, sel);
  const type = (d.hi >> 8) & 0xf;
  const dpl = (d.hi >> 13) & 3;
  const isCode = (type & 8) !== 0;
  if ((d.attrs & ATTR_S) === 0) throw new GuestFault(Vec.GP, sel & 0xfffc);
  if (seg === Seg.SS) {
    if (isCode || (type & 2) === 0 || rpl !== c.cpl || dpl !== c.cpl) throw new GuestFault(Vec.GP, sel & 0xfffc);
    if ((d.attrs & ATTR_P) === 0) throw new GuestFault(Vec.SS, sel & 0xfffc);
  } else {
    if (isCode && (type & 2) === 0) throw new GuestFault(Vec.GP, sel & 0xfffc); // execute-only code
    const conforming = isCode && (type & 4) !== 0;
    if (!conforming && (rpl > dpl || c.cpl > dpl)) throw new GuestFault(Vec.GP, sel & 0xfffc);
    if ((d.attrs & ATTR_P) === 0) throw new GuestFault(Vec.NP, sel & 0xfffc);
  }
  markAccessed(c, d);
  setSegmentCache(c, seg, sel, d.base, d.limit, (d.attrs | 0x100) >>> 0);
}

/** Load CS for a far transfer that has already validated the descriptor. */
export function loadCodeSegment(c: Cpu, sel: number, d: Descriptor, cpl: number): void {
  markAccessed(c, d);
  c.segSel[Seg.CS] = (sel & 0xfffc) | cpl;
  c.segBase[Seg.CS] = d.base;
  c.segLimit[Seg.CS] = d.limit;
  c.segAttr[Seg.CS] = (d.attrs | 0x100) >>> 0;
  c.cpl = cpl;
  c.updateMode();
}

/** Validate a code-segment descriptor for an interrupt/IRET target; returns it. */
export function checkCodeDescriptor(c: Cpu, sel: number, errorCode: number): Descriptor {
  if ((sel & ~3) === 0) throw new GuestFault(Vec.GP, errorCode);
  const d = readDescriptor(c, sel);
  const type = (d.hi >> 8) & 0xf;
  if ((d.attrs & ATTR_S) === 0 || (type & 8) === 0) throw new GuestFault(Vec.GP, sel & 0xfffc);
  if ((d.attrs & ATTR_P) === 0) throw new GuestFault(Vec.NP, sel & 0xfffc);
  return d;
}

export function isLongCode(d: Descriptor): boolean {
  return (d.attrs & ATTR_L) !== 0 && (d.attrs & ATTR_DB) === 0;
}
