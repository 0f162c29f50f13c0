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

const PF_P = 1;
const PF_W = 2;
const PF_U = 4;
const PF_RSVD = 8;
const PF_ID = 16;

const TWO32 = 4294967296;

export interface PagingFeatures {
  /** MAXPHYADDR; entry bits from here to 51 are reserved. */
  readonly physBits: number;
  /** 1 GiB pages (CPUID PDPE1GB); without it PS in a PDPTE is a reserved-bit fault, as in QEMU. */
  readonly pdpe1gb: boolean;
}

/**
 * Linear → physical translation: 4-level paging (4 KiB / 2 MiB / 1 GiB), accessed/dirty bits
 * written as the walk proceeds (upper levels when found present, the leaf after the permission
 * checks, as QEMU does), U/S, R/W with CR0.WP, NX with EFER.NXE, SMEP and SMAP, reserved-bit faults.
 * A direct-mapped TLB caches 4 KiB translations and the combined permissions.
 * Linear addresses are numbers holding the signed (sign-extended) 64-bit value.
 */
export class Mmu {
  paging = false;
  /** Paging without IA-32e mode (32-bit or PAE paging): not implemented, so a walk stops the emulator. */
  legacyPaging = false;
  wp = false;
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
  /** Physical address of the PML4 table. */
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
    if (this.legacyPaging) throw new Error('paging outside IA-32e mode (32-bit or PAE paging, CR0.PG with EFER.LME = 0) is not implemented');
    const bus = this.bus;
    let table = this.root;
    let us = 1;
    let rw = 1;
    let nx = 0;
    for (let shift = 39; shift >= 12; shift -= 9) {
      const idx = Math.floor(lin / 2 ** shift) & 511;
      const addr = table + idx * 8;
      let lo = bus.read32(addr);
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
      // Permission checks (SDM Vol. 3 §4.6).
      if (user && !us) this.pageFault(lin, access, user, PF_P);
      // SMEP and SMAP: supervisor fetches, and data accesses while SMAP applies, to a user page.
      if (!user && us && (access === Access.Exec ? this.svExecDeny : this.svDataDeny)) this.pageFault(lin, access, user, PF_P);
      if (access === Access.Write && !rw && (user || this.wp)) this.pageFault(lin, access, user, PF_P);
      if (access === Access.Exec && nx) this.pageFault(lin, access, user, PF_P);
      if (effects) {
        const newLo = (lo | PTE_A | (access === Access.Write ? PTE_D : 0)) >>> 0;
        if (newLo !== lo >>> 0) {
          bus.write32(addr, newLo);
          lo = newLo;
        }
      }
      const pageMask = shift === 12 ? 0 : 2 ** shift - 1;
      const frame = (hi & 0xfffff) * TWO32 + ((lo & 0xfffff000) >>> 0) - ((lo & 0xfffff000 & pageMask) >>> 0);
      const within = shift === 12 ? 0 : (lin & pageMask & ~0xfff) >>> 0;
      const physPage = frame + within;
      if (effects && slot >= 0) {
        // Evicting another page's entry: translations cached outside the TLB (Cpu's page
        // caches, Machine's code page) must not outlive it, so they see a new generation.
        const old = this.tlbTag[slot]!;
        if (old === old && old !== vpn) this.generation++;
        this.tlbTag[slot] = vpn;
        this.tlbPhys[slot] = physPage;
        this.tlbBits[slot] = (us ? TLB_US : 0) | (rw ? TLB_RW : 0) | (nx ? TLB_NX : 0) | (lo & PTE_D ? TLB_DIRTY : 0);
        if (shift !== 12) this.largeCached = true;
      }
      return physPage + (lin & 0xfff);
    }
    throw new Error('unreachable: page walk ended without a leaf');
  }

  private pageFault(lin: number, access: Access, user: boolean, bits: number): never {
    let code = bits;
    if (access === Access.Write) code |= PF_W;
    if (user) code |= PF_U;
    // QEMU 7.2 (mmu_translate) sets I/D on every fetch fault when NXE or SMEP is on; the SDM says
    // the same for PAE/4-level paging with either.
    if (access === Access.Exec && (this.nxe || this.svExecDeny)) code |= PF_ID;
    throw new GuestFault(Vec.PF, code, lin);
  }
}
