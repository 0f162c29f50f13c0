import { Seg } from '../decode/insn.js';
import { AC, ARITH, DF, ID, IF, IOPL, NT, RF, TF, VIF, VIP, VM } from '../isa/flags.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';
import { ATTR_P, ATTR_S, type Cpu, halvesToSigned, isCanonical, linToHalves } from './cpu.js';
import { checkCodeDescriptor, isLongCode, loadCodeSegment, readDescriptor, setSegmentCache } from './segments.js';

/** Vectors that push an error code (SDM Vol. 3 Table 6-1). */
const HAS_ERROR_CODE = new Set([Vec.DF, Vec.TS, Vec.NP, Vec.SS, Vec.GP, Vec.PF, Vec.AC, 21, 29, 30]);

export function pushesErrorCode(vector: number): boolean {
  return HAS_ERROR_CODE.has(vector);
}

export interface Event {
  readonly vector: number;
  readonly errorCode?: number;
  /** INT n / INT3 / INTO: gate DPL is checked and the error code's EXT bit is clear. */
  readonly software: boolean;
  /** RIP to save (the faulting instruction for faults, the next one for traps). */
  readonly returnRip: number;
}

/**
 * Deliver an exception or interrupt through the 64-bit IDT (SDM Vol. 3 §6.14): 16-byte gates,
 * stack switch to TSS.RSPn on a privilege change, IST stacks, 16-byte alignment, SS:RSP always
 * pushed. Faults raised here propagate to the caller (which turns them into #DF or a triple fault).
 */
export function deliverLongMode(c: Cpu, ev: Event): void {
  const vector = ev.vector;
  const ext = ev.software ? 0 : 1;
  const gateErr = vector * 8 + 2 + ext;
  if (vector * 16 + 15 > c.idtrLimit) throw new GuestFault(Vec.GP, gateErr);
  const gateAddr = c.idtrBase + vector * 16;
  const [w0, w1, w2] = c.asSupervisor(() => [c.read32(gateAddr), c.read32(gateAddr + 4), c.read32(gateAddr + 8)]);
  const type = (w1 >> 8) & 0x1f;
  if (type !== 0xe && type !== 0xf) throw new GuestFault(Vec.GP, gateErr);
  const gateDpl = (w1 >> 13) & 3;
  if (ev.software && gateDpl < c.cpl) throw new GuestFault(Vec.GP, gateErr);
  if ((w1 & 0x8000) === 0) throw new GuestFault(Vec.NP, gateErr);
  const selector = w0 >>> 16;
  const target = halvesToSigned(((w0 & 0xffff) | (w1 & 0xffff0000)) >>> 0, w2);
  const ist = w1 & 7;

  const cs = checkCodeDescriptor(c, selector, ext);
  if (!isLongCode(cs)) throw new GuestFault(Vec.GP, selector & 0xfffc);
  const csDpl = (cs.hi >> 13) & 3;
  if (csDpl > c.cpl) throw new GuestFault(Vec.GP, selector & 0xfffc);
  const conforming = ((cs.hi >> 8) & 4) !== 0;
  const newCpl = conforming ? c.cpl : csDpl;
  if (!isCanonical(target)) throw new GuestFault(Vec.GP, 0);

  let rsp: number;
  if (ist !== 0) rsp = readTss64(c, 0x24 + 8 * (ist - 1));
  else if (newCpl < c.cpl) rsp = readTss64(c, 4 + 8 * newCpl);
  else rsp = halvesToSigned(c.regs[8]!, c.regs[9]!);
  rsp -= ((rsp % 16) + 16) % 16; // align down to 16
  if (!isCanonical(rsp)) throw new GuestFault(Vec.SS, 0);

  const oldSs = c.segSel[Seg.SS]!;
  const oldRsp = [c.regs[8]!, c.regs[9]!] as const;
  const oldCs = c.segSel[Seg.CS]!;
  const flags = c.getFlags();
  const [ripLo, ripHi] = linToHalves(ev.returnRip);
  const frame: Array<[number, number]> = [[oldSs, 0], [oldRsp[0], oldRsp[1]], [flags, 0], [oldCs, 0], [ripLo, ripHi]];
  if (ev.errorCode !== undefined) frame.push([ev.errorCode >>> 0, 0]);
  c.asSupervisor(() => {
    let p = rsp;
    for (const [lo, hi] of frame) {
      p -= 8;
      if (!isCanonical(p)) throw new GuestFault(Vec.SS, 0);
      c.write64(p, lo, hi);
    }
  });
  const newRsp = rsp - frame.length * 8;

  // Commit.
  const [rl, rh] = linToHalves(newRsp);
  c.regs[8] = rl;
  c.regs[9] = rh;
  if (newCpl !== c.cpl) setSegmentCache(c, Seg.SS, newCpl, 0, 0, (newCpl << 13) >>> 0);
  loadCodeSegment(c, selector, cs, newCpl);
  let f = flags & ~(TF | NT | RF | VM);
  if (type === 0xe) f &= ~IF;
  c.setFlags(f);
  c.rip = target;
  c.nextRip = target;
}

function readTss64(c: Cpu, offset: number): number {
  if (offset + 7 > c.tr.limit) throw new GuestFault(Vec.TS, c.tr.selector & 0xfffc);
  const addr = c.tr.base + offset;
  return c.asSupervisor(() => {
    const lo = c.read32(addr);
    const hi = c.read32(addr + 4);
    return halvesToSigned(lo, hi);
  });
}

/** IRET in 64-bit mode: pops RIP, CS, RFLAGS, RSP, SS (operand-size each); SS:RSP always. */
export function iret64(c: Cpu, osize: number): void {
  const s = osize;
  const ripLo = c.peekStack(0, s);
  const ripHi = s === 8 ? c.hi : 0;
  const csSel = c.peekStack(s, s) & 0xffff;
  const flags = c.peekStack(2 * s, s);
  const rspLo = c.peekStack(3 * s, s);
  const rspHi = s === 8 ? c.hi : 0;
  const ssSel = c.peekStack(4 * s, s) & 0xffff;

  const rpl = csSel & 3;
  if (rpl < c.cpl) throw new GuestFault(Vec.GP, csSel & 0xfffc);
  const cs = checkCodeDescriptor(c, csSel, csSel & 0xfffc);
  const dpl = (cs.hi >> 13) & 3;
  const conforming = ((cs.hi >> 8) & 4) !== 0;
  if (conforming ? dpl > rpl : dpl !== rpl) throw new GuestFault(Vec.GP, csSel & 0xfffc);
  const toLong = isLongCode(cs);
  const newRip = toLong && s === 8 ? halvesToSigned(ripLo, ripHi) : ripLo >>> 0;
  if (!isCanonical(newRip)) throw new GuestFault(Vec.GP, 0);

  // SS: null allowed when returning to 64-bit code at CPL < 3.
  let ssDesc: ReturnType<typeof readDescriptor> | undefined;
  if ((ssSel & ~3) === 0) {
    if (!toLong || rpl === 3) throw new GuestFault(Vec.GP, 0);
  } else {
    ssDesc = readDescriptor(c, ssSel);
    const t = (ssDesc.hi >> 8) & 0xf;
    if ((ssSel & 3) !== rpl || (ssDesc.attrs & ATTR_S) === 0 || (t & 8) !== 0 || (t & 2) === 0 || ((ssDesc.hi >> 13) & 3) !== rpl) {
      throw new GuestFault(Vec.GP, ssSel & 0xfffc);
    }
    if ((ssDesc.attrs & ATTR_P) === 0) throw new GuestFault(Vec.SS, ssSel & 0xfffc);
  }

  // Commit.
  const oldCpl = c.cpl;
  const cur = c.getFlags();
  let modifiable = ARITH | TF | DF | NT | AC | ID | RF;
  if (oldCpl === 0) modifiable |= IOPL | IF | VIF | VIP;
  else if (oldCpl <= ((cur & IOPL) >> 12)) modifiable |= IF;
  if (s === 2) modifiable &= 0xffff;
  c.setFlags((cur & ~modifiable) | (flags & modifiable));
  loadCodeSegment(c, csSel, cs, rpl);
  if (ssDesc) setSegmentCache(c, Seg.SS, ssSel, ssDesc.base, ssDesc.limit, (ssDesc.attrs | 0x100) >>> 0);
  else setSegmentCache(c, Seg.SS, ssSel, 0, 0, (rpl << 13) >>> 0);
  c.cpl = rpl;
  c.updateMode();
  if (s === 8) {
    c.regs[8] = rspLo;
    c.regs[9] = rspHi;
  } else {
    c.regs[8] = rspLo >>> 0;
    c.regs[9] = 0;
  }
  if (rpl > oldCpl) {
    // Data segments the outer level may not use become null.
    for (const seg of [Seg.ES, Seg.DS, Seg.FS, Seg.GS]) {
      const attr = c.segAttr[seg]!;
      const type = (attr >> 8) & 0xf;
      const dplSeg = (attr >> 13) & 3;
      const conformingCode = (type & 0xc) === 0xc;
      if ((type & 8) === 0 || !conformingCode) {
        // QEMU keeps base and limit, clears the selector and P.
        if (dplSeg < rpl && (c.segSel[seg]! & ~3) !== 0) setSegmentCache(c, seg, 0, c.segBase[seg]!, c.segLimit[seg]!, c.segAttr[seg]! & ~ATTR_P);
      }
    }
  }
  c.nextRip = newRip;
}
