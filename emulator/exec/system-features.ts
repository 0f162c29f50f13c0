import {
  CR4_FSGSBASE, CR4_PCIDE, CR4_SMAP, CR4_SMEP, CR4_UMIP, type Cpu, EFER_LMA, halvesToSigned, isCanonical, linToHalves,
} from '../cpu/cpu.js';
import type { CpuModel } from '../cpu/cpu-model.js';
import { Seg, type Insn } from '../decode/insn.js';
import { AC } from '../isa/flags.js';
import type { SystemFeature } from '../isa/row.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';
import { MSR } from './msrs.js';

/**
 * The system-level CPUID features (SDM Vol. 3 §2.5, §4.6, §4.10.1; Vol. 2 for the instructions)
 * as QEMU 7.2's TCG runs them: which CR4 bits each makes writable, UMIP's check, CLAC/STAC,
 * RD/WR FS/GS BASE, RDPID and INVPCID. SMEP and SMAP themselves act in the MMU (memory/mmu.ts,
 * Cpu.syncSmap).
 */

const CR4_BY_FEATURE: ReadonlyArray<readonly [SystemFeature, number]> = [
  ['smep', CR4_SMEP], ['smap', CR4_SMAP], ['umip', CR4_UMIP], ['fsgsbase', CR4_FSGSBASE], ['pcid', CR4_PCIDE],
];

const cr4Bits = new WeakMap<CpuModel, number>();

/** The CR4 bits the model's features make writable (without the feature, setting one is #GP(0), as QEMU's cr4_reserved_bits). */
export function cr4FeatureBits(model: CpuModel): number {
  let bits = cr4Bits.get(model);
  if (bits === undefined) {
    bits = 0;
    for (const [f, b] of CR4_BY_FEATURE) if (model.features.has(f)) bits |= b;
    cr4Bits.set(model, bits);
  }
  return bits;
}

/**
 * The checks of a CR4 write that depend on the rest of the state (SDM MOV CR: setting PCIDE
 * outside IA-32e mode or with CR3[11:0] ≠ 0 is #GP(0)); the reserved bits are checked before.
 */
export function checkCr4Transition(c: Cpu, value: number): void {
  if ((value & CR4_PCIDE) !== 0 && (c.cr4 & CR4_PCIDE) === 0) {
    if ((c.efer & EFER_LMA) === 0 || c.cr3 % 4096 !== 0) throw new GuestFault(Vec.GP, 0);
  }
}

/** MOV to CR0 may not clear PG while CR4.PCIDE is set (SDM Vol. 3 §4.10.1; 64-bit mode forbids it anyway). */
export function checkCr0Transition(c: Cpu, value: number): void {
  if ((c.cr4 & CR4_PCIDE) !== 0 && (value & 0x80000000) === 0) throw new GuestFault(Vec.GP, 0);
}

/** UMIP: SGDT, SIDT, SLDT, SMSW and STR at CPL > 0 raise #GP(0) while CR4.UMIP is set (QEMU checks before the operand). */
export function checkUmip(c: Cpu): void {
  if ((c.cr4 & CR4_UMIP) !== 0 && c.cpl !== 0) throw new GuestFault(Vec.GP, 0);
}

/** CLAC/STAC: #UD at CPL > 0 (the row needs SMAP, so without it the opcode is #UD already). */
function clac(c: Cpu): void {
  if (c.cpl !== 0) throw new GuestFault(Vec.UD);
  c.setFlags(c.getFlags() & ~AC);
}

function stac(c: Cpu): void {
  if (c.cpl !== 0) throw new GuestFault(Vec.UD);
  c.setFlags(c.getFlags() | AC);
}

/** RD/WR FS/GS BASE: #UD while CR4.FSGSBASE is clear (QEMU tests CR4 at run time, helper_cr4_testbit). */
function fsgsbaseEnabled(c: Cpu): void {
  if ((c.cr4 & CR4_FSGSBASE) === 0) throw new GuestFault(Vec.UD);
}

function readBase(c: Cpu, d: Insn, seg: number): void {
  fsgsbaseEnabled(c);
  const [lo, hi] = linToHalves(c.segBase[seg]!);
  c.setReg(d.or[0]!, 8, lo, d.os[0] === 8 ? hi : 0);
}

/** The 32-bit form zero-extends; the 64-bit one takes a canonical address or raises #GP(0) (SDM WRFSBASE). */
function writeBase(c: Cpu, d: Insn, seg: number): void {
  fsgsbaseEnabled(c);
  const lo = c.getReg(d.or[0]!, 8);
  const base = d.os[0] === 8 ? halvesToSigned(lo, c.hi) : lo >>> 0;
  if (!isCanonical(base)) throw new GuestFault(Vec.GP, 0);
  c.segBase[seg] = base;
}

/** RDPID: IA32_TSC_AUX, zero-extended into r64 in 64-bit mode, r32 elsewhere. */
function rdpid(c: Cpu, d: Insn): void {
  const aux = Number((c.msr.get(MSR.TSC_AUX) ?? 0n) & 0xffffffffn);
  c.setReg(d.or[0]!, c.long64 ? 8 : 4, aux, 0);
}

/**
 * INVPCID (CPL 0 by its row): type 0 (one address of one PCID), 1 (one PCID), 2 (all, global
 * too), 3 (all but global). #GP(0) for a type above 3, a descriptor with bits 63:12 set (types 0
 * and 1), a non-canonical address (type 0), or a PCID ≠ 0 while CR4.PCIDE is clear (types 0, 1).
 * The emulator's TLB has no PCIDs: every type flushes it whole.
 */
function invpcid(c: Cpu, d: Insn): void {
  const lo = c.getReg(d.or[0]!, 8);
  const type = c.long64 ? halvesToSigned(lo, c.hi) : lo >>> 0;
  if (type < 0 || type > 3) throw new GuestFault(Vec.GP, 0);
  const pcidLo = c.read32(c.lin);
  const pcidHi = c.read32(c.lin + 4);
  const addr = halvesToSigned(c.read32(c.lin + 8), c.read32(c.lin + 12));
  if (type <= 1) {
    if (pcidHi !== 0 || pcidLo >>> 12 !== 0) throw new GuestFault(Vec.GP, 0);
    if (type === 0 && !isCanonical(addr)) throw new GuestFault(Vec.GP, 0);
    if ((c.cr4 & CR4_PCIDE) === 0 && (pcidLo & 0xfff) !== 0) throw new GuestFault(Vec.GP, 0);
  }
  c.mmu.flushTlb();
}

export const SYSTEM_FEATURE_HANDLERS: Readonly<Record<string, (c: Cpu, d: Insn) => void>> = {
  clac,
  stac,
  rdfsbase: (c, d) => readBase(c, d, Seg.FS),
  rdgsbase: (c, d) => readBase(c, d, Seg.GS),
  wrfsbase: (c, d) => writeBase(c, d, Seg.FS),
  wrgsbase: (c, d) => writeBase(c, d, Seg.GS),
  rdpid,
  invpcid,
};
