import { CR0_PE, type Cpu, EFER_LMA, halvesToSigned, isCanonical } from '../cpu/cpu.js';
import { setSegmentCache } from '../cpu/segments.js';
import { Seg, type Insn } from '../decode/insn.js';
import { IF, RF, VM } from '../isa/flags.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';
import { MSR, readMsr } from './msrs.js';

/**
 * SYSENTER and SYSEXIT (SDM Vol. 2; QEMU 7.2 translate.c and helper_sysenter/helper_sysexit).
 * QEMU 7.2 raises #UD in 64-bit mode unless CPUID's vendor is GenuineIntel (translate.c:
 * `CODE64(s) && cpuid_vendor1 != CPUID_VENDOR_INTEL_1`), so qemu64 (AuthenticAMD) runs them in
 * legacy protected mode and, unlike AMD's manual (#UD in all of long mode), in compatibility mode
 * too, where SYSENTER enters 64-bit code (CS.L, as EFER.LMA asks). Outside protected mode, #GP(0). The segment caches are loaded with fixed flat values (base 0, limit 4
 * GiB), whatever the GDT holds, and the descriptors are not read.
 */

/** Cached attributes as QEMU loads them: G, B, P, S, type (code: execute/read, accessed; data: read/write, accessed), L, DPL. */
const ATTR_CODE = 0x00c09b00;
const ATTR_DATA = 0x00c09300;
const ATTR_L = 0x00200000;
const ATTR_DPL3 = 0x6000;

/** "GenuineIntel" in EBX of CPUID leaf 0. */
const INTEL_EBX = 0x756e6547;

function checkModes(c: Cpu): void {
  if (c.long64 && c.model.cpuid.get('0')?.[1] !== INTEL_EBX) throw new GuestFault(Vec.UD);
  if ((c.cr0 & CR0_PE) === 0) throw new GuestFault(Vec.GP, 0);
}

/** IA32_SYSENTER_CS, or #GP(0) when its selector part is null (SDM: bits 15:2 zero). */
function sysenterCs(c: Cpu): number {
  const cs = Number(readMsr(c, MSR.SYSENTER_CS) & 0xffffn);
  if ((cs & 0xfffc) === 0) throw new GuestFault(Vec.GP, 0);
  return cs;
}

export function sysenter(c: Cpu): void {
  checkModes(c);
  const cs = sysenterCs(c);
  const lma = (c.efer & EFER_LMA) !== 0;
  c.setFlags(c.getFlags() & ~(VM | IF | RF));
  setSegmentCache(c, Seg.SS, (cs + 8) & 0xfffc, 0, 0xffffffff, ATTR_DATA);
  setSegmentCache(c, Seg.CS, cs & 0xfffc, 0, 0xffffffff, lma ? (ATTR_CODE | ATTR_L) >>> 0 : ATTR_CODE);
  const esp = readMsr(c, MSR.SYSENTER_ESP);
  const eip = readMsr(c, MSR.SYSENTER_EIP);
  c.set64(4, lma ? esp : esp & 0xffffffffn);
  c.nextRip = lma ? Number(BigInt.asIntN(64, eip)) : Number(eip & 0xffffffffn);
}

/** SYSEXIT to CPL 3: CS/SS at SYSENTER_CS + 16/24 (+ 32/40 with REX.W, to 64-bit code), ESP ← ECX, EIP ← EDX. */
export function sysexit(c: Cpu, d: Insn): void {
  checkModes(c);
  const cs = sysenterCs(c);
  if (c.cpl !== 0) throw new GuestFault(Vec.GP, 0);
  const to64 = d.osize === 8;
  let rip: number;
  let rsp: bigint;
  if (to64) {
    const rdx = c.getReg(2, 8);
    rip = halvesToSigned(rdx, c.hi);
    rsp = c.get64(1);
    if (!isCanonical(rip) || !isCanonical(Number(BigInt.asIntN(64, rsp)))) throw new GuestFault(Vec.GP, 0);
  } else {
    rip = c.getReg(2, 4);
    rsp = BigInt(c.getReg(1, 4));
  }
  const off = to64 ? 32 : 16;
  setSegmentCache(c, Seg.SS, ((cs + off + 8) & 0xfffc) | 3, 0, 0xffffffff, (ATTR_DATA | ATTR_DPL3) >>> 0);
  setSegmentCache(c, Seg.CS, ((cs + off) & 0xfffc) | 3, 0, 0xffffffff, (ATTR_CODE | ATTR_DPL3 | (to64 ? ATTR_L : 0)) >>> 0);
  c.set64(4, rsp);
  c.nextRip = rip;
}
