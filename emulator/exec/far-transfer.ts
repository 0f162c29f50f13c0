import { ATTR_P, ATTR_S, type Cpu, EFER_LMA, halvesToSigned, isCanonical } from '../cpu/cpu.js';
import { type Descriptor, isLongCode, loadCodeSegment, readDescriptor, setSegmentCache } from '../cpu/segments.js';
import { type Insn, Seg } from '../decode/insn.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';

/**
 * Far CALL/JMP through a memory pointer (FF /3, FF /5: m16:16, m16:32, or m16:64 with REX.W)
 * and far RET (CB, CA iw), in protected and long mode (SDM Vol. 2 CALL, JMP, RET; Vol. 3 §5.8).
 * Direct transfers to code segments only: call gates, task gates and TSS targets are not
 * implemented (they stop the emulator with a crash report rather than run wrongly).
 *
 * QEMU 7.2 differs from the SDM in 64-bit mode: it does not check that a 64-bit target offset
 * is canonical at the far transfer; the fetch at the target faults instead (the emulator
 * follows the SDM and raises #GP(0) at the transfer).
 */

const TYPE_CODE = 8;
const TYPE_CONFORMING = 4;
/** 64-bit call gate, the only gate type long mode allows. */
const TYPE_CALL_GATE64 = 12;

function typeOf(d: Descriptor): number {
  return (d.hi >> 8) & 0xf;
}

function dplOf(d: Descriptor): number {
  return (d.hi >> 13) & 3;
}

/** The descriptor a far JMP/CALL may load into CS directly, checked as the SDM lists. */
function checkFarTarget(c: Cpu, sel: number): Descriptor {
  if ((sel & 0xfffc) === 0) throw new GuestFault(Vec.GP, 0);
  const d = readDescriptor(c, sel);
  const type = typeOf(d);
  if ((d.attrs & ATTR_S) === 0) {
    // Long mode allows only 64-bit call gates (everything else is #GP(selector)); legacy
    // protected mode also has 16/32-bit call gates, task gates and TSS targets.
    const gate = c.efer & EFER_LMA ? type === TYPE_CALL_GATE64 : [1, 4, 5, 9, 12].includes(type);
    if (gate) throw new Error(`far transfer through a gate or TSS (selector 0x${sel.toString(16)}, type ${type}) is not implemented`);
    throw new GuestFault(Vec.GP, sel & 0xfffc);
  }
  if ((type & TYPE_CODE) === 0) throw new GuestFault(Vec.GP, sel & 0xfffc);
  const dpl = dplOf(d);
  if (type & TYPE_CONFORMING) {
    if (dpl > c.cpl) throw new GuestFault(Vec.GP, sel & 0xfffc);
  } else if ((sel & 3) > c.cpl || dpl !== c.cpl) throw new GuestFault(Vec.GP, sel & 0xfffc);
  if ((d.attrs & ATTR_P) === 0) throw new GuestFault(Vec.NP, sel & 0xfffc);
  return d;
}

/** Target offset: 64-bit code takes a canonical 64-bit offset, other code one within the limit. */
function targetOffset(c: Cpu, d: Descriptor, lo: number, hi: number, size: number): number {
  if (isLongCode(d) && c.efer & EFER_LMA) {
    const off = size === 8 ? halvesToSigned(lo, hi) : size === 4 ? lo >>> 0 : lo & 0xffff;
    if (!isCanonical(off)) throw new GuestFault(Vec.GP, 0);
    return off;
  }
  const off = size === 2 ? lo & 0xffff : lo >>> 0;
  if ((size === 8 && hi !== 0) || off > d.limit) throw new GuestFault(Vec.GP, 0);
  return off;
}

/** The far pointer at [c.lin]: offset of the operand size, then the 16-bit selector. */
function readFarPointer(c: Cpu, size: number): { lo: number; hi: number; sel: number } {
  const lo = c.readSized(c.lin, size);
  const hi = size === 8 ? c.hi : 0;
  const sel = c.read16(c.lin + size);
  return { lo, hi, sel };
}

export function jmpFar(c: Cpu, d: Insn): void {
  const s = d.osize;
  const p = readFarPointer(c, s);
  const desc = checkFarTarget(c, p.sel);
  const off = targetOffset(c, desc, p.lo, p.hi, s);
  loadCodeSegment(c, p.sel, desc, c.cpl);
  c.nextRip = off;
}

export function callFar(c: Cpu, d: Insn): void {
  const s = d.osize;
  const p = readFarPointer(c, s);
  const desc = checkFarTarget(c, p.sel);
  const off = targetOffset(c, desc, p.lo, p.hi, s);
  // Return CS, then return RIP, at the operand size on the current stack; RSP moves only
  // once both stores are done (a fault on the second leaves RSP as it was, as in QEMU).
  const ret = c.nextRip;
  const retHi = Math.floor(ret / 4294967296);
  c.writeSized(c.stackLin(-s), s, c.segSel[Seg.CS]!, 0);
  c.writeSized(c.stackLin(-2 * s), s, (ret - retHi * 4294967296) >>> 0, retHi >>> 0);
  c.adjustRsp(-2 * s);
  loadCodeSegment(c, p.sel, desc, c.cpl);
  c.nextRip = off;
}

/** RETF / RETF imm16: pops RIP and CS at the operand size (32 by default, also in 64-bit mode). */
export function retf(c: Cpu, d: Insn): void {
  const s = d.osize;
  const release = d.ot[0] ? d.imm & 0xffff : 0;
  const lo = c.peekStack(0, s);
  const hi = s === 8 ? c.hi : 0;
  const sel = c.peekStack(s, s) & 0xffff;
  if ((sel & 0xfffc) === 0) throw new GuestFault(Vec.GP, 0);
  const desc = readDescriptor(c, sel);
  const type = typeOf(desc);
  if ((desc.attrs & ATTR_S) === 0 || (type & TYPE_CODE) === 0) throw new GuestFault(Vec.GP, sel & 0xfffc);
  const rpl = sel & 3;
  if (rpl < c.cpl) throw new GuestFault(Vec.GP, sel & 0xfffc);
  const dpl = dplOf(desc);
  if (type & TYPE_CONFORMING ? dpl > rpl : dpl !== rpl) throw new GuestFault(Vec.GP, sel & 0xfffc);
  if ((desc.attrs & ATTR_P) === 0) throw new GuestFault(Vec.NP, sel & 0xfffc);
  const off = targetOffset(c, desc, lo, hi, s);
  if (rpl === c.cpl) {
    c.adjustRsp(2 * s + release);
    loadCodeSegment(c, sel, desc, c.cpl);
    c.nextRip = off;
    return;
  }
  returnToOuterLevel(c, s, release, sel, desc, rpl, off);
}

/** RETF to a less privileged level: the outer stack (RSP, SS) follows the return address. */
function returnToOuterLevel(c: Cpu, s: number, release: number, csSel: number, cs: Descriptor, rpl: number, off: number): void {
  const base = 2 * s + release;
  const rspLo = c.peekStack(base, s);
  const rspHi = s === 8 ? c.hi : 0;
  const ssSel = c.peekStack(base + s, s) & 0xffff;
  let ss: Descriptor | undefined;
  if ((ssSel & 0xfffc) === 0) {
    // A null SS is allowed only when returning to 64-bit code below CPL 3.
    if (!(isLongCode(cs) && c.efer & EFER_LMA) || rpl === 3) throw new GuestFault(Vec.GP, 0);
  } else {
    ss = readDescriptor(c, ssSel);
    const t = typeOf(ss);
    if ((ssSel & 3) !== rpl || (ss.attrs & ATTR_S) === 0 || (t & TYPE_CODE) !== 0 || (t & 2) === 0 || dplOf(ss) !== rpl) {
      throw new GuestFault(Vec.GP, ssSel & 0xfffc);
    }
    if ((ss.attrs & ATTR_P) === 0) throw new GuestFault(Vec.SS, ssSel & 0xfffc);
  }
  loadCodeSegment(c, csSel, cs, rpl);
  if (ss) setSegmentCache(c, Seg.SS, ssSel, ss.base, ss.limit, (ss.attrs | 0x100) >>> 0);
  else setSegmentCache(c, Seg.SS, ssSel, 0, 0, (rpl << 13) >>> 0);
  c.cpl = rpl;
  c.updateMode();
  // The new stack pointer, then the release count applies to the new stack as well.
  c.regs[8] = s === 8 ? rspLo : s === 4 ? rspLo >>> 0 : rspLo & 0xffff;
  c.regs[9] = s === 8 ? rspHi : 0;
  c.adjustRsp(release);
  // Data segments the outer level may not use become null (SDM RET, "return to outer privilege").
  for (const seg of [Seg.ES, Seg.DS, Seg.FS, Seg.GS]) {
    const attr = c.segAttr[seg]!;
    const t = (attr >> 8) & 0xf;
    const conformingCode = (t & (TYPE_CODE | TYPE_CONFORMING)) === (TYPE_CODE | TYPE_CONFORMING);
    if (!conformingCode && ((attr >> 13) & 3) < rpl && (c.segSel[seg]! & ~3) !== 0) {
      setSegmentCache(c, seg, 0, c.segBase[seg]!, c.segLimit[seg]!, c.segAttr[seg]! & ~ATTR_P);
    }
  }
  c.nextRip = off;
}
