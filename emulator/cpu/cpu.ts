import { mutants } from '../mutants.js';
import { BASE_RIP, type Insn, Seg } from '../decode/insn.js';
import { X87 } from '../fpu/x87-state.js';
import { SseState } from './sse-state.js';
import { AC, AF, ARITH, CF, FIXED_ONE } from '../isa/flags.js';
import type { Bus } from '../memory/bus.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';
import { Access, LegacyPaging, Mmu } from '../memory/mmu.js';
import { PageCache } from '../memory/page-cache.js';
import type { CpuModel } from './cpu-model.js';
import { CC, LazyFlags, computeArith, computeCarry } from './lazy-flags.js';

const TWO32 = 4294967296;
const CANON_LIMIT = 2 ** 47;

export const CR0_PE = 1;
export const CR0_MP = 2;
export const CR0_EM = 4;
export const CR0_TS = 8;
export const CR0_WP = 1 << 16;
export const CR0_PG = 0x80000000;
export const CR4_PSE = 1 << 4;
export const CR4_PAE = 1 << 5;
export const CR4_OSFXSR = 1 << 9;
export const CR4_OSXMMEXCPT = 1 << 10;
export const CR4_OSXSAVE = 1 << 18;
export const CR4_UMIP = 1 << 11;
export const CR4_FSGSBASE = 1 << 16;
export const CR4_PCIDE = 1 << 17;
export const CR4_SMEP = 1 << 20;
export const CR4_SMAP = 1 << 21;
export const EFER_SCE = 1 << 0;
export const EFER_LME = 1 << 8;
export const EFER_LMA = 1 << 10;
export const EFER_NXE = 1 << 11;

/** QEMU's cached-descriptor attribute bits (descriptor high dword & 0x00f0ff00). */
export const ATTR_P = 1 << 15;
export const ATTR_S = 1 << 12;
export const ATTR_L = 1 << 21;
export const ATTR_DB = 1 << 22;
export const ATTR_G = 1 << 23;

/** A linear address is canonical when bits 63..47 are equal (48-bit virtual addresses). */
export function isCanonical(lin: number): boolean {
  return lin >= -CANON_LIMIT && lin < CANON_LIMIT;
}

/** Signed-number linear address → (lo, hi) unsigned halves. */
export function linToHalves(lin: number): [number, number] {
  const hi = Math.floor(lin / TWO32);
  return [(lin - hi * TWO32) >>> 0, hi >>> 0];
}

export function halvesToSigned(lo: number, hi: number): number {
  return (hi | 0) * TWO32 + (lo >>> 0);
}

/**
 * The architectural state and the primitive operations every handler uses: registers as
 * 32-bit halves, lazy flags, segment caches, control registers, and memory accesses through
 * the MMU. RIP and linear addresses are numbers holding the signed 64-bit value (exact for
 * canonical addresses).
 */
export class Cpu {
  /** GPR n: low half at [2n], high half at [2n+1] (encoding order: RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8…). */
  readonly regs = new Uint32Array(32);
  rip = 0;
  /** Where execution continues after the current instruction; branches overwrite it. */
  nextRip = 0;
  /** RFLAGS bits other than the six status flags (those live in `cc`). */
  flagsRest = FIXED_ONE;
  readonly cc = new LazyFlags();
  /** High half of the last 64-bit value returned by a read helper. */
  hi = 0;

  readonly segSel = new Uint16Array(6);
  readonly segBase = new Float64Array(6);
  readonly segLimit = new Uint32Array(6);
  readonly segAttr = new Uint32Array(6);
  cpl = 0;
  /** Current instruction's memory accesses are user-mode (CPL 3 and not an implicit supervisor access). */
  user = false;

  cr0 = 0x60000010;
  /** CR2 in two 32-bit halves: MOV to CR2 stores any 64-bit value, which a double cannot hold exactly. */
  cr2Lo = 0;
  cr2Hi = 0;
  cr3 = 0;
  cr4 = 0;
  cr8 = 0;
  efer = 0;
  /** XCR0 (XSETBV/XGETBV, exec/xsave.ts): x87 only after reset. */
  xcr0 = 1;
  kernelGsBase = 0;
  readonly dr = [0n, 0n, 0n, 0n, 0n, 0n, 0xffff0ff0n, 0x400n];
  gdtrBase = 0;
  gdtrLimit = 0xffff;
  idtrBase = 0;
  idtrLimit = 0xffff;
  readonly tr = { selector: 0, base: 0, limit: 0xffff, attrs: 0x8b00 };
  readonly ldtr = { selector: 0, base: 0, limit: 0xffff, attrs: 0x8200 };
  readonly msr = new Map<number, bigint>();
  /** The x87 FPU (its own object: emulator/fpu/). */
  readonly fpu = new X87();
  /** XMM registers and MXCSR (cpu/sse-state.ts; the handlers are in exec/sse/). */
  readonly sse = new SseState();

  /** 64-bit mode (EFER.LMA and CS.L); else CS.D picks 32/16-bit defaults. */
  long64 = false;
  default32 = false;
  halted = false;
  /** Retired instructions (drives the deterministic TSC). */
  icount = 0;
  /** Bumped by the machine whenever decoded code is dropped (a write to a code page). */
  codeEpoch = 0;
  tscOverride: (() => bigint) | undefined;
  tscOffset = 0n;

  eaLo = 0;
  eaHi = 0;
  /** Linear address of the current instruction's memory operand. */
  lin = 0;
  /** The memory operand uses SS (for #SS on non-canonical addresses). */
  linStack = false;

  readonly mmu: Mmu;
  /** The last data pages translated for reads and for writes (memory/page-cache.ts). */
  private readonly readPage: PageCache;
  private readonly writePage: PageCache;

  constructor(
    readonly bus: Bus,
    readonly model: CpuModel,
  ) {
    this.mmu = new Mmu(bus, { physBits: model.physBits, pdpe1gb: model.pdpe1gb });
    this.readPage = new PageCache(this.mmu, bus, Access.Read);
    this.writePage = new PageCache(this.mmu, bus, Access.Write);
  }

  // ---- registers -------------------------------------------------------------------------

  /** Register value of `size` bytes (n ≥ 16: AH/CH/DH/BH). For size 8 the high half goes to `hi`. */
  getReg(n: number, size: number): number {
    const r = this.regs;
    switch (size) {
      case 1:
        return n < 16 ? r[n << 1]! & 0xff : (r[(n - 16) << 1]! >>> 8) & 0xff;
      case 2:
        return r[n << 1]! & 0xffff;
      case 4:
        return r[n << 1]!;
      default:
        this.hi = r[(n << 1) + 1]!;
        return r[n << 1]!;
    }
  }

  /** Write with x86 rules: 32-bit writes zero the upper half, 8/16-bit writes keep the rest. */
  setReg(n: number, size: number, lo: number, hi = 0): void {
    const r = this.regs;
    switch (size) {
      case 1:
        if (n < 16) r[n << 1] = (r[n << 1]! & 0xffffff00) | (lo & 0xff);
        else r[(n - 16) << 1] = (r[(n - 16) << 1]! & 0xffff00ff) | ((lo & 0xff) << 8);
        break;
      case 2:
        r[n << 1] = (r[n << 1]! & 0xffff0000) | (lo & 0xffff);
        break;
      case 4:
        r[n << 1] = lo;
        r[(n << 1) + 1] = 0;
        break;
      default:
        r[n << 1] = lo;
        r[(n << 1) + 1] = hi;
    }
  }

  get64(n: number): bigint {
    return (BigInt(this.regs[(n << 1) + 1]!) << 32n) | BigInt(this.regs[n << 1]!);
  }

  set64(n: number, v: bigint): void {
    this.regs[n << 1] = Number(v & 0xffffffffn);
    this.regs[(n << 1) + 1] = Number((v >> 32n) & 0xffffffffn);
  }

  // ---- flags -----------------------------------------------------------------------------

  /** materializeFlags(): the full RFLAGS value. */
  getFlags(): number {
    const arith = computeArith(this.cc);
    return ((this.flagsRest & ~ARITH) | (mutants.afNeverSet ? arith & ~AF : arith) | FIXED_ONE) >>> 0;
  }

  setFlags(v: number): void {
    const changed = this.flagsRest ^ v;
    this.flagsRest = (v & ~ARITH) | FIXED_ONE;
    if ((changed & AC) !== 0) this.syncSmap();
    this.cc.op = CC.Eager;
    this.cc.eager = v & ARITH;
  }

  /** Replace some status flags, keeping the others (materializes first). */
  setStatus(mask: number, bits: number): void {
    const cur = computeArith(this.cc);
    this.cc.op = CC.Eager;
    this.cc.eager = (cur & ~mask) | (bits & mask);
  }

  getCF(): number {
    return computeCarry(this.cc);
  }

  status(): number {
    return computeArith(this.cc);
  }

  /** Record a lazy flag result. Values must be unsigned and masked to `size`. */
  setCc(op: CC, size: number, res: number, resHi: number, a: number, aHi: number, b: number, bHi: number): void {
    const c = this.cc;
    c.op = op;
    c.size = size;
    c.res = res;
    c.resHi = resHi;
    c.a = a;
    c.aHi = aHi;
    c.b = b;
    c.bHi = bHi;
  }

  getDF(): boolean {
    return (this.flagsRest & 0x400) !== 0;
  }

  // ---- modes and control registers --------------------------------------------------------

  updateMode(): void {
    const attr = this.segAttr[Seg.CS]!;
    this.long64 = (this.efer & EFER_LMA) !== 0 && (attr & ATTR_L) !== 0;
    this.default32 = (attr & ATTR_DB) !== 0;
    this.user = this.cpl === 3;
    // Cached code translations (Machine's fetch fast paths) depend on the mode and CPL.
    this.mmu.generation++;
    this.syncSmap();
  }

  /**
   * Whether SMAP now stops supervisor data accesses to user pages (Mmu.svDataDeny): CR4.SMAP, and
   * AC clear or CPL 3. At CPL < 3 explicit and implicit supervisor accesses (descriptor tables,
   * exception frames) follow AC alike; at CPL 3 every supervisor access is implicit and AC does
   * not count (SDM Vol. 3 §4.6.1; QEMU's cpu_mmu_index_kernel).
   */
  syncSmap(): void {
    const deny = (this.cr4 & CR4_SMAP) !== 0 && (this.cpl === 3 || (this.flagsRest & AC) === 0) ? 1 : 0;
    if (deny !== this.mmu.svDataDeny) {
      this.mmu.svDataDeny = deny;
      this.mmu.generation++;
    }
  }

  /** Push CR0/CR3/CR4/EFER into the MMU (and flush its TLB). */
  syncMmu(): void {
    const m = this.mmu;
    m.paging = (this.cr0 & CR0_PG) !== 0 && (this.cr0 & CR0_PE) !== 0;
    const pae = (this.cr4 & CR4_PAE) !== 0;
    m.legacy = !m.paging || (this.efer & EFER_LMA) !== 0 ? LegacyPaging.None : pae ? LegacyPaging.Pae : LegacyPaging.Bits32;
    m.pse = (this.cr4 & CR4_PSE) !== 0;
    m.wp = (this.cr0 & CR0_WP) !== 0;
    m.nxe = (this.efer & EFER_NXE) !== 0 && pae;
    m.svExecDeny = (this.cr4 & CR4_SMEP) !== 0 ? 1 : 0;
    this.syncSmap();
    // Outside IA-32e mode CR3 is 32 bits: the PDPT is 32-byte aligned, a page directory 4 KiB.
    const cr3 = m.legacy === LegacyPaging.None ? this.cr3 : this.cr3 % TWO32;
    m.root = cr3 - (cr3 % (m.legacy === LegacyPaging.Pae ? 32 : 4096));
    // Every CR3 write (PCIDs and CR4.PGE notwithstanding) and every paging-mode change drops all
    // cached translations, as QEMU 7.2's TCG TLB does: global pages live no longer than others.
    m.flushTlb();
  }

  // ---- memory ----------------------------------------------------------------------------

  /** Linear address of the instruction's memory operand, canonical-checked (#GP/#SS). */
  linearOf(d: Insn): number {
    const r = this.regs;
    let lin: number;
    if (d.asize === 8) {
      if (d.absolute) {
        lin = halvesToSigned(d.disp, d.dispHi);
      } else {
        lin = d.disp;
        let slow = false;
        if (d.base >= 0) {
          if (d.base === BASE_RIP) lin += mutants.ripRelFromStart ? this.rip : this.nextRip;
          else {
            const hi = r[(d.base << 1) + 1]! | 0;
            if (hi >= 0x8000 || hi < -0x8000) slow = true;
            lin += hi * TWO32 + r[d.base << 1]!;
          }
        }
        if (d.index >= 0) {
          const hi = r[(d.index << 1) + 1]! | 0;
          if (hi >= 0x8000 || hi < -0x8000) slow = true;
          lin += (hi * TWO32 + r[d.index << 1]!) * (1 << d.scale);
        }
        if (slow) lin = this.linearSlow(d);
      }
    } else {
      // 32-bit address size: the effective address wraps at 4 GiB, then zero-extends; 16-bit
      // wraps at 64 KiB (the low 16 bits of the full-register sum are those of the 16-bit one).
      let ea = d.disp;
      if (d.base === BASE_RIP) ea += mutants.ripRelFromStart ? this.rip : this.nextRip;
      else if (d.base >= 0) ea += r[d.base << 1]!;
      if (d.index >= 0) ea += r[d.index << 1]! * (1 << d.scale);
      lin = d.absolute ? d.disp >>> 0 : d.asize === 2 ? ea & 0xffff : ea >>> 0;
    }
    const seg = d.seg;
    if (this.long64) {
      if (seg >= Seg.FS) lin += this.segBase[seg]!;
    } else {
      lin = (lin + this.segBase[seg]!) % TWO32;
    }
    if (!isCanonical(lin)) {
      const wrapped = this.wrap64(lin);
      if (!isCanonical(wrapped)) this.canonicalFault(seg === Seg.SS);
      lin = wrapped;
    }
    return lin;
  }

  /** Effective address (offset, no segment) as unsigned halves in eaLo/eaHi (LEA, slow paths). */
  effectiveAddress(d: Insn): void {
    const r = this.regs;
    let lo = d.disp >>> 0;
    let hi = d.disp < 0 ? 0xffffffff : 0;
    if (d.absolute) hi = d.dispHi >>> 0;
    let t: number;
    if (d.base >= 0) {
      let bl: number;
      let bh: number;
      if (d.base === BASE_RIP) [bl, bh] = linToHalves(mutants.ripRelFromStart ? this.rip : this.nextRip);
      else {
        bl = r[d.base << 1]!;
        bh = r[(d.base << 1) + 1]!;
      }
      t = lo + bl;
      lo = t >>> 0;
      hi = (hi + bh + (t > 0xffffffff ? 1 : 0)) >>> 0;
    }
    if (d.index >= 0) {
      const s = d.scale;
      const il = r[d.index << 1]!;
      const ih = r[(d.index << 1) + 1]!;
      const sl = s === 0 ? il : (il << s) >>> 0;
      const sh = s === 0 ? ih : ((ih << s) | (il >>> (32 - s))) >>> 0;
      t = lo + sl;
      lo = t >>> 0;
      hi = (hi + sh + (t > 0xffffffff ? 1 : 0)) >>> 0;
    }
    if (d.asize !== 8) hi = 0;
    if (d.asize === 2) lo &= 0xffff;
    this.eaLo = lo;
    this.eaHi = hi;
  }

  /** offset (halves) + segment base → canonical-checked linear address. */
  segLinear(lo: number, hi: number, seg: number): number {
    const lin = this.segLinearUnchecked(lo, hi, seg);
    if (this.long64 && !isCanonical(lin)) this.canonicalFault(seg === Seg.SS);
    return lin;
  }

  /** offset (halves) + segment base → linear address, not checked (INVLPG: non-canonical is a NOP). */
  segLinearUnchecked(lo: number, hi: number, seg: number): number {
    if (!this.long64) return (lo + this.segBase[seg]!) % TWO32;
    const lin = halvesToSigned(lo, hi);
    return seg >= Seg.FS ? this.wrap64(lin + this.segBase[seg]!) : lin;
  }

  /** Exact 64-bit effective address when a register holds a value too large for double arithmetic. */
  private linearSlow(d: Insn): number {
    this.effectiveAddress(d);
    const lin = halvesToSigned(this.eaLo, this.eaHi);
    // Non-canonical results need not be exact: they fault either way.
    return isCanonical(lin) ? lin : 2 ** 62;
  }

  /** Reduce a (possibly out-of-range) signed sum modulo 2^64 to the signed range. */
  private wrap64(lin: number): number {
    if (lin >= -(2 ** 63) && lin < 2 ** 63) return lin;
    return Number(BigInt.asIntN(64, BigInt(lin)));
  }

  /** CR2 = a faulting linear address (a signed number, as every linear address here). */
  setCr2(lin: number): void {
    [this.cr2Lo, this.cr2Hi] = linToHalves(lin);
  }

  canonicalFault(stack: boolean): never {
    throw new GuestFault(stack && this.model.stackFaultOnNonCanonical ? Vec.SS : Vec.GP, 0);
  }

  private xlate(lin: number, access: Access): number {
    return this.mmu.translate(lin, access, this.user);
  }

  /** Physical address for a read of `lin` (which the caller keeps within one page). */
  private xlateRead(lin: number): number {
    return this.readPage.translate(lin, this.user);
  }

  private xlateWrite(lin: number): number {
    return this.writePage.translate(lin, this.user);
  }

  read8(lin: number): number {
    const p = this.xlateRead(lin);
    return this.readPage.ram ? this.bus.ram[p]! : this.bus.read8(p);
  }

  read16(lin: number): number {
    if ((lin & 0xfff) <= 0xffe) {
      const p = this.xlateRead(lin);
      return this.readPage.ram ? this.bus.view.getUint16(p, true) : this.bus.read16(p);
    }
    return this.readCross(lin, 2, Access.Read);
  }

  read32(lin: number): number {
    if ((lin & 0xfff) <= 0xffc) {
      const p = this.xlateRead(lin);
      return this.readPage.ram ? this.bus.view.getUint32(p, true) : this.bus.read32(p);
    }
    return this.readCross(lin, 4, Access.Read);
  }

  /** 64-bit read: returns the low half, high half in `hi`. */
  read64(lin: number): number {
    if ((lin & 0xfff) <= 0xff8) {
      const p = this.xlateRead(lin);
      if (this.readPage.ram) {
        const v = this.bus.view;
        this.hi = v.getUint32(p + 4, true);
        return v.getUint32(p, true);
      }
      const lo = this.bus.read32(p);
      this.hi = this.bus.read32(p + 4);
      return lo;
    }
    const lo = this.readCross(lin, 4, Access.Read);
    this.hi = this.readCross(lin + 4, 4, Access.Read);
    return lo;
  }

  readSized(lin: number, size: number): number {
    switch (size) {
      case 1:
        return this.read8(lin);
      case 2:
        return this.read16(lin);
      case 4:
        return this.read32(lin);
      default:
        return this.read64(lin);
    }
  }

  /** Page-crossing access: both pages are translated (and may fault) before any byte moves. */
  private readCross(lin: number, size: number, access: Access): number {
    const pageEnd = lin - (lin & 0xfff) + 4096;
    const p1 = this.xlate(lin, access);
    const p2 = lin + size > pageEnd ? this.xlate(pageEnd, access) : -1;
    let v = 0;
    for (let i = 0; i < size; i++) {
      const a = lin + i < pageEnd ? p1 + i : p2 + (lin + i - pageEnd);
      v |= this.bus.read8(a) << (8 * i);
    }
    return v >>> 0;
  }

  private writeCross(lin: number, size: number, v: number): void {
    const pageEnd = lin - (lin & 0xfff) + 4096;
    const p1 = this.xlate(lin, Access.Write);
    const p2 = lin + size > pageEnd ? this.xlate(pageEnd, Access.Write) : -1;
    for (let i = 0; i < size; i++) {
      const a = lin + i < pageEnd ? p1 + i : p2 + (lin + i - pageEnd);
      this.bus.write8(a, (v >>> (8 * i)) & 0xff);
    }
  }

  /** A RAM write through the write cache: the bytes, then decode-cache invalidation as Bus.write* does. */
  private wroteRam(p: number): void {
    const page = Math.floor(p / 4096);
    if (this.bus.codePages[page] !== 0) this.bus.onCodeWrite?.(page);
  }

  write8(lin: number, v: number): void {
    const p = this.xlateWrite(lin);
    if (this.writePage.ram) {
      this.bus.ram[p] = v;
      this.wroteRam(p);
    } else this.bus.write8(p, v & 0xff);
  }

  write16(lin: number, v: number): void {
    if ((lin & 0xfff) <= 0xffe) {
      const p = this.xlateWrite(lin);
      if (this.writePage.ram) {
        this.bus.view.setUint16(p, v, true);
        this.wroteRam(p);
      } else this.bus.write16(p, v & 0xffff);
    } else this.writeCross(lin, 2, v);
  }

  write32(lin: number, v: number): void {
    if ((lin & 0xfff) <= 0xffc) {
      const p = this.xlateWrite(lin);
      if (this.writePage.ram) {
        this.bus.view.setUint32(p, v, true);
        this.wroteRam(p);
      } else this.bus.write32(p, v >>> 0);
    } else this.writeCross(lin, 4, v);
  }

  write64(lin: number, lo: number, hi: number): void {
    if ((lin & 0xfff) <= 0xff8) {
      const p = this.xlateWrite(lin);
      if (this.writePage.ram) {
        const view = this.bus.view;
        view.setUint32(p, lo, true);
        view.setUint32(p + 4, hi, true);
        this.wroteRam(p);
        return;
      }
      this.bus.write64(p, lo, hi);
      return;
    }
    // Check both halves' pages before writing either.
    const pageEnd = lin - (lin & 0xfff) + 4096;
    this.xlate(lin, Access.Write);
    this.xlate(pageEnd, Access.Write);
    this.writeCross(lin, 4, lo);
    this.writeCross(lin + 4, 4, hi);
  }

  writeSized(lin: number, size: number, lo: number, hi: number): void {
    switch (size) {
      case 1:
        return this.write8(lin, lo);
      case 2:
        return this.write16(lin, lo);
      case 4:
        return this.write32(lin, lo);
      default:
        return this.write64(lin, lo, hi);
    }
  }

  /** Fail now if a write to [lin, lin+size) would fault (RMW and multi-part stores). */
  probeWrite(lin: number, size: number): void {
    this.xlate(lin, Access.Write);
    const last = lin + size - 1;
    // a fault in a later page reports its first byte in CR2, as write64 and the CPU do (not the last byte)
    if ((last & ~0xfff) !== (lin & ~0xfff)) this.xlate(lin - (lin & 0xfff) + 4096, Access.Write);
  }

  /** Access with supervisor rights regardless of CPL (descriptor tables, TSS, exception frames). */
  asSupervisor<T>(fn: () => T): T {
    const saved = this.user;
    this.user = false;
    try {
      return fn();
    } finally {
      this.user = saved;
    }
  }

  // ---- stack -----------------------------------------------------------------------------

  /** RSP-relative linear address (64-bit mode stack is flat; outside it SS base applies). */
  stackLin(offset: number): number {
    const r = this.regs;
    if (this.long64) {
      const lin = halvesToSigned(r[8]!, r[9]!) + offset;
      if (!isCanonical(lin)) this.canonicalFault(true);
      return lin;
    }
    // the offset wraps at the stack's address size: SP - 4 from SP = 2 is 0xfffe in a 16-bit stack
    // (SS.B = 0), not 2^32 - 2 (QEMU then accesses ss.base + 0xfffe on; it checks no limit)
    const off = this.segAttr[Seg.SS]! & ATTR_DB ? (r[8]! + offset) >>> 0 : (r[8]! + offset) & 0xffff;
    return (this.segBase[Seg.SS]! + off) % TWO32;
  }

  private addRsp(delta: number): void {
    const r = this.regs;
    if (this.long64) {
      const lo = r[8]! + delta;
      r[8] = lo >>> 0;
      r[9] = (r[9]! + Math.floor(lo / TWO32)) >>> 0;
    } else if (this.segAttr[Seg.SS]! & ATTR_DB) r[8] = (r[8]! + delta) >>> 0;
    else r[8] = (r[8]! & 0xffff0000) | ((r[8]! + delta) & 0xffff);
  }

  /** Push `size` bytes (2/4/8); RSP changes only after the store succeeds. */
  push(size: number, lo: number, hi = 0): void {
    const lin = this.stackLin(-size);
    this.writeSized(lin, size, lo, hi);
    this.addRsp(-size);
  }

  /** push(8, lo, hi) in 64-bit mode (the specialised handlers' PUSH/CALL). */
  push64(lo: number, hi: number): void {
    const r = this.regs;
    const lin = halvesToSigned(r[8]!, r[9]!) - 8;
    if (!isCanonical(lin)) this.canonicalFault(true);
    this.write64(lin, lo, hi);
    const t = r[8]! - 8;
    r[8] = t >>> 0;
    r[9] = (r[9]! + Math.floor(t / TWO32)) >>> 0;
  }

  /** pop(8) in 64-bit mode: the low half, high half in `hi`. */
  pop64(): number {
    const r = this.regs;
    const lin = halvesToSigned(r[8]!, r[9]!);
    if (!isCanonical(lin)) this.canonicalFault(true);
    const v = this.read64(lin);
    const t = r[8]! + 8;
    r[8] = t >>> 0;
    r[9] = (r[9]! + Math.floor(t / TWO32)) >>> 0;
    return v;
  }

  /** Pop `size` bytes: returns the low half (high half in `hi`); RSP changes after the load. */
  pop(size: number): number {
    const lin = this.stackLin(0);
    const v = this.readSized(lin, size);
    const hi = size === 8 ? this.hi : 0;
    this.addRsp(size);
    this.hi = hi;
    return v;
  }

  /** Read the stack at RSP+offset without moving RSP. */
  peekStack(offset: number, size: number): number {
    return this.readSized(this.stackLin(offset), size);
  }

  adjustRsp(delta: number): void {
    this.addRsp(delta);
  }

  // ---- branches --------------------------------------------------------------------------

  /** Set the next RIP from a signed target, truncated to the operand size; non-canonical → #GP(0). */
  branch(target: number, osize: number): void {
    if (osize === 2) target = ((target % 65536) + 65536) % 65536;
    else if (osize === 4 || !this.long64) target = ((target % TWO32) + TWO32) % TWO32;
    else if (!isCanonical(target)) throw new GuestFault(Vec.GP, 0);
    this.nextRip = target;
  }

  /** Branch to a register/memory value given as halves. */
  branchHalves(lo: number, hi: number, osize: number): void {
    if (osize === 8 && this.long64) {
      const t = halvesToSigned(lo, hi);
      if (!isCanonical(t)) throw new GuestFault(Vec.GP, 0);
      this.nextRip = t;
    } else this.branch(osize === 2 ? lo & 0xffff : lo >>> 0, osize);
  }

  readTsc(): bigint {
    return this.tscOverride ? this.tscOverride() : BigInt(this.icount) + this.tscOffset;
  }

  /** CF as 0/1 for handlers that fold it into arithmetic. */
  carry(): number {
    return this.getCF() & CF;
  }
}
