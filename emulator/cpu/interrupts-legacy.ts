import { Seg } from '../decode/insn.js';
import { AC, ARITH, DF, ID, IF, IOPL, NT, RF, TF, VM } from '../isa/flags.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';
import { ATTR_DB, ATTR_P, ATTR_S, type Cpu, EFER_LMA } from './cpu.js';
import type { Event } from './interrupts.js';
import { type Descriptor, loadCodeSegment, readDescriptor, setSegmentCache } from './segments.js';

/**
 * Interrupt and exception delivery, and IRET, outside IA-32e mode's 64-bit gates: protected mode
 * (8-byte IDT gates, 16- and 32-bit, with a stack switch through the TSS on a privilege change)
 * and real mode (the interrupt vector table). SDM Vol. 3 §6.12 and §20.1.4; the checks, their
 * order and their error codes are QEMU 7.2's (seg_helper.c do_interrupt_protected,
 * helper_ret_protected), which the differential suite compares against:
 * - a gate or IDT-limit fault's error code is vector·8 + 2 (IDT bit, no EXT bit);
 * - a 16-bit gate still supplies a 32-bit offset (both halves of the gate);
 * - a not-present stack segment for a return to an outer level is #NP, not #SS.
 * Task gates (task switches) are not implemented: delivery through one stops the emulator with a
 * crash report naming it rather than run wrongly.
 */

const TWO32 = 4294967296;
const TYPE_CODE = 8;
const TYPE_CONFORMING = 4;
const TYPE_WRITABLE = 2;

/** A stack as QEMU's StackAccess sees it: SS base, a 16- or 32-bit stack pointer, and its mask. */
class LegacyStack {
  constructor(
    private readonly c: Cpu,
    readonly base: number,
    public sp: number,
    readonly mask: number,
  ) {}

  private lin(): number {
    return (this.base + ((this.sp & this.mask) >>> 0)) % TWO32;
  }

  push(size: number, v: number): void {
    this.sp = (this.sp - size) >>> 0;
    if (size === 4) this.c.write32(this.lin(), v >>> 0);
    else this.c.write16(this.lin(), v & 0xffff);
  }

  pop(size: number): number {
    const v = size === 4 ? this.c.read32(this.lin()) : this.c.read16(this.lin());
    this.sp = (this.sp + size) >>> 0;
    return v;
  }

  /** ESP ← sp within the mask (QEMU SET_ESP: a 16-bit stack keeps ESP's upper bits). */
  commit(): void {
    const r = this.c.regs;
    if (this.mask === 0xffff) r[8] = ((r[8]! & 0xffff0000) | (this.sp & 0xffff)) >>> 0;
    else {
      r[8] = this.sp >>> 0;
      r[9] = 0;
    }
  }
}

function maskOf(attrs: number): number {
  return attrs & ATTR_DB ? 0xffffffff : 0xffff;
}

function typeOf(d: Descriptor): number {
  return (d.hi >> 8) & 0xf;
}

function dplOf(d: Descriptor): number {
  return (d.hi >> 13) & 3;
}

/** Deliver through a protected-mode IDT (legacy mode: EFER.LMA = 0, CR0.PE = 1). */
export function deliverProtected(c: Cpu, ev: Event): void {
  const vector = ev.vector;
  const gateErr = vector * 8 + 2;
  if (vector * 8 + 7 > c.idtrLimit) throw new GuestFault(Vec.GP, gateErr);
  const gateAddr = c.idtrBase + vector * 8;
  const [e1, e2] = c.asSupervisor(() => [c.read32(gateAddr), c.read32(gateAddr + 4)]);
  const type = (e2 >> 8) & 0x1f;
  if (type !== 5 && type !== 6 && type !== 7 && type !== 14 && type !== 15) throw new GuestFault(Vec.GP, gateErr);
  const gateDpl = (e2 >> 13) & 3;
  if (ev.software && gateDpl < c.cpl) throw new GuestFault(Vec.GP, gateErr);
  if ((e2 & ATTR_P) === 0) throw new GuestFault(Vec.NP, gateErr);
  if (type === 5) throw new Error(`interrupt ${vector} through a task gate (a task switch) is not implemented`);
  const selector = e1 >>> 16;
  const offset = ((e2 & 0xffff0000) | (e1 & 0xffff)) >>> 0;
  if ((selector & 0xfffc) === 0) throw new GuestFault(Vec.GP, 0);
  const cs = readDescriptor(c, selector);
  if ((cs.attrs & ATTR_S) === 0 || (typeOf(cs) & TYPE_CODE) === 0) throw new GuestFault(Vec.GP, selector & 0xfffc);
  let dpl = dplOf(cs);
  if (dpl > c.cpl) throw new GuestFault(Vec.GP, selector & 0xfffc);
  if ((cs.attrs & ATTR_P) === 0) throw new GuestFault(Vec.NP, selector & 0xfffc);
  if (typeOf(cs) & TYPE_CONFORMING) dpl = c.cpl;
  const vm86 = (c.flagsRest & VM) !== 0;

  let stack: LegacyStack;
  let newSs: { sel: number; d: Descriptor } | undefined;
  if (dpl < c.cpl) {
    const { ss, esp } = stackFromTss(c, dpl);
    if ((ss & 0xfffc) === 0 || (ss & 3) !== dpl) throw new GuestFault(Vec.TS, ss & 0xfffc);
    const ssDesc = readDescriptor(c, ss, Vec.TS);
    const t = typeOf(ssDesc);
    if (dplOf(ssDesc) !== dpl || (ssDesc.attrs & ATTR_S) === 0 || (t & TYPE_CODE) !== 0 || (t & TYPE_WRITABLE) === 0 || (ssDesc.attrs & ATTR_P) === 0) {
      throw new GuestFault(Vec.TS, ss & 0xfffc);
    }
    newSs = { sel: ss, d: ssDesc };
    stack = new LegacyStack(c, ssDesc.base, esp, maskOf(ssDesc.attrs));
  } else {
    if (vm86) throw new GuestFault(Vec.GP, selector & 0xfffc);
    stack = new LegacyStack(c, c.segBase[Seg.SS]!, c.regs[8]!, maskOf(c.segAttr[Seg.SS]!));
  }
  if (vm86) throw new Error(`interrupt ${vector} from virtual-8086 mode is not implemented`);

  const size = type & 8 ? 4 : 2;
  const flags = c.getFlags();
  c.asSupervisor(() => {
    if (newSs) {
      stack.push(size, c.segSel[Seg.SS]!);
      stack.push(size, c.regs[8]!);
    }
    stack.push(size, flags);
    stack.push(size, c.segSel[Seg.CS]!);
    stack.push(size, ev.returnRip >>> 0);
    if (ev.errorCode !== undefined) stack.push(size, ev.errorCode);
  });

  // Commit.
  let f = flags & ~(TF | VM | RF | NT);
  if ((type & 1) === 0) f &= ~IF;
  c.setFlags(f);
  if (newSs) setSegmentCache(c, Seg.SS, (newSs.sel & ~3) | dpl, newSs.d.base, newSs.d.limit, (newSs.d.attrs | 0x100) >>> 0);
  stack.commit();
  loadCodeSegment(c, selector, cs, dpl);
  c.rip = offset;
  c.nextRip = offset;
}

/** SS:ESP for privilege level `dpl` from the current TSS (16- or 32-bit by its type), #TS past its limit. */
function stackFromTss(c: Cpu, dpl: number): { ss: number; esp: number } {
  const type = (c.tr.attrs >> 8) & 0xf;
  // an available or busy 16/32-bit TSS (LTR marks it busy)
  if ((c.tr.attrs & ATTR_P) === 0 || (type & 5) !== 1) throw new Error(`interrupt to ring ${dpl} with no valid TSS loaded (TR type ${type}) is not implemented`);
  const shift = type >> 3;
  const index = (dpl * 4 + 2) << shift;
  if (index + (4 << shift) - 1 > c.tr.limit) throw new GuestFault(Vec.TS, c.tr.selector & 0xfffc);
  const at = c.tr.base + index;
  return c.asSupervisor(() =>
    shift === 0 ? { esp: c.read16(at), ss: c.read16(at + 2) } : { esp: c.read32(at), ss: c.read16(at + 4) },
  );
}

/** Deliver in real mode: IP, CS, FLAGS pushed as words; CS:IP from the interrupt vector table. */
export function deliverReal(c: Cpu, ev: Event): void {
  const vector = ev.vector;
  if (vector * 4 + 3 > c.idtrLimit) throw new GuestFault(Vec.GP, vector * 8 + 2);
  const at = c.idtrBase + vector * 4;
  const offset = c.read16(at);
  const selector = c.read16(at + 2);
  const stack = new LegacyStack(c, c.segBase[Seg.SS]!, c.regs[8]!, 0xffff);
  const flags = c.getFlags();
  stack.push(2, flags);
  stack.push(2, c.segSel[Seg.CS]!);
  stack.push(2, ev.returnRip);
  stack.commit();
  c.segSel[Seg.CS] = selector;
  c.segBase[Seg.CS] = selector * 16;
  c.setFlags(flags & ~(IF | TF | AC | RF));
  c.rip = offset;
  c.nextRip = offset;
}

/** IRET in real mode (and the 16/32-bit forms): pops IP, CS, FLAGS; IOPL is writable. */
export function iretReal(c: Cpu, osize: number): void {
  const s = osize === 2 ? 2 : 4;
  const stack = new LegacyStack(c, c.segBase[Seg.SS]!, c.regs[8]!, 0xffff);
  const ip = stack.pop(s);
  const cs = stack.pop(s) & 0xffff;
  const newFlags = stack.pop(s);
  stack.commit();
  c.segSel[Seg.CS] = cs;
  c.segBase[Seg.CS] = cs * 16;
  let mask = ARITH | DF | TF | AC | ID | IF | IOPL | RF | NT;
  if (s === 2) mask &= 0xffff;
  c.setFlags((c.getFlags() & ~mask) | (newFlags & mask));
  c.nextRip = ip;
}

/**
 * IRET outside 64-bit code with CR0.PE = 1 (legacy protected mode, and compatibility mode,
 * where QEMU 7.2 behaves as in legacy mode: a return to the same level pops no SS:ESP, though
 * the SDM's IA-32e-mode IRET always does).
 */
export function iretProtected(c: Cpu, osize: number): void {
  const cur = c.getFlags();
  if (cur & NT) {
    if (c.efer & EFER_LMA) throw new GuestFault(Vec.GP, 0);
    throw new Error('IRET with NT set (a return from a nested task) is not implemented');
  }
  const s = osize === 2 ? 2 : 4;
  const stack = new LegacyStack(c, c.segBase[Seg.SS]!, c.regs[8]!, maskOf(c.segAttr[Seg.SS]!));
  const newIp = stack.pop(s);
  const csSel = stack.pop(s) & 0xffff;
  const newFlags = stack.pop(s);
  if (s === 4 && newFlags & VM) throw new Error('IRET to virtual-8086 mode is not implemented');
  if ((csSel & 0xfffc) === 0) throw new GuestFault(Vec.GP, 0);
  const cs = readDescriptor(c, csSel);
  if ((cs.attrs & ATTR_S) === 0 || (typeOf(cs) & TYPE_CODE) === 0) throw new GuestFault(Vec.GP, csSel & 0xfffc);
  const cpl = c.cpl;
  const rpl = csSel & 3;
  if (rpl < cpl) throw new GuestFault(Vec.GP, csSel & 0xfffc);
  const dpl = dplOf(cs);
  if (typeOf(cs) & TYPE_CONFORMING ? dpl > rpl : dpl !== rpl) throw new GuestFault(Vec.GP, csSel & 0xfffc);
  if ((cs.attrs & ATTR_P) === 0) throw new GuestFault(Vec.NP, csSel & 0xfffc);

  if (rpl === cpl) {
    loadCodeSegment(c, csSel, cs, rpl);
    stack.commit();
  } else {
    const newSp = stack.pop(s);
    const ssSel = stack.pop(s) & 0xffff;
    let ssCache: { base: number; limit: number; attrs: number };
    if ((ssSel & 0xfffc) === 0) {
      // A null SS is allowed in IA-32e mode below ring 3 (QEMU loads a flat writable cache).
      if (!(c.efer & EFER_LMA) || rpl === 3) throw new GuestFault(Vec.GP, 0);
      ssCache = { base: 0, limit: 0xffffffff, attrs: (0x00c09300 | (rpl << 13)) >>> 0 };
    } else {
      if ((ssSel & 3) !== rpl) throw new GuestFault(Vec.GP, ssSel & 0xfffc);
      const ss = readDescriptor(c, ssSel);
      const t = typeOf(ss);
      if ((ss.attrs & ATTR_S) === 0 || (t & TYPE_CODE) !== 0 || (t & TYPE_WRITABLE) === 0) throw new GuestFault(Vec.GP, ssSel & 0xfffc);
      if (dplOf(ss) !== rpl) throw new GuestFault(Vec.GP, ssSel & 0xfffc);
      if ((ss.attrs & ATTR_P) === 0) throw new GuestFault(Vec.NP, ssSel & 0xfffc);
      ssCache = { base: ss.base, limit: ss.limit, attrs: (ss.attrs | 0x100) >>> 0 };
    }
    setSegmentCache(c, Seg.SS, ssSel, ssCache.base, ssCache.limit, ssCache.attrs);
    loadCodeSegment(c, csSel, cs, rpl);
    new LegacyStack(c, ssCache.base, newSp, maskOf(ssCache.attrs)).commit();
    invalidateOuterSegments(c, rpl);
  }
  let mask = ARITH | DF | TF | AC | ID | RF | NT;
  if (cpl === 0) mask |= IOPL;
  if (cpl <= (cur & IOPL) >> 12) mask |= IF;
  if (s === 2) mask &= 0xffff;
  c.setFlags((cur & ~mask) | (newFlags & mask));
  c.nextRip = newIp;
}

/**
 * After a return to an outer level, data segments (and non-conforming code) more privileged
 * than it become unusable: QEMU (validate_seg) clears the selector and P, keeping base and
 * limit, and leaves a null FS or GS alone.
 */
export function invalidateOuterSegments(c: Cpu, rpl: number): void {
  for (const seg of [Seg.ES, Seg.DS, Seg.FS, Seg.GS]) {
    if ((seg === Seg.FS || seg === Seg.GS) && (c.segSel[seg]! & 0xfffc) === 0) continue;
    const attr = c.segAttr[seg]!;
    const type = (attr >> 8) & 0xf;
    const conformingCode = (type & (TYPE_CODE | TYPE_CONFORMING)) === (TYPE_CODE | TYPE_CONFORMING);
    if (!conformingCode && ((attr >> 13) & 3) < rpl) setSegmentCache(c, seg, 0, c.segBase[seg]!, c.segLimit[seg]!, attr & ~ATTR_P);
  }
}
