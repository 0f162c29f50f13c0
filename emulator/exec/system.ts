import {
  CR0_PE, CR0_PG, CR0_TS, CR4_OSXSAVE, CR4_PAE, CR4_PCIDE, type Cpu, EFER_LMA, EFER_LME, EFER_SCE, halvesToSigned, isCanonical,
  linToHalves,
} from '../cpu/cpu.js';
import { cpuidKey } from '../cpu/cpu-model.js';
import { iret64 } from '../cpu/interrupts.js';
import { iretProtected, iretReal } from '../cpu/interrupts-legacy.js';
import { loadSegment, readDescriptor, setSegmentCache } from '../cpu/segments.js';
import { type Insn, Opnd, Seg } from '../decode/insn.js';
import { AF, CF, NT, OF, PF, RF, SF, VM, ZF } from '../isa/flags.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';
import { MSR } from './msrs.js';
import { checkCr0Transition, checkCr4Transition, checkUmip, cr4FeatureBits } from './system-features.js';
import { readOp, writeOp } from './operands.js';

export { MSR, rdmsr, readMsr, wrmsr, writeMsr } from './msrs.js';

/** Control registers, descriptor tables, CPUID, RDTSC, RDRAND, HLT, SWAPGS, SYSCALL/SYSRET (MSRs: msrs.ts; port I/O: port-io.ts). */

const CR4_VALID = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400; // VME..OSXMMEXCPT

export function hlt(c: Cpu): void {
  c.halted = true;
}

export function movFromCr(c: Cpu, d: Insn): void {
  const n = d.reg;
  if (n === 2) {
    c.setReg(d.or[0]!, 8, c.cr2Lo, c.cr2Hi);
    return;
  }
  let v: number;
  switch (n) {
    case 0: v = c.cr0; break;
    case 3: v = c.cr3; break;
    case 4: v = c.cr4; break;
    case 8: v = c.cr8; break;
    default: throw new GuestFault(Vec.UD);
  }
  const [lo, hi] = linToHalves(v);
  c.setReg(d.or[0]!, 8, lo, hi);
}

export function movToCr(c: Cpu, d: Insn): void {
  const lo = c.getReg(d.or[1]!, 8);
  // Outside 64-bit mode the operand is 32 bits: whatever the register's upper half holds is not written.
  const hi = c.long64 ? c.hi : 0;
  writeCr(c, d.reg, lo, hi);
}

export function writeCr(c: Cpu, n: number, lo: number, hi: number): void {
  switch (n) {
    case 0: {
      if (hi !== 0) throw new GuestFault(Vec.GP, 0);
      const v = (lo | 0x10) >>> 0; // ET is hardwired to 1
      if ((v & CR0_PG) && !(v & CR0_PE)) throw new GuestFault(Vec.GP, 0);
      if ((v & CR0_PG) && (c.efer & EFER_LME) && !(c.cr4 & CR4_PAE)) throw new GuestFault(Vec.GP, 0);
      if (!(v & CR0_PG) && c.long64) throw new GuestFault(Vec.GP, 0);
      checkCr0Transition(c, v);
      c.cr0 = v;
      if ((v & CR0_PG) && (c.efer & EFER_LME)) c.efer |= EFER_LMA;
      else if (!(v & CR0_PG)) c.efer &= ~EFER_LMA;
      c.updateMode();
      c.syncMmu();
      return;
    }
    case 2:
      c.cr2Lo = lo >>> 0;
      c.cr2Hi = hi >>> 0;
      return;
    case 3: {
      // In 64-bit mode bits 63:MAXPHYADDR are reserved: #GP(0) (SDM MOV CR, 64-bit mode exceptions);
      // with CR4.PCIDE bit 63 is the flag that keeps the new PCID's TLB entries instead. Bit 63 is never
      // stored; this TLB has no PCIDs and flushes.
      if (c.long64) {
        const above = hi >>> Math.max(0, c.model.physBits - 32);
        const reservedHigh = c.cr4 & CR4_PCIDE ? above & ~(1 << (63 - Math.max(32, c.model.physBits))) : above;
        if (reservedHigh !== 0) throw new GuestFault(Vec.GP, 0);
      }
      c.cr3 = (hi & 0xfffff) * 4294967296 + lo;
      c.syncMmu();
      return;
    }
    case 4: {
      const valid = CR4_VALID | cr4FeatureBits(c.model) | (c.model.features.has('xsave') ? CR4_OSXSAVE : 0);
      if (hi !== 0 || (lo & ~valid) !== 0) throw new GuestFault(Vec.GP, 0);
      if ((c.efer & EFER_LMA) && !(lo & CR4_PAE)) throw new GuestFault(Vec.GP, 0);
      checkCr4Transition(c, lo);
      c.cr4 = lo >>> 0;
      c.syncMmu();
      return;
    }
    case 8:
      if (hi !== 0 || lo > 15) throw new GuestFault(Vec.GP, 0);
      c.cr8 = lo;
      return;
    default:
      throw new GuestFault(Vec.UD);
  }
}

/** CR4.PCE: RDPMC at any privilege level. */
const CR4_PCE = 1 << 8;
/** CR4.DE (debugging extensions): DR4/DR5 raise #UD instead of naming DR6/DR7. */
const CR4_DE = 1 << 3;
/** Bits of DR6 and DR7 that read as 1 whatever is written (SDM Vol. 3 §18.2.3, §18.2.4). */
const DR6_FIXED_1 = 0xffff0ff0n;
const DR7_FIXED_1 = 0x400n;

/** The debug register a MOV names: DR4 and DR5 are DR6 and DR7 unless CR4.DE is set (#UD then; SDM Vol. 3 §18.2.2). */
function debugRegister(c: Cpu, n: number): number {
  if (n > 7) throw new GuestFault(Vec.UD);
  if (n === 4 || n === 5) {
    if (c.cr4 & CR4_DE) throw new GuestFault(Vec.UD);
    return n + 2;
  }
  return n;
}

export function movFromDr(c: Cpu, d: Insn): void {
  c.set64(d.or[0]!, c.dr[debugRegister(c, d.reg)]!);
}

export function movToDr(c: Cpu, d: Insn): void {
  const n = debugRegister(c, d.reg);
  let v = c.get64(d.or[1]!);
  if (!c.long64) v &= 0xffffffffn;
  if (n >= 6) {
    // DR6 and DR7: bits 63:32 are reserved, a 1 there is #GP(0) (SDM MOV—Move to/from Debug Registers)
    if (v >> 32n) throw new GuestFault(Vec.GP, 0);
    v |= n === 6 ? DR6_FIXED_1 : DR7_FIXED_1;
  }
  c.dr[n] = v;
}

export function clts(c: Cpu): void {
  c.cr0 = (c.cr0 & ~CR0_TS) >>> 0;
}

/** LGDT/LIDT/SGDT/SIDT: 2-byte limit + 8-byte base in 64-bit mode. */
export function lgdt(c: Cpu, d: Insn): void {
  const [limit, base] = readPseudoDescriptor(c, d);
  c.gdtrLimit = limit;
  c.gdtrBase = base;
}

export function lidt(c: Cpu, d: Insn): void {
  const [limit, base] = readPseudoDescriptor(c, d);
  c.idtrLimit = limit;
  c.idtrBase = base;
}

/** Outside 64-bit mode a 16-bit operand size keeps 24 bits of the base (SDM LGDT/SGDT; QEMU likewise). */
function readPseudoDescriptor(c: Cpu, d: Insn): [number, number] {
  const limit = c.read16(c.lin);
  const lo = c.read32(c.lin + 2);
  const hi = c.long64 ? c.read32(c.lin + 6) : 0;
  const base = halvesToSigned(lo, hi);
  if (c.long64 && !isCanonical(base)) throw new GuestFault(Vec.GP, 0);
  return [limit, c.long64 ? base : d.osize === 2 ? lo & 0xffffff : lo >>> 0];
}

function storePseudoDescriptor(c: Cpu, d: Insn, limit: number, base: number): void {
  c.probeWrite(c.lin, c.long64 ? 10 : 6);
  const [lo, hi] = linToHalves(!c.long64 && d.osize === 2 ? base & 0xffffff : base);
  c.write16(c.lin, limit);
  c.write32(c.lin + 2, lo);
  if (c.long64) c.write32(c.lin + 6, hi);
}

export function sgdt(c: Cpu, d: Insn): void {
  checkUmip(c);
  storePseudoDescriptor(c, d, c.gdtrLimit, c.gdtrBase);
}

export function sidt(c: Cpu, d: Insn): void {
  checkUmip(c);
  storePseudoDescriptor(c, d, c.idtrLimit, c.idtrBase);
}

export function smsw(c: Cpu, d: Insn): void {
  checkUmip(c);
  // Register form writes the operand size (upper CR0 bits included); memory form stores 16 bits.
  if (d.ot[0] === Opnd.Mem) c.write16(c.lin, c.cr0 & 0xffff);
  else c.setReg(d.or[0]!, d.osize, c.cr0 >>> 0, 0);
}

export function lmsw(c: Cpu, d: Insn): void {
  const v = readOp(c, d, 0) & 0xf;
  // LMSW can set PE but never clear it.
  const cr0 = (c.cr0 & ~0xe) | v | (c.cr0 & 1);
  writeCr(c, 0, cr0 >>> 0, 0);
}

/**
 * The address is computed here, without the canonical check of other memory operands: in 64-bit
 * mode INVLPG of a non-canonical address is a NOP (SDM Vol. 2A, INVLPG), not #GP.
 */
export function invlpg(c: Cpu, d: Insn): void {
  c.effectiveAddress(d);
  const lin = c.segLinearUnchecked(c.eaLo, c.eaHi, d.seg);
  if (!c.long64 || isCanonical(lin)) c.mmu.invalidate(lin);
}

export function sldt(c: Cpu, d: Insn): void {
  checkUmip(c);
  writeSelector(c, d, c.ldtr.selector);
}

export function str(c: Cpu, d: Insn): void {
  checkUmip(c);
  writeSelector(c, d, c.tr.selector);
}

function writeSelector(c: Cpu, d: Insn, sel: number): void {
  if (d.ot[0] === Opnd.Mem) c.write16(c.lin, sel);
  else c.setReg(d.or[0]!, d.osize, sel, 0);
}

/** LLDT/LTR: 16-byte system descriptors in 64-bit mode. */
function loadSystemSegment(c: Cpu, d: Insn, tr: boolean): void {
  const sel = readOp(c, d, 0) & 0xffff;
  const target = tr ? c.tr : c.ldtr;
  if ((sel & ~3) === 0) {
    if (tr) throw new GuestFault(Vec.GP, 0);
    Object.assign(target, { selector: sel, base: 0, limit: 0, attrs: 0 });
    return;
  }
  if (sel & 4) throw new GuestFault(Vec.GP, sel & 0xfffc);
  const desc = readDescriptor(c, sel);
  const type = (desc.hi >> 8) & 0x1f;
  if (tr ? type !== 0x09 : type !== 0x02) throw new GuestFault(Vec.GP, sel & 0xfffc);
  if ((desc.hi & 0x8000) === 0) throw new GuestFault(Vec.NP, sel & 0xfffc);
  let base = desc.base;
  if (c.long64) {
    const upper = c.asSupervisor(() => c.read32(desc.addr + 8));
    base = halvesToSigned(desc.base, upper);
  }
  if (tr) c.asSupervisor(() => c.write32(desc.addr + 4, (desc.hi | 0x200) >>> 0)); // mark busy
  Object.assign(target, { selector: sel, base, limit: desc.limit, attrs: tr ? (desc.attrs | 0x200) >>> 0 : desc.attrs });
}

export function lldt(c: Cpu, d: Insn): void {
  loadSystemSegment(c, d, false);
}

export function ltr(c: Cpu, d: Insn): void {
  loadSystemSegment(c, d, true);
}

export function movToSreg(c: Cpu, d: Insn): void {
  const seg = d.reg & 7;
  if (seg === Seg.CS || seg > Seg.GS) throw new GuestFault(Vec.UD);
  const sel = readOp(c, d, 1) & 0xffff;
  loadSegment(c, seg, sel);
}

export function movFromSreg(c: Cpu, d: Insn): void {
  const seg = d.reg & 7;
  if (seg > Seg.GS) throw new GuestFault(Vec.UD);
  const sel = c.segSel[seg]!;
  if (d.ot[0] === Opnd.Mem) c.write16(c.lin, sel);
  else c.setReg(d.or[0]!, d.osize, sel, 0);
}

export function swapgs(c: Cpu): void {
  if (!c.long64) throw new GuestFault(Vec.UD);
  const t = c.segBase[Seg.GS]!;
  c.segBase[Seg.GS] = c.kernelGsBase;
  c.kernelGsBase = t;
}

export function rdtsc(c: Cpu): void {
  if ((c.cr4 & 0x4) && c.cpl !== 0) throw new GuestFault(Vec.GP, 0);
  const t = BigInt.asUintN(64, c.readTsc());
  c.setReg(0, 4, Number(t & 0xffffffffn));
  c.setReg(2, 4, Number(t >> 32n));
}

/**
 * RDPMC: #GP(0) outside CPL 0 unless CR4.PCE is set (SDM RDPMC). The counters themselves are not
 * modelled: #UD, as QEMU 7.2 TCG raises after the same check (helper_rdpmc: "unimplemented rdpmc").
 */
export function rdpmc(c: Cpu): void {
  if (!(c.cr4 & CR4_PCE) && c.cpl !== 0) throw new GuestFault(Vec.GP, 0);
  throw new GuestFault(Vec.UD);
}

export function rdtscp(c: Cpu): void {
  rdtsc(c);
  c.setReg(1, 4, Number(c.msr.get(MSR.TSC_AUX) ?? 0n));
}

/**
 * RDRAND's generator: splitmix64 from a fixed seed, so emulator runs repeat exactly. Its values
 * are nondeterministic by definition; the differential harness follows the oracle's value
 * (harness/sync-rules.ts, rule 'rdrand-rdseed').
 */
let randomState = 0x9e3779b97f4a7c15n;

function nextRandom(): bigint {
  randomState = BigInt.asUintN(64, randomState + 0x9e3779b97f4a7c15n);
  let z = randomState;
  z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
  z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
  return z ^ (z >> 31n);
}

/** RDRAND r16/r32/r64: a value is always available, so CF=1 and OF/SF/ZF/AF/PF are cleared (as QEMU). */
export function rdrand(c: Cpu, d: Insn): void {
  const v = nextRandom();
  c.setReg(d.or[0]!, d.osize, Number(v & 0xffffffffn), Number(v >> 32n));
  c.setStatus(OF | SF | ZF | AF | PF | CF, CF);
}

export function cpuid(c: Cpu): void {
  const m = c.model;
  let leaf = c.getReg(0, 4);
  const sub = c.getReg(1, 4);
  // As QEMU: basic leaves above the maximum, and extended ones above xlevel, answer as the highest
  // basic leaf; the hypervisor range 0x4000_0000–0x4fff_ffff is answered as is.
  const hypervisor = leaf >= 0x40000000 && leaf < 0x50000000;
  if (!hypervisor && (leaf >= 0x80000000 ? leaf > m.maxExtLeaf : leaf > m.maxBasicLeaf)) leaf = m.maxBasicLeaf;
  // One key format for every range: a decimal key for leaf 0xb or 0x40000000 found nothing, so
  // both read as zeros (the boot's hypervisor_cpuid_base saw no TCG signature).
  // Leaf 0xb past the last topology level (SDM CPUID 0BH): level type 0 (invalid) and ECX[7:0]
  // echoing the subleaf; EDX is the x2APIC ID, 0 on this one CPU.
  const r = m.cpuid.get(cpuidKey(leaf, sub)) ?? m.cpuid.get(cpuidKey(leaf)) ?? (leaf === 0xb ? [0, 0, sub & 0xff, 0] : [0, 0, 0, 0]);
  c.setReg(0, 4, r[0]);
  c.setReg(3, 4, r[1]);
  // CPUID.1:ECX.OSXSAVE (bit 27) reflects CR4.OSXSAVE, as in QEMU's cpu_x86_cpuid
  c.setReg(1, 4, leaf === 1 && (c.cr4 & CR4_OSXSAVE) !== 0 ? (r[2] | (1 << 27)) >>> 0 : r[2]);
  c.setReg(2, 4, r[3]);
}

export function iret(c: Cpu, d: Insn): void {
  if (!c.long64) {
    if (c.cr0 & CR0_PE) iretProtected(c, d.osize);
    else iretReal(c, d.osize);
    return;
  }
  // NT set asks for a task return, which IA-32e mode does not have: #GP(0) before anything is
  // popped (SDM IRET, TASK-RETURN; QEMU helper_iret_protected). Found by the batch runner,
  // which inherited NT from a case that had set it with POPF.
  if (c.getFlags() & NT) throw new GuestFault(Vec.GP, 0);
  iret64(c, d.osize);
}

export function syscall(c: Cpu): void {
  if (!(c.efer & EFER_SCE) || !c.long64) throw new GuestFault(Vec.UD);
  const star = c.msr.get(MSR.STAR) ?? 0n;
  const sel = Number((star >> 32n) & 0xffffn);
  const [nl, nh] = linToHalves(c.nextRip);
  c.setReg(1, 8, nl, nh);
  const flags = c.getFlags();
  c.setReg(11, 8, flags & ~RF, 0);
  const mask = Number((c.msr.get(MSR.SFMASK) ?? 0n) & 0xffffffffn);
  c.setFlags(flags & ~mask & ~(RF | VM));
  setSegmentCache(c, Seg.CS, sel & 0xfffc, 0, 0xffffffff, 0x00a09b00);
  setSegmentCache(c, Seg.SS, (sel + 8) & 0xfffc, 0, 0xffffffff, 0x00c09300);
  c.cpl = 0;
  c.updateMode();
  c.nextRip = Number(BigInt.asIntN(64, c.msr.get(MSR.LSTAR) ?? 0n));
}

export function sysret(c: Cpu, d: Insn): void {
  // SDM SYSRET, Operation: #UD (SCE clear, not 64-bit code) before #GP(0) at CPL > 0
  if (!(c.efer & EFER_SCE) || !c.long64) throw new GuestFault(Vec.UD);
  if (c.cpl !== 0) throw new GuestFault(Vec.GP, 0);
  const star = c.msr.get(MSR.STAR) ?? 0n;
  const base = Number((star >> 48n) & 0xffffn);
  let target: number;
  if (d.osize === 8) {
    const lo = c.getReg(1, 8);
    target = halvesToSigned(lo, c.hi);
    if (!isCanonical(target)) throw new GuestFault(Vec.GP, 0);
    setSegmentCache(c, Seg.CS, ((base + 16) & 0xfffc) | 3, 0, 0xffffffff, 0x00a0fb00);
  } else {
    target = c.getReg(1, 4);
    setSegmentCache(c, Seg.CS, (base & 0xfffc) | 3, 0, 0xffffffff, 0x00cffb00);
  }
  c.setFlags((c.getReg(11, 4) & 0x3c7fd7) | 2);
  setSegmentCache(c, Seg.SS, ((base + 8) & 0xfffc) | 3, 0, 0xffffffff, 0x00cff300);
  c.cpl = 3;
  c.updateMode();
  c.nextRip = target;
}

/**
 * SFENCE (0F AE F8–FF): an ordering no-op here. QEMU 7.2 takes 66 0F AE F8 for PCOMMIT, which
 * no model here has (#UD), whatever F2/F3 follow; the other ModRM values run with 66 as SFENCE.
 */
export function sfence(c: Cpu, d: Insn): void {
  if (d.opsizePrefix && (d.rm & 7) === 0) throw new GuestFault(Vec.UD);
}
