import { describe, expect, it } from 'vitest';
import { Bus } from './bus.js';
import { GuestFault } from './guest-fault.js';
import { Access, Mmu } from './mmu.js';

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
