import { ATTR_P, ATTR_S, CR0_PE, type Cpu, EFER_LMA, halvesToSigned, isCanonical } from '../cpu/cpu.js';
import { type Descriptor, isLongCode, loadCodeSegment, loadRealSegment, readDescriptor, setSegmentCache } from '../cpu/segments.js';
import { type Insn, Seg } from '../decode/insn.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';

/**
 * Far CALL/JMP through a memory pointer (FF /3, FF /5: m16:16, m16:32, or m16:64 with REX.W)
 * and far RET (CB, CA iw), in protected and long mode (SDM Vol. 2 CALL, JMP, RET; Vol. 3 §5.8).
 * Targets: code segments, and in long mode 64-bit call gates (a CALL through one to a more
 * privileged level, and legacy-mode gates, task gates and TSS targets, are not implemented:
 * they stop the emulator with a crash report rather than run wrongly).
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

/** A code-segment descriptor as a far JMP/CALL or a call gate may load it into CS. */
function checkCodeTarget(c: Cpu, sel: number, d: Descriptor): void {
  const type = typeOf(d);
  if ((d.attrs & ATTR_S) === 0 || (type & TYPE_CODE) === 0) throw new GuestFault(Vec.GP, sel & 0xfffc);
  const dpl = dplOf(d);
  if (type & TYPE_CONFORMING) {
    if (dpl > c.cpl) throw new GuestFault(Vec.GP, sel & 0xfffc);
  } else if ((sel & 3) > c.cpl || dpl !== c.cpl) throw new GuestFault(Vec.GP, sel & 0xfffc);
}

/** Where a far JMP/CALL goes: CS selector and descriptor, and the gate's offset when it went through one. */
interface FarTarget {
  readonly sel: number;
  readonly desc: Descriptor;
  /** Offset from a 64-bit call gate (which also makes the CALL push 8-byte slots). */
  readonly gateOffset?: number;
}

/** The far JMP/CALL target, checked as the SDM lists (a code segment, or a 64-bit call gate in long mode). */
function farTarget(c: Cpu, sel: number, call: boolean): FarTarget {
  if ((sel & 0xfffc) === 0) throw new GuestFault(Vec.GP, 0);
  const d = readDescriptor(c, sel);
  if ((d.attrs & ATTR_S) !== 0) {
    checkCodeTarget(c, sel, d);
    if ((d.attrs & ATTR_P) === 0) throw new GuestFault(Vec.NP, sel & 0xfffc);
    return { sel, desc: d };
  }
  const type = typeOf(d);
  if (c.efer & EFER_LMA && type === TYPE_CALL_GATE64) return throughCallGate(c, sel, d, call);
  // Legacy protected mode also has 16/32-bit call gates, task gates and TSS targets.
  if (!(c.efer & EFER_LMA) && [1, 4, 5, 9, 12].includes(type)) {
    throw new Error(`far transfer through a gate or TSS (selector 0x${sel.toString(16)}, type ${type}) is not implemented outside long mode`);
  }
  throw new GuestFault(Vec.GP, sel & 0xfffc);
}

/** A 64-bit call gate (16 bytes): its DPL and presence, then the 64-bit code segment it names. */
function throughCallGate(c: Cpu, gateSel: number, gate: Descriptor, call: boolean): FarTarget {
  const dpl = dplOf(gate);
  if (dpl < c.cpl || dpl < (gateSel & 3)) throw new GuestFault(Vec.GP, gateSel & 0xfffc);
  if ((gate.attrs & ATTR_P) === 0) throw new GuestFault(Vec.NP, gateSel & 0xfffc);
  // The upper half must be in the table too, with a zero type field.
  const upper = readDescriptor(c, (gateSel & 0xfffc) + 8);
  if (((upper.hi >> 8) & 0x1f) !== 0) throw new GuestFault(Vec.GP, gateSel & 0xfffc);
  const offset = halvesToSigned(((gate.lo & 0xffff) | (gate.hi & 0xffff0000)) >>> 0, upper.lo);
  const sel = gate.lo >>> 16;
  if ((sel & 0xfffc) === 0) throw new GuestFault(Vec.GP, 0);
  const d = readDescriptor(c, sel);
  // The gate's code selector: its RPL is not checked; a JMP needs DPL = CPL (or conforming
  // code with DPL ≤ CPL), a CALL may also go to more privileged non-conforming code.
  const type = typeOf(d);
  const codeDpl = dplOf(d);
  if ((d.attrs & ATTR_S) === 0 || (type & TYPE_CODE) === 0 || codeDpl > c.cpl) throw new GuestFault(Vec.GP, sel & 0xfffc);
  if (!call && (type & TYPE_CONFORMING) === 0 && codeDpl !== c.cpl) throw new GuestFault(Vec.GP, sel & 0xfffc);
  if (!isLongCode(d)) throw new GuestFault(Vec.GP, sel & 0xfffc);
  if ((d.attrs & ATTR_P) === 0) throw new GuestFault(Vec.NP, sel & 0xfffc);
  if (!isCanonical(offset)) throw new GuestFault(Vec.GP, 0);
  return { sel, desc: d, gateOffset: offset };
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

interface FarPointer {
  readonly lo: number;
  readonly hi: number;
  readonly sel: number;
}

/** The far pointer at [c.lin]: offset of the operand size, then the 16-bit selector. */
function readFarPointer(c: Cpu, size: number): FarPointer {
  const lo = c.readSized(c.lin, size);
  const hi = size === 8 ? c.hi : 0;
  const sel = c.read16(c.lin + size);
  return { lo, hi, sel };
}

/** The far pointer of JMPF/CALLF ptr16:16/32 (EA, 9A): offset and selector as immediates. */
function immediatePointer(d: Insn): FarPointer {
  return { lo: d.osize === 2 ? d.imm & 0xffff : d.imm >>> 0, hi: 0, sel: d.imm2 & 0xffff };
}

export function jmpFar(c: Cpu, d: Insn): void {
  jmpFarTo(c, d, readFarPointer(c, d.osize));
}

export function jmpFarDirect(c: Cpu, d: Insn): void {
  jmpFarTo(c, d, immediatePointer(d));
}

export function callFar(c: Cpu, d: Insn): void {
  callFarTo(c, d, readFarPointer(c, d.osize));
}

export function callFarDirect(c: Cpu, d: Insn): void {
  callFarTo(c, d, immediatePointer(d));
}

function jmpFarTo(c: Cpu, d: Insn, p: FarPointer): void {
  const s = d.osize;
  if ((c.cr0 & CR0_PE) === 0) {
    // real mode: no descriptor, CS base = selector·16 (QEMU's helper_ljmp_real equivalent)
    loadRealSegment(c, Seg.CS, p.sel);
    c.nextRip = s === 2 ? p.lo & 0xffff : p.lo >>> 0;
    return;
  }
  const t = farTarget(c, p.sel, false);
  const off = t.gateOffset ?? targetOffset(c, t.desc, p.lo, p.hi, s);
  loadCodeSegment(c, t.sel, t.desc, c.cpl);
  c.nextRip = off;
}

function callFarTo(c: Cpu, d: Insn, p: FarPointer): void {
  if ((c.cr0 & CR0_PE) === 0) {
    // real mode: push CS and IP at the operand size, then load CS as in a real-mode far JMP
    const s = d.osize === 2 ? 2 : 4;
    c.writeSized(c.stackLin(-s), s, c.segSel[Seg.CS]!, 0);
    c.writeSized(c.stackLin(-2 * s), s, c.nextRip >>> 0, 0);
    c.adjustRsp(-2 * s);
    loadRealSegment(c, Seg.CS, p.sel);
    c.nextRip = s === 2 ? p.lo & 0xffff : p.lo >>> 0;
    return;
  }
  const t = farTarget(c, p.sel, true);
  // Through a 64-bit call gate the pushes are 8 bytes whatever the operand size. A gate to
  // more privileged code switches stacks (TSS.RSPn): not implemented, and unreachable at CPL 0.
  if (t.gateOffset !== undefined && (typeOf(t.desc) & TYPE_CONFORMING) === 0 && dplOf(t.desc) < c.cpl) {
    throw new Error('far CALL through a call gate to a more privileged level is not implemented');
  }
  const s = t.gateOffset !== undefined ? 8 : d.osize;
  const off = t.gateOffset ?? targetOffset(c, t.desc, p.lo, p.hi, s);
  // Return CS, then return RIP, at the operand size on the current stack; RSP moves only
  // once both stores are done (a fault on the second leaves RSP as it was, as in QEMU).
  const ret = c.nextRip;
  const retHi = Math.floor(ret / 4294967296);
  c.writeSized(c.stackLin(-s), s, c.segSel[Seg.CS]!, 0);
  c.writeSized(c.stackLin(-2 * s), s, (ret - retHi * 4294967296) >>> 0, retHi >>> 0);
  c.adjustRsp(-2 * s);
  loadCodeSegment(c, t.sel, t.desc, c.cpl);
  c.nextRip = off;
}

/** RETF / RETF imm16: pops RIP and CS at the operand size (32 by default, also in 64-bit mode). */
export function retf(c: Cpu, d: Insn): void {
  const s = d.osize;
  const release = d.ot[0] ? d.imm & 0xffff : 0;
  const lo = c.peekStack(0, s);
  const hi = s === 8 ? c.hi : 0;
  const sel = c.peekStack(s, s) & 0xffff;
  if ((c.cr0 & CR0_PE) === 0) {
    c.adjustRsp(2 * s + release);
    loadRealSegment(c, Seg.CS, sel);
    c.nextRip = s === 2 ? lo & 0xffff : lo >>> 0;
    return;
  }
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
