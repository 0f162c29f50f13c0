import { describe, expect, it } from 'vitest';
import { Bus } from './bus.js';
import { GuestFault } from './guest-fault.js';
import { Access, LegacyPaging, Mmu } from './mmu.js';

/**
 * Paging per SDM Vol. 3 §4.5–4.8: entry formats (P=0, R/W=1, U/S=2, A=5, D=6, PS=7, XD=63),
 * #PF error code bits (P=0, W/R=1, U/S=2, RSVD=3, I/D=4).
 */
const P = 1n, RW = 2n, US = 4n, A = 0x20n, D = 0x40n, PS = 0x80n, XD = 1n << 63n;

function setup(opts: { pdpe1gb?: boolean } = {}) {
  const bus = new Bus(0x400000);
  const mmu = new Mmu(bus, { physBits: 40, pdpe1gb: opts.pdpe1gb ?? false });
  mmu.paging = true;
  mmu.wp = true;
  mmu.nxe = true;
  mmu.root = 0x1000;
  const put = (addr: number, v: bigint) => {
    bus.write32(addr, Number(v & 0xffffffffn));
    bus.write32(addr + 4, Number(v >> 32n));
  };
  const get = (addr: number) => (BigInt(bus.read32(addr + 4)) << 32n) | BigInt(bus.read32(addr));
  return { bus, mmu, put, get };
}

function pf(fn: () => unknown): { code: number | undefined; address: number | undefined } {
  try {
    fn();
  } catch (e) {
    if (e instanceof GuestFault && e.vector === 14) return { code: e.errorCode, address: e.address };
    throw e;
  }
  throw new Error('expected #PF');
}

describe('Mmu 4-level paging', () => {
  it('walks 4 KiB pages and sets A on every level, D only on writes', () => {
    const { mmu, put, get } = setup();
    put(0x1000, 0x2000n | P | RW | US); // PML4[0]
    put(0x2000, 0x3000n | P | RW | US); // PDPT[0]
    put(0x3000, 0x4000n | P | RW | US); // PD[0]
    put(0x4000 + 5 * 8, 0x9000n | P | RW | US); // PT[5]: 0x5000 → 0x9000
    expect(mmu.translate(0x5123, Access.Read, false)).toBe(0x9123);
    expect(get(0x1000) & A).toBe(A);
    expect(get(0x4028) & (A | D)).toBe(A);
    expect(mmu.translate(0x5124, Access.Write, false)).toBe(0x9124);
    expect(get(0x4028) & (A | D)).toBe(A | D);
  });

  it('maps 2 MiB pages and, with PDPE1GB, 1 GiB pages', () => {
    const { mmu, put } = setup({ pdpe1gb: true });
    put(0x1000, 0x2000n | P | RW);
    put(0x2000, 0x3000n | P | RW);
    put(0x3000 + 8, 0x200000n | P | RW | PS); // PD[1]: 2 MiB page at 0x200000
    expect(mmu.translate(0x212345, Access.Read, false)).toBe(0x212345);
    put(0x2000 + 8, 0x40000000n | P | RW | PS); // PDPT[1]: 1 GiB page
    expect(mmu.translate(0x40001234 + 0x100000, Access.Read, false)).toBe(0x40101234);
  });

  it('treats PS in a PDPTE as reserved without PDPE1GB (qemu64)', () => {
    const { mmu, put } = setup();
    put(0x1000, 0x2000n | P | RW);
    put(0x2000 + 8, 0x40000000n | P | RW | PS);
    expect(pf(() => mmu.translate(0x40000000, Access.Read, false))).toEqual({ code: 0x9, address: 0x40000000 });
  });

  it('reports not-present, protection, user, write and instruction-fetch bits', () => {
    const { mmu, put } = setup();
    put(0x1000, 0x2000n | P | RW | US);
    put(0x2000, 0x3000n | P | RW | US);
    put(0x3000, 0x4000n | P | RW | US);
    put(0x4000 + 8, 0xa000n | P); // 0x1000: supervisor, read-only
    put(0x4000 + 16, 0xb000n | P | RW | US | XD); // 0x2000: user, NX
    expect(pf(() => mmu.translate(0x3000, Access.Read, false))).toEqual({ code: 0, address: 0x3000 });
    expect(pf(() => mmu.translate(0x1000, Access.Write, false))).toEqual({ code: 0x3, address: 0x1000 });
    expect(pf(() => mmu.translate(0x1000, Access.Read, true))).toEqual({ code: 0x5, address: 0x1000 });
    expect(pf(() => mmu.translate(0x2000, Access.Exec, true))).toEqual({ code: 0x15, address: 0x2000 });
    mmu.wp = false;
    mmu.flushTlb();
    expect(mmu.translate(0x1000, Access.Write, false)).toBe(0xa000); // supervisor ignores R/W without CR0.WP
  });

  it('SMEP and SMAP (SDM Vol. 3 §4.6.1): supervisor fetch and data access to user pages, on a walk and on a TLB hit', () => {
    const { mmu, put } = setup();
    put(0x1000, 0x2000n | P | RW | US);
    put(0x2000, 0x3000n | P | RW | US);
    put(0x3000, 0x4000n | P | RW | US);
    put(0x4000 + 8, 0xa000n | P | RW | US | D); // 0x1000: user page
    put(0x4000 + 16, 0xb000n | P | RW | D); // 0x2000: supervisor page
    expect(mmu.translate(0x1000, Access.Exec, false)).toBe(0xa000); // cached, SMEP off
    mmu.svExecDeny = 1;
    expect(pf(() => mmu.translate(0x1000, Access.Exec, false))).toEqual({ code: 0x11, address: 0x1000 }); // TLB hit
    mmu.flushTlb();
    expect(pf(() => mmu.translate(0x1004, Access.Exec, false))).toEqual({ code: 0x11, address: 0x1004 }); // walk
    expect(mmu.translate(0x1000, Access.Exec, true)).toBe(0xa000); // user fetches are not SMEP's
    expect(mmu.translate(0x2000, Access.Exec, false)).toBe(0xb000);
    mmu.nxe = false;
    expect(pf(() => mmu.translate(0x5000, Access.Exec, false)).code).toBe(0x10); // I/D with SMEP alone
    mmu.nxe = true;
    expect(mmu.translate(0x1008, Access.Write, false)).toBe(0xa008); // cached, SMAP off
    mmu.svDataDeny = 1;
    expect(pf(() => mmu.translate(0x1008, Access.Write, false))).toEqual({ code: 0x3, address: 0x1008 });
    expect(pf(() => mmu.translate(0x1008, Access.Read, false))).toEqual({ code: 0x1, address: 0x1008 });
    mmu.flushTlb();
    expect(pf(() => mmu.translate(0x1010, Access.Read, false))).toEqual({ code: 0x1, address: 0x1010 });
    expect(mmu.translate(0x1010, Access.Write, true)).toBe(0xa010);
    expect(mmu.translate(0x2010, Access.Write, false)).toBe(0xb010);
    mmu.svDataDeny = 0;
    expect(mmu.translate(0x1010, Access.Read, false)).toBe(0xa010);
  });

  it('faults on reserved bits above MAXPHYADDR and on XD without EFER.NXE', () => {
    const { mmu, put } = setup();
    put(0x1000, 0x2000n | P | RW | (1n << 45n));
    expect(pf(() => mmu.translate(0, Access.Read, false)).code).toBe(0x9);
    put(0x1000, 0x2000n | P | RW | XD);
    mmu.nxe = false;
    expect(pf(() => mmu.translate(0, Access.Read, false)).code).toBe(0x9);
  });

  it('keeps stale translations until INVLPG or a flush, and peeks without side effects', () => {
    const { mmu, put, get } = setup();
    put(0x1000, 0x2000n | P | RW);
    put(0x2000, 0x3000n | P | RW);
    put(0x3000, 0x4000n | P | RW);
    put(0x4000, 0x9000n | P | RW);
    expect(mmu.translate(0x10, Access.Read, false)).toBe(0x9010);
    put(0x4000, 0xa000n | P | RW | A);
    expect(mmu.translate(0x10, Access.Read, false)).toBe(0x9010); // TLB hit
    mmu.invalidate(0x10);
    expect(mmu.translate(0x10, Access.Read, false)).toBe(0xa010);
    put(0x4000 + 8, 0xb000n | P | RW);
    expect(mmu.peekTranslate(0x1010)).toBe(0xb010);
    expect(get(0x4008) & A).toBe(0n);
    expect(mmu.peekTranslate(0x5000)).toBe(-1);
  });

  it('handles canonical high-half addresses (PML4 index 511)', () => {
    const { mmu, put } = setup();
    put(0x1000 + 511 * 8, 0x2000n | P | RW);
    put(0x2000 + 510 * 8, 0x3000n | P | RW);
    put(0x3000, 0x4000n | P | RW);
    put(0x4000, 0x9000n | P | RW);
    // 0xffffffff80000000 = -0x80000000
    expect(mmu.translate(-0x80000000 + 0x123, Access.Read, false)).toBe(0x9123);
  });
});

/**
 * 32-bit paging per SDM Vol. 3 §4.3 (Tables 4-4 to 4-6): 4-byte entries, directory index bits
 * 31:22, table index 21:12; a PDE with PS maps 4 MiB when CR4.PSE = 1, bits 20:13 giving physical
 * bits 39:32 (PSE-36) and bit 21 reserved. No XD, and so no I/D without SMEP.
 */
describe('Mmu 32-bit paging', () => {
  function setup32() {
    const bus = new Bus(0x400000);
    const mmu = new Mmu(bus, { physBits: 40, pdpe1gb: false });
    mmu.paging = true;
    mmu.legacy = LegacyPaging.Bits32;
    mmu.wp = true;
    mmu.root = 0x1000;
    return { bus, mmu };
  }
  const p = Number(P), rw = Number(RW), us = Number(US), a = Number(A), d = Number(D), ps = Number(PS);

  it('walks two levels of 4-byte entries: A in the PDE, A then D in the PTE, rights combined', () => {
    const { bus, mmu } = setup32();
    bus.write32(0x1000 + 0x3 * 4, 0x2000 | p | rw | us); // PDE 3: 0x00c00000–0x00ffffff
    bus.write32(0x2000 + 0x45 * 4, 0x9000 | p | rw | us); // PTE 0x45
    expect(mmu.translate(0x00c45123, Access.Read, true)).toBe(0x9123);
    expect(bus.read32(0x1000 + 12) & (a | d)).toBe(a);
    expect(bus.read32(0x2000 + 0x45 * 4) & (a | d)).toBe(a);
    expect(mmu.translate(0x00c45124, Access.Write, true)).toBe(0x9124);
    expect(bus.read32(0x2000 + 0x45 * 4) & (a | d)).toBe(a | d);
    expect(bus.read32(0x1000 + 12) & d).toBe(0); // D is the leaf's alone
    bus.write32(0x2000 + 0x46 * 4, 0xa000 | p | us); // user, read-only
    bus.write32(0x2000 + 0x47 * 4, 0xb000 | p | rw); // supervisor
    expect(pf(() => mmu.translate(0x00c46000, Access.Write, true))).toEqual({ code: 0x7, address: 0x00c46000 });
    expect(pf(() => mmu.translate(0x00c46000, Access.Write, false))).toEqual({ code: 0x3, address: 0x00c46000 });
    expect(pf(() => mmu.translate(0x00c47010, Access.Read, true))).toEqual({ code: 0x5, address: 0x00c47010 });
    expect(pf(() => mmu.translate(0x00c48000, Access.Read, false))).toEqual({ code: 0x0, address: 0x00c48000 });
    expect(pf(() => mmu.translate(0x01000000, Access.Write, false))).toEqual({ code: 0x2, address: 0x01000000 });
  });

  it('has no reserved bits in a 4 KiB walk and no XD; I/D only with SMEP', () => {
    const { bus, mmu } = setup32();
    bus.write32(0x1000, 0x2000 | p | rw | us | 0x100 | 0xe00); // G and the ignored bits
    bus.write32(0x2000 + 4, 0x9000 | p | rw | us | 0x80 | 0x100); // PAT, G
    expect(mmu.translate(0x1000, Access.Exec, false)).toBe(0x9000);
    expect(pf(() => mmu.translate(0x2000, Access.Exec, false)).code).toBe(0x0);
    mmu.svExecDeny = 1;
    expect(pf(() => mmu.translate(0x2000, Access.Exec, false)).code).toBe(0x10);
  });

  it('maps 4 MiB pages with CR4.PSE (PSE-36 bits above 4 GiB), ignores PS without it, faults on bit 21', () => {
    const { bus, mmu } = setup32();
    bus.write32(0x1000 + 4, 0x00800000 | (0x12 << 13) | p | rw | ps); // PDE 1: 4 MiB at 0x12_0080_0000
    bus.write32(0x1000 + 8, 0x00c00000 | 0x200000 | p | rw | ps); // PDE 2: bit 21 set
    mmu.pse = true;
    mmu.flushTlb();
    expect(mmu.translate(0x00723456, Access.Write, false)).toBe(0x12_0000_0000 + 0x00b23456);
    expect(bus.read32(0x1000 + 4) & (a | d)).toBe(a | d);
    expect(pf(() => mmu.translate(0x00800000, Access.Read, false))).toEqual({ code: 0x9, address: 0x00800000 });
    // without CR4.PSE the same PDE names a page table at 0x00824000 (bits 20:13 are address bits
    // then): outside this bus's 4 MiB of RAM, so the PTE reads as open bus (all ones: P, frame 0xfffff000)
    mmu.pse = false;
    mmu.flushTlb();
    expect(mmu.translate(0x00400000, Access.Read, false)).toBe(0xfffff000);
  });

  it('takes linear addresses modulo 2^32 (a page-crossing access at 4 GiB wraps to 0)', () => {
    const { bus, mmu } = setup32();
    bus.write32(0x1000, 0x2000 | p | rw);
    bus.write32(0x2000, 0x9000 | p | rw);
    expect(mmu.translate(2 ** 32 + 0x10, Access.Read, false)).toBe(0x9010);
    expect(pf(() => mmu.translate(2 ** 32 + 0x1010, Access.Read, false))).toEqual({ code: 0x0, address: 0x1010 });
    mmu.invalidate(0x10);
    bus.write32(0x2000, 0xa000 | p | rw);
    expect(mmu.translate(0x10, Access.Read, false)).toBe(0xa010);
  });

  it('peeks without setting A', () => {
    const { bus, mmu } = setup32();
    bus.write32(0x1000, 0x2000 | p | rw);
    bus.write32(0x2000 + 8, 0x9000 | p | rw);
    expect(mmu.peekTranslate(0x2345)).toBe(0x9345);
    expect(bus.read32(0x1000) & a).toBe(0);
    expect(bus.read32(0x2008) & a).toBe(0);
    expect(mmu.peekTranslate(0x3000)).toBe(-1);
  });
});

/**
 * PAE paging per SDM Vol. 3 §4.4 (Tables 4-7 to 4-11): CR3 bits 31:5 locate four 8-byte PDPTEs
 * (index bits 31:30), then a PD (29:21) and a PT (20:12) of 8-byte entries; PS in a PDE maps
 * 2 MiB; bits 62:MAXPHYADDR are reserved at every level, bit 63 (XD) too without EFER.NXE and
 * in a PDPTE always.
 */
describe('Mmu PAE paging', () => {
  function setupPae() {
    const s = setup();
    s.mmu.legacy = LegacyPaging.Pae;
    s.mmu.root = 0x1020; // 32-byte aligned
    return s;
  }

  it('walks PDPTE → PDE → PTE from a 32-byte aligned CR3, and maps 2 MiB pages', () => {
    const { mmu, put, get } = setupPae();
    put(0x1020 + 3 * 8, 0x2000n | P); // PDPTE 3: 0xc0000000–0xffffffff
    put(0x2000 + 0x1ff * 8, 0x3000n | P | RW | US); // PDE 511: 0xffe00000
    put(0x3000 + 0x1fe * 8, 0x9000n | P | RW | US); // PTE 510
    expect(mmu.translate(0xffffe123, Access.Write, true)).toBe(0x9123);
    expect(get(0x3000 + 0x1fe * 8) & (A | D)).toBe(A | D);
    expect(get(0x2000 + 0x1ff * 8) & (A | D)).toBe(A);
    // QEMU 7.2 sets A in the PDPTE as well (the SDM reserves that bit in PAE PDPTEs): the emulator follows QEMU
    expect(get(0x1020 + 3 * 8) & A).toBe(A);
    put(0x2000 + 0x1fe * 8, 0x200000n | P | RW | PS); // PDE 510: 2 MiB at 0x200000
    expect(mmu.translate(0xffc12345, Access.Read, false)).toBe(0x212345);
    expect(pf(() => mmu.translate(0xffc12345, Access.Read, true))).toEqual({ code: 0x5, address: 0xffc12345 });
  });

  it('reserves bits 62:52 in PDEs and PTEs (ignored in 4-level paging), XD without NXE, XD in a PDPTE', () => {
    const { mmu, put } = setupPae();
    put(0x1020, 0x2000n | P);
    put(0x2000, 0x3000n | P | RW);
    put(0x3000, 0x9000n | P | RW | (1n << 52n));
    expect(pf(() => mmu.translate(0x10, Access.Read, false)).code).toBe(0x9);
    put(0x3000, 0x9000n | P | RW | XD);
    expect(pf(() => mmu.translate(0x10, Access.Exec, false)).code).toBe(0x11); // NXE: a fetch from an XD page
    mmu.nxe = false;
    mmu.flushTlb();
    expect(pf(() => mmu.translate(0x10, Access.Read, false)).code).toBe(0x9);
    mmu.nxe = true;
    put(0x2000 + 8, 0x200000n | P | RW | PS | 0x2000n); // 2 MiB PDE with bit 13
    expect(pf(() => mmu.translate(0x200000, Access.Read, false)).code).toBe(0x9);
    put(0x1020 + 8, 0x2000n | P | XD);
    expect(pf(() => mmu.translate(0x40000000, Access.Read, false)).code).toBe(0x9);
  });
});
