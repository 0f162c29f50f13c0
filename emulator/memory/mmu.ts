import type { Bus } from './bus.js';
import { GuestFault, Vec } from './guest-fault.js';

export const enum Access {
  Read = 0,
  Write = 1,
  Exec = 2,
}

const TLB_SIZE = 1024;
const TLB_US = 1; // user-accessible at every level
const TLB_RW = 2; // writable at every level
const TLB_NX = 4; // not executable (some level has XD and EFER.NXE = 1)
const TLB_DIRTY = 8; // leaf D bit already set: writes need no walk

const PTE_P = 0x1;
const PTE_RW = 0x2;
const PTE_US = 0x4;
const PTE_A = 0x20;
const PTE_D = 0x40;
const PTE_PS = 0x80;

/** 32-bit paging, 4 MiB PDE: bit 21 is reserved (bits 20:13 hold physical bits 39:32). */
const PDE32_RSVD = 0x200000;
/** PAE paging: bits 62:52 of every entry are reserved (high dword). */
const PAE_RSVD_HI = 0x7ff00000;
/** XD (bit 63) in the high dword. */
const XD_HI = 0x80000000;
/**
 * Whether a PAE walk sets the accessed bit of the PDPTE. The SDM has bit 5 of a PAE PDPTE
 * reserved (and loads PDPTEs into registers, never writing them); QEMU 7.2 sets it as it does in
 * any upper-level entry.
 */
const PDPTE_SETS_A = true;

const PF_P = 1;
const PF_W = 2;
const PF_U = 4;
const PF_RSVD = 8;
const PF_ID = 16;

const TWO32 = 4294967296;

/** Which walk paging outside IA-32e mode takes (SDM Vol. 3 §4.1.1, Table 4-1). */
export const enum LegacyPaging {
  /** Paging off, or 4-level paging (IA-32e mode). */
  None = 0,
  /** CR4.PAE = 0: two levels of 4-byte entries. */
  Bits32 = 1,
  /** CR4.PAE = 1 without IA-32e mode: PDPT, PD, PT of 8-byte entries. */
  Pae = 2,
}

export interface PagingFeatures {
  /** MAXPHYADDR; entry bits from here to 51 are reserved. */
  readonly physBits: number;
  /** 1 GiB pages (CPUID PDPE1GB); without it PS in a PDPTE is a reserved-bit fault, as in QEMU. */
  readonly pdpe1gb: boolean;
}

/**
 * Linear → physical translation: 4-level paging (4 KiB / 2 MiB / 1 GiB), and outside IA-32e mode
 * 32-bit paging (4 KiB / 4 MiB) and PAE paging (4 KiB / 2 MiB). Accessed/dirty bits are written
 * as the walk proceeds (upper levels when found present, the leaf after the permission checks, as
 * QEMU does); U/S, R/W with CR0.WP, NX with EFER.NXE, SMEP and SMAP, reserved-bit faults are
 * checked alike in every mode. A direct-mapped TLB caches 4 KiB translations and the combined
 * permissions. Linear addresses are numbers holding the signed (sign-extended) 64-bit value;
 * outside IA-32e mode they are taken modulo 2^32.
 */
export class Mmu {
  paging = false;
  /** Paging without IA-32e mode: which of the two legacy walks (Cpu.syncMmu sets it from CR4.PAE and EFER.LMA). */
  legacy = LegacyPaging.None;
  /** CR4.PSE: 4 MiB pages in 32-bit paging. */
  pse = false;
  wp = false;
  /** XD bits count (EFER.NXE with CR4.PAE: 32-bit paging has no XD, and no I/D in its error codes). */
  nxe = false;
  /**
   * 1 (the TLB's user bit) when supervisor data accesses to user pages fault: CR4.SMAP with AC clear,
   * or any supervisor access at CPL 3 (all implicit; QEMU's MMU_KSMAP_IDX). 0 otherwise. Whoever
   * changes it bumps `generation` (Cpu.syncSmap), since page caches outside the TLB keep checked
   * translations.
   */
  svDataDeny = 0;
  /** 1 when supervisor instruction fetches from user pages fault (CR4.SMEP), else 0. */
  svExecDeny = 0;
  /** Physical address of the top table: PML4 (4-level), page directory (32-bit), PDPT (PAE, 32-byte aligned). */
  root = 0;
  private readonly tlbTag = new Float64Array(TLB_SIZE).fill(NaN);
  private readonly tlbPhys = new Float64Array(TLB_SIZE);
  private readonly tlbBits = new Uint8Array(TLB_SIZE);
  private largeCached = false;
  /** Bumped whenever cached translations may have changed (callers caching a translation compare it). */
  generation = 0;
  private readonly rsvdHi: number;

  constructor(
    private readonly bus: Bus,
    private readonly features: PagingFeatures,
  ) {
    // Reserved bits of the high dword: physBits..51 (bits 52–62 are ignored/available).
    const lowBits = Math.max(0, features.physBits - 32);
    this.rsvdHi = (0x000fffff & ~((1 << lowBits) - 1)) >>> 0;
  }

  flushTlb(): void {
    this.generation++;
    this.tlbTag.fill(NaN);
    this.largeCached = false;
  }

  /** INVLPG: drop the page holding `lin` (everything, if a large page may cover it). */
  invalidate(lin: number): void {
    this.generation++;
    if (this.largeCached) {
      this.flushTlb();
      return;
    }
    const vpn = Math.floor(lin / 4096);
    this.tlbTag[vpn & (TLB_SIZE - 1)] = NaN;
  }

  translate(lin: number, access: Access, user: boolean): number {
    if (!this.paging) return lin >>> 0 === lin ? lin : lin >>> 0;
    const vpn = Math.floor(lin / 4096);
    const i = vpn & (TLB_SIZE - 1);
    if (this.tlbTag[i] === vpn) {
      const f = this.tlbBits[i]!;
      let ok: boolean;
      if (access === Access.Read) ok = user ? (f & TLB_US) !== 0 : (f & this.svDataDeny) === 0;
      else if (access === Access.Write) ok = (f & TLB_DIRTY) !== 0 && (user ? (f & 3) === 3 : ((f & TLB_RW) !== 0 || !this.wp) && (f & this.svDataDeny) === 0);
      else ok = (f & TLB_NX) === 0 && (user ? (f & TLB_US) !== 0 : (f & this.svExecDeny) === 0);
      if (ok) return this.tlbPhys[i]! + (lin & 0xfff);
    }
    return this.walk(lin, access, user, vpn, i, true);
  }

  /** Translation without side effects (no A/D updates, no TLB fill, no fault): -1 when unmapped. */
  peekTranslate(lin: number): number {
    if (!this.paging) return lin >>> 0;
    try {
      return this.walk(lin, Access.Read, false, Math.floor(lin / 4096), -1, false);
    } catch (e) {
      if (e instanceof GuestFault) return -1;
      throw e;
    }
  }

  private walk(lin: number, access: Access, user: boolean, vpn: number, slot: number, effects: boolean): number {
    if (this.legacy !== LegacyPaging.None) {
      return this.legacy === LegacyPaging.Pae ? this.walkPae(lin >>> 0, access, user, slot, effects) : this.walk32(lin >>> 0, access, user, slot, effects);
    }
    const bus = this.bus;
    let table = this.root;
    let us = 1;
    let rw = 1;
    let nx = 0;
    for (let shift = 39; shift >= 12; shift -= 9) {
      const idx = Math.floor(lin / 2 ** shift) & 511;
      const addr = table + idx * 8;
      const lo = bus.read32(addr);
      const hi = bus.read32(addr + 4);
      if ((lo & PTE_P) === 0) this.pageFault(lin, access, user, 0);
      if ((hi & this.rsvdHi) !== 0 || (!this.nxe && hi >>> 31 !== 0)) this.pageFault(lin, access, user, PF_RSVD | PF_P);
      const leaf = shift === 12 || ((lo & PTE_PS) !== 0 && shift !== 39);
      if (shift === 39 && (lo & PTE_PS) !== 0) this.pageFault(lin, access, user, PF_RSVD | PF_P);
      if (shift === 30 && leaf && !this.features.pdpe1gb) this.pageFault(lin, access, user, PF_RSVD | PF_P);
      // Large-page address bits below the page size (except PAT at bit 12) must be zero.
      if (leaf && shift === 21 && (lo & 0x1fe000) !== 0) this.pageFault(lin, access, user, PF_RSVD | PF_P);
      if (leaf && shift === 30 && (lo & 0x3fffe000) !== 0) this.pageFault(lin, access, user, PF_RSVD | PF_P);
      us &= (lo >> 2) & 1;
      rw &= (lo >> 1) & 1;
      if (this.nxe) nx |= hi >>> 31;
      if (!leaf) {
        if ((lo & PTE_A) === 0 && effects) bus.write32(addr, (lo | PTE_A) >>> 0);
        table = (hi & 0xfffff) * TWO32 + ((lo & 0xfffff000) >>> 0);
        continue;
      }
      const pageMask = shift === 12 ? 0 : 2 ** shift - 1;
      const frame = (hi & 0xfffff) * TWO32 + ((lo & 0xfffff000) >>> 0) - ((lo & 0xfffff000 & pageMask) >>> 0);
      const within = shift === 12 ? 0 : (lin & pageMask & ~0xfff) >>> 0;
      return this.leaf(lin, access, user, vpn, slot, effects, addr, lo, us, rw, nx, frame + within, shift !== 12);
    }
    throw new Error('unreachable: page walk ended without a leaf');
  }

  /**
   * 32-bit paging (CR4.PAE = 0; SDM Vol. 3 §4.3): a page directory of 1024 four-byte entries at
   * CR3, 4 KiB pages through a page table, 4 MiB pages with CR4.PSE and PS. No NX and, in a
   * 4 KiB walk, no reserved bits. As QEMU 7.2's mmu_translate: a 4 MiB PDE takes physical bits
   * 39:32 from its bits 20:13 (PSE-36) whatever the model announces, and only bit 21 is reserved.
   */
  private walk32(lin: number, access: Access, user: boolean, slot: number, effects: boolean): number {
    const bus = this.bus;
    const pdeAddr = this.root + (lin >>> 22) * 4;
    const pde = bus.read32(pdeAddr);
    if ((pde & PTE_P) === 0) this.pageFault(lin, access, user, 0);
    if ((pde & PTE_PS) !== 0 && this.pse) {
      if ((pde & PDE32_RSVD) !== 0) this.pageFault(lin, access, user, PF_RSVD | PF_P);
      const frame = ((pde & 0xffc00000) >>> 0) + ((pde >>> 13) & 0xff) * TWO32;
      return this.leaf(lin, access, user, lin >>> 12, slot, effects, pdeAddr, pde, (pde >> 2) & 1, (pde >> 1) & 1, 0, frame + (lin & 0x3ff000), true);
    }
    if ((pde & PTE_A) === 0 && effects) bus.write32(pdeAddr, (pde | PTE_A) >>> 0);
    const pteAddr = ((pde & 0xfffff000) >>> 0) + ((lin >>> 12) & 0x3ff) * 4;
    const pte = bus.read32(pteAddr);
    if ((pte & PTE_P) === 0) this.pageFault(lin, access, user, 0);
    return this.leaf(lin, access, user, lin >>> 12, slot, effects, pteAddr, pte, (pde >> 2) & (pte >> 2) & 1, (pde >> 1) & (pte >> 1) & 1, 0, (pte & 0xfffff000) >>> 0, false);
  }

  /**
   * PAE paging (CR4.PAE = 1 outside IA-32e mode; SDM Vol. 3 §4.4): four 8-byte PDPTEs at CR3
   * (32-byte aligned), then a page directory and page table of 512 entries; 2 MiB pages with PS
   * in a PDE (CR4.PSE does not matter); XD with EFER.NXE. The SDM loads the PDPTEs into registers
   * when CR3 is written (#GP for reserved bits there); QEMU 7.2 reads them on every walk and
   * checks them as other entries (bits MAXPHYADDR–63 reserved: #PF with RSVD), and so does this.
   * Bits 62:52 are reserved at every level here, unlike in 4-level paging.
   */
  private walkPae(lin: number, access: Access, user: boolean, slot: number, effects: boolean): number {
    const bus = this.bus;
    const rsvdHi = this.rsvdHi | PAE_RSVD_HI | (this.nxe ? 0 : XD_HI);
    const pdpteAddr = this.root + (lin >>> 30) * 8;
    const pdpteLo = bus.read32(pdpteAddr);
    const pdpteHi = bus.read32(pdpteAddr + 4);
    if ((pdpteLo & PTE_P) === 0) this.pageFault(lin, access, user, 0);
    if ((pdpteHi & (rsvdHi | XD_HI)) !== 0) this.pageFault(lin, access, user, PF_RSVD | PF_P);
    if (PDPTE_SETS_A && (pdpteLo & PTE_A) === 0 && effects) bus.write32(pdpteAddr, (pdpteLo | PTE_A) >>> 0);
    const pdeAddr = (pdpteHi & 0xfffff) * TWO32 + ((pdpteLo & 0xfffff000) >>> 0) + ((lin >>> 21) & 511) * 8;
    const pde = bus.read32(pdeAddr);
    const pdeHi = bus.read32(pdeAddr + 4);
    if ((pde & PTE_P) === 0) this.pageFault(lin, access, user, 0);
    if ((pdeHi & rsvdHi) !== 0) this.pageFault(lin, access, user, PF_RSVD | PF_P);
    let nx = this.nxe ? pdeHi >>> 31 : 0;
    if ((pde & PTE_PS) !== 0) {
      if ((pde & 0x1fe000) !== 0) this.pageFault(lin, access, user, PF_RSVD | PF_P);
      const frame = (pdeHi & 0xfffff) * TWO32 + ((pde & 0xffe00000) >>> 0);
      return this.leaf(lin, access, user, lin >>> 12, slot, effects, pdeAddr, pde, (pde >> 2) & 1, (pde >> 1) & 1, nx, frame + (lin & 0x1ff000), true);
    }
    if ((pde & PTE_A) === 0 && effects) bus.write32(pdeAddr, (pde | PTE_A) >>> 0);
    const pteAddr = (pdeHi & 0xfffff) * TWO32 + ((pde & 0xfffff000) >>> 0) + ((lin >>> 12) & 511) * 8;
    const pte = bus.read32(pteAddr);
    const pteHi = bus.read32(pteAddr + 4);
    if ((pte & PTE_P) === 0) this.pageFault(lin, access, user, 0);
    if ((pteHi & rsvdHi) !== 0) this.pageFault(lin, access, user, PF_RSVD | PF_P);
    if (this.nxe) nx |= pteHi >>> 31;
    const frame = (pteHi & 0xfffff) * TWO32 + ((pte & 0xfffff000) >>> 0);
    return this.leaf(lin, access, user, lin >>> 12, slot, effects, pteAddr, pte, (pde >> 2) & (pte >> 2) & 1, (pde >> 1) & (pte >> 1) & 1, nx, frame, false);
  }

  /**
   * The end of every walk: the permission checks (SDM Vol. 3 §4.6) on the rights combined over the
   * levels, the leaf's accessed and dirty bits (after the checks, as QEMU sets them), the TLB fill.
   * `entryLo` is the low dword of the leaf entry at `entryAddr` (A and D live there in every
   * format); `physPage` the physical address of the 4 KiB page holding `lin`.
   */
  private leaf(
    lin: number, access: Access, user: boolean, vpn: number, slot: number, effects: boolean,
    entryAddr: number, entryLo: number, us: number, rw: number, nx: number, physPage: number, large: boolean,
  ): number {
    if (user && !us) this.pageFault(lin, access, user, PF_P);
    // SMEP and SMAP: supervisor fetches, and data accesses while SMAP applies, to a user page.
    if (!user && us && (access === Access.Exec ? this.svExecDeny : this.svDataDeny)) this.pageFault(lin, access, user, PF_P);
    if (access === Access.Write && !rw && (user || this.wp)) this.pageFault(lin, access, user, PF_P);
    if (access === Access.Exec && nx) this.pageFault(lin, access, user, PF_P);
    let lo = entryLo;
    if (effects) {
      const newLo = (lo | PTE_A | (access === Access.Write ? PTE_D : 0)) >>> 0;
      if (newLo !== lo >>> 0) {
        this.bus.write32(entryAddr, newLo);
        lo = newLo;
      }
    }
    if (effects && slot >= 0) {
      // Evicting another page's entry: translations cached outside the TLB (Cpu's page
      // caches, Machine's code page) must not outlive it, so they see a new generation.
      const old = this.tlbTag[slot]!;
      if (old === old && old !== vpn) this.generation++;
      this.tlbTag[slot] = vpn;
      this.tlbPhys[slot] = physPage;
      this.tlbBits[slot] = (us ? TLB_US : 0) | (rw ? TLB_RW : 0) | (nx ? TLB_NX : 0) | (lo & PTE_D ? TLB_DIRTY : 0);
      if (large) this.largeCached = true;
    }
    return physPage + (lin & 0xfff);
  }

  private pageFault(lin: number, access: Access, user: boolean, bits: number): never {
    let code = bits;
    if (access === Access.Write) code |= PF_W;
    if (user) code |= PF_U;
    // QEMU 7.2 (mmu_translate) sets I/D on every fetch fault when NXE (with PAE: `nxe`) or SMEP is
    // on; the SDM says the same (Vol. 3 §4.7: I/D only with CR4.SMEP, or CR4.PAE and EFER.NXE).
    if (access === Access.Exec && (this.nxe || this.svExecDeny)) code |= PF_ID;
    throw new GuestFault(Vec.PF, code, lin);
  }
}
