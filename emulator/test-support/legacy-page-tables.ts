import type { MemoryRegion } from '../../contracts/machine-state.js';

/**
 * Page tables for the legacy-paging differential sequences (32-bit paging and PAE paging on the
 * 32-bit test machine, contracts/test-machine-32.ts), laid out after the SDM (Vol. 3 §4.3 and
 * §4.4, Tables 4-4 to 4-11). Both sets sit above the test machine's pages (0x30000–0x35fff), are
 * loaded together, and map the same linear layout:
 *
 * - 0x00000–0x3ffff identity and writable (the system tables, stop addresses, stack, code, data
 *   and these tables themselves, so that a sequence can rewrite an entry): supervisor pages for
 *   what ring 0 alone touches (IDT, GDT, stop addresses, TSS, the stack pages below TSS.ESP0 and
 *   below the initial ESP: 0x0000–0x8fff, 0xf000–0xffff), so that exceptions are delivered under
 *   SMEP and SMAP; user pages for the rest (the ring-3 stack below 0xf000, code, data);
 * - one 4 KiB test page per kind at 0x40000 and up (PAGES), backed by the data area's ramp;
 * - large pages and broken entries in the directories (LARGE, and the PDPTEs).
 */
export const TABLES = {
  /** 32-bit paging: the page directory (CR3) and its page table for 0–4 MiB. */
  pd32: 0x30000,
  pt32: 0x31000,
  /** PAE paging: the PDPT (CR3), its page directory for 0–1 GiB and page table for 0–2 MiB. */
  pdpt: 0x32000,
  pdPae: 0x33000,
  ptPae: 0x34000,
  /** A second PDPT 32 bytes into the first one's page (CR3 needs only 32-byte alignment) whose PDPTE 0 names pdPae2. */
  pdpt2: 0x32020,
  /** Its page directory: one 2 MiB identity page at 0, so 0x40000 reads physical 0x40000, not the test page. */
  pdPae2: 0x35000,
  end: 0x36000,
} as const;

/** The 4 KiB test pages: linear address → what its PTE holds (the same in both formats, but XD and the reserved bit). */
export const PAGES = {
  /** → physical 0x21000, user, writable. */
  plain: 0x40000,
  /** → 0x22000, user, read-only. */
  readOnly: 0x41000,
  /** → 0x23000, supervisor, writable. */
  supervisor: 0x42000,
  /** P = 0 (the rest of the entry names 0x24000, user, writable). */
  notPresent: 0x43000,
  /** → 0x10000 (the code page), user, writable; XD in PAE paging. */
  noExec: 0x44000,
  /** → 0x25000, user, writable; in PAE paging bit 51 (above MAXPHYADDR = 40) is set: reserved. */
  reserved: 0x45000,
} as const;

/** What PAGES map to, physically (the data area, so that the lockstep compares their bytes). */
const PHYS: Record<keyof typeof PAGES, number> = { plain: 0x21000, readOnly: 0x22000, supervisor: 0x23000, notPresent: 0x24000, noExec: 0x10000, reserved: 0x25000 };

/** Large pages and directory-level cases, by linear address. */
export const LARGE = {
  /** 32-bit: PDE 1, a 4 MiB page at 0x800000 (PS; with CR4.PSE = 0 it names a page table at 0x800000). PAE: PDE 2, a 2 MiB page at 0x800000. */
  page: 0x400000,
  /** 32-bit: PDE 2, a 4 MiB page with bit 21 (reserved) set. PAE: PDE 3 (0x600000), a 2 MiB page with bit 13 (reserved) set. */
  reserved32: 0x800000,
  reservedPae: 0x600000,
  /** 32-bit: PDE 3 (0xc00000), PAE: PDE 4 (0x800000) — the 0–4/2 MiB page table again through a supervisor, read-only PDE. */
  supervisorPde32: 0xc00000,
  supervisorPdePae: 0x800000,
  /** PAE: PDE 5 (0xa00000) — the page table again through a PDE with XD. */
  noExecPdePae: 0xa00000,
  /** 32-bit: PDE 0x200 not present. PAE: PDPTE 2 not present. */
  notPresent: 0x80000000,
  /** PAE: PDPTE 1 present with bit 63 set (reserved in a PDPTE even with EFER.NXE). */
  reservedPdpte: 0x40000000,
} as const;

/** Physical address of the large page at LARGE.page. */
export const LARGE_PHYS = 0x800000;

/** Identity-mapped pages without U/S (see the file comment). */
const SUPERVISOR_PAGES: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 0xf];

const P = 1;
const RW = 2;
const US = 4;
const PS = 0x80;
const XD = 1n << 63n;

function pageTableEntries(wide: boolean): Map<number, bigint> {
  const e = new Map<number, bigint>();
  for (let i = 0; i < 0x40; i++) e.set(i, BigInt(i * 0x1000 + (SUPERVISOR_PAGES.includes(i) ? P | RW : P | RW | US)));
  const idx = (lin: number) => (lin >>> 12) & (wide ? 511 : 1023);
  e.set(idx(PAGES.plain), BigInt(PHYS.plain | P | RW | US));
  e.set(idx(PAGES.readOnly), BigInt(PHYS.readOnly | P | US));
  e.set(idx(PAGES.supervisor), BigInt(PHYS.supervisor | P | RW));
  e.set(idx(PAGES.notPresent), BigInt(PHYS.notPresent | RW | US));
  e.set(idx(PAGES.noExec), BigInt(PHYS.noExec | P | RW | US) | (wide ? XD : 0n));
  e.set(idx(PAGES.reserved), BigInt(PHYS.reserved | P | RW | US) | (wide ? 1n << 51n : 0n));
  return e;
}

function table(entries: Map<number, bigint>, wide: boolean): Uint8Array {
  const bytes = new Uint8Array(0x1000);
  const v = new DataView(bytes.buffer);
  for (const [i, value] of entries) {
    if (wide) v.setBigUint64(i * 8, value, true);
    else v.setUint32(i * 4, Number(value), true);
  }
  return bytes;
}

/** Both sets of tables (see TABLES), as memory regions for the test machine. */
export function legacyPageTables(): MemoryRegion[] {
  const pd32 = new Map<number, bigint>([
    [0, BigInt(TABLES.pt32 | P | RW | US)],
    [LARGE.page >>> 22, BigInt(LARGE_PHYS | P | RW | US | PS)],
    [LARGE.reserved32 >>> 22, BigInt(0xc00000 | 0x200000 | P | RW | US | PS)],
    [LARGE.supervisorPde32 >>> 22, BigInt(TABLES.pt32 | P)],
  ]);
  const pdPae = new Map<number, bigint>([
    [0, BigInt(TABLES.ptPae | P | RW | US)],
    [LARGE.page >>> 21, BigInt(LARGE_PHYS | P | RW | US | PS)],
    [LARGE.reservedPae >>> 21, BigInt(0xa00000 | 0x2000 | P | RW | US | PS)],
    [LARGE.supervisorPdePae >>> 21, BigInt(TABLES.ptPae | P)],
    [LARGE.noExecPdePae >>> 21, BigInt(TABLES.ptPae | P | RW | US) | XD],
  ]);
  // PDPTEs have no R/W or U/S (bits 2:1 are reserved): P and the address only.
  const pdpt = table(new Map([[0, BigInt(TABLES.pdPae | P)], [LARGE.reservedPdpte >>> 30, BigInt(TABLES.pdPae | P) | XD]]), true);
  new DataView(pdpt.buffer).setBigUint64(TABLES.pdpt2 - TABLES.pdpt, BigInt(TABLES.pdPae2 | P), true);
  return [
    { addr: BigInt(TABLES.pd32), bytes: table(pd32, false) },
    { addr: BigInt(TABLES.pt32), bytes: table(pageTableEntries(false), false) },
    { addr: BigInt(TABLES.pdpt), bytes: pdpt },
    { addr: BigInt(TABLES.pdPae), bytes: table(pdPae, true) },
    { addr: BigInt(TABLES.ptPae), bytes: table(pageTableEntries(true), true) },
    { addr: BigInt(TABLES.pdPae2), bytes: table(new Map([[0, BigInt(P | RW | US | PS)]]), true) },
  ];
}
