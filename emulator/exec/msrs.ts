import { CR0_PG, type Cpu, EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE, isCanonical } from '../cpu/cpu.js';
import { MsrWrite } from '../cpu/msr-model.js';
import { Seg } from '../decode/insn.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';

/**
 * RDMSR and WRMSR (SDM Vol. 2 RDMSR/WRMSR; Vol. 4 for the MSRs). The MSRs with an architectural
 * effect are handled here; the model's plain-storage MSRs come from its table (cpu/msr-model.ts),
 * and an MSR the model does not have reads 0 and ignores writes under QEMU's model
 * (CpuModel.unknownMsrsReadZero), or raises #GP(0) as on hardware.
 *
 * QEMU 7.2 differs from the SDM where the emulator keeps the SDM: it takes non-canonical values for
 * the FS/GS/KERNEL_GS bases and LSTAR/CSTAR, drops reserved EFER bits instead of raising #GP(0),
 * lets EFER.LME change while paging is on,
 * and has no IA32_TSC under TCG (RDMSR 0x10 reads 0; here it reads the time-stamp counter).
 */

export const MSR = {
  TSC: 0x10,
  APIC_BASE: 0x1b,
  SYSENTER_CS: 0x174,
  SYSENTER_ESP: 0x175,
  SYSENTER_EIP: 0x176,
  PAT: 0x277,
  EFER: 0xc0000080,
  STAR: 0xc0000081,
  LSTAR: 0xc0000082,
  CSTAR: 0xc0000083,
  SFMASK: 0xc0000084,
  FS_BASE: 0xc0000100,
  GS_BASE: 0xc0000101,
  KERNEL_GS_BASE: 0xc0000102,
  TSC_AUX: 0xc0000103,
} as const;

/** EFER.SVME: writable when the model announces SVM (CPUID 0x8000_0001 ECX bit 2), as qemu64 does. */
const EFER_SVME = 1 << 12;
const APIC_BASE_BSP = 0x100n;
const APIC_BASE_ENABLE = 0x800n;
/** APIC_BASE after reset: the xAPIC at 0xfee00000, enabled, this CPU the bootstrap processor. */
const APIC_BASE_RESET = 0xfee00900n;

/** MSRs handled by code here rather than by the model's table (they act on the CPU beyond storing a value). */
const ARCHITECTURAL: ReadonlySet<number> = new Set([
  MSR.TSC, MSR.APIC_BASE, MSR.EFER, MSR.LSTAR, MSR.CSTAR, MSR.FS_BASE, MSR.GS_BASE, MSR.KERNEL_GS_BASE,
]);

/** Whether the model has MSR `n` (an MSR it does not have reads 0 or raises #GP, by CpuModel.unknownMsrsReadZero). */
export function msrModelled(c: Cpu, n: number): boolean {
  return ARCHITECTURAL.has(n) || c.model.msrs.has(n);
}

function svm(c: Cpu): boolean {
  return ((c.model.cpuid.get('0x80000001')?.[2] ?? 0) & 4) !== 0;
}

export function readMsr(c: Cpu, n: number): bigint {
  const big = (v: number) => BigInt.asUintN(64, BigInt(v));
  switch (n) {
    case MSR.EFER: return BigInt(c.efer);
    case MSR.FS_BASE: return big(c.segBase[Seg.FS]!);
    case MSR.GS_BASE: return big(c.segBase[Seg.GS]!);
    case MSR.KERNEL_GS_BASE: return big(c.kernelGsBase);
    case MSR.TSC: return BigInt.asUintN(64, c.readTsc());
    case MSR.APIC_BASE: return c.msr.get(n) ?? APIC_BASE_RESET;
    case MSR.LSTAR:
    case MSR.CSTAR: return c.msr.get(n) ?? 0n;
  }
  const def = c.model.msrs.get(n);
  if (def !== undefined) return c.msr.get(n) ?? def.reset;
  if (c.model.unknownMsrsReadZero) return 0n;
  throw new GuestFault(Vec.GP, 0);
}

export function writeMsr(c: Cpu, n: number, v: bigint): void {
  const canonical = () => {
    const s = Number(BigInt.asIntN(64, v));
    if (!isCanonical(s)) throw new GuestFault(Vec.GP, 0);
    return s;
  };
  switch (n) {
    case MSR.EFER: {
      const allowed = BigInt(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE | (svm(c) ? EFER_SVME : 0));
      if ((v & ~allowed) !== 0n) throw new GuestFault(Vec.GP, 0);
      const nv = Number(v);
      // "IA32_EFER.LME cannot be modified while paging is enabled (CR0.PG = 1)": #GP(0) (SDM Vol. 3A, Initializing IA-32e Mode)
      if ((nv ^ c.efer) & EFER_LME && c.cr0 & CR0_PG) throw new GuestFault(Vec.GP, 0);
      // LMA is read-only (set by CR0.PG with LME).
      c.efer = (nv & ~EFER_LMA) | (c.efer & EFER_LMA);
      c.updateMode();
      c.syncMmu();
      return;
    }
    case MSR.FS_BASE: c.segBase[Seg.FS] = canonical(); return;
    case MSR.GS_BASE: c.segBase[Seg.GS] = canonical(); return;
    case MSR.KERNEL_GS_BASE: c.kernelGsBase = canonical(); return;
    case MSR.TSC: c.tscOffset = BigInt.asIntN(64, v - BigInt(c.icount)); return;
    case MSR.LSTAR:
    case MSR.CSTAR:
      canonical();
      c.msr.set(n, v);
      return;
    case MSR.APIC_BASE: {
      // As QEMU's APIC (apic_set_base): the base is writable, BSP is kept, and ENABLE can be
      // cleared but not set again (QEMU also withdraws CPUID's APIC bit then; not modelled).
      const old = readMsr(c, n);
      let nv = (v & 0xfffff000n) | (old & (APIC_BASE_BSP | APIC_BASE_ENABLE));
      if ((v & APIC_BASE_ENABLE) === 0n) nv &= ~APIC_BASE_ENABLE;
      c.msr.set(n, nv);
      return;
    }
  }
  const def = c.model.msrs.get(n);
  if (def === undefined) {
    if (c.model.unknownMsrsReadZero) return;
    throw new GuestFault(Vec.GP, 0);
  }
  switch (def.write) {
    case MsrWrite.Store:
      c.msr.set(n, def.mask !== undefined ? v & def.mask : v);
      return;
    case MsrWrite.ReadOnly:
      return;
    case MsrWrite.AllOrNothing:
      if (v === 0n || v === 0xffffffffffffffffn) c.msr.set(n, v);
      return;
    case MsrWrite.Checked:
      if ((v & (def.mask ?? 0n)) !== 0n) throw new GuestFault(Vec.GP, 0);
      c.msr.set(n, v);
      return;
  }
}

export function rdmsr(c: Cpu): void {
  const v = readMsr(c, c.getReg(1, 4));
  c.setReg(0, 4, Number(v & 0xffffffffn));
  c.setReg(2, 4, Number(v >> 32n));
}

export function wrmsr(c: Cpu): void {
  const v = (BigInt(c.getReg(2, 4)) << 32n) | BigInt(c.getReg(0, 4));
  writeMsr(c, c.getReg(1, 4), v);
}
