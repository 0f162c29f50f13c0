/**
 * The explore machine: where a candidate instruction runs, alone, at CPL 3, ending against an
 * unmapped page, on QEMU (by a guest-side runner, explore-runner.ts) and on the emulator (driven
 * natively, native-explore.ts), so that both sides see exactly the same machine.
 *
 * Why CPL 3: a candidate is any byte string, and at CPL 0 one MOV CR3, LGDT or WRMSR would wreck
 * the runner. In user mode privileged instructions raise #GP, the runner's pages are supervisor
 * pages, and nothing a candidate does outlives it except what the runner puts back (registers,
 * segments, x87/SSE state by FXRSTOR, the data page from its pristine copy).
 *
 * Why TF: RFLAGS.TF is set on entry, so every candidate ends in an exception: #DB after it
 * retires (the pushed RIP is the next instruction: start + length, or a branch target), or the
 * fault it raised. The candidate's bytes end exactly at the end of the user code page and the
 * next page is not mapped, so an instruction longer than the candidate's bytes faults on the
 * fetch (#PF, CR2 = the page boundary, RIP = the instruction): the same length test on any target.
 *
 * Physical = virtual inside the explore area (0x400000–0x4fffff), except the supervisor alias
 * through which the runner writes the (user read-only) code page. Everything is in its own page
 * tables, GDT, IDT and TSS; the test machine's tables are left as they are, and the runner is
 * entered and left through a gateway on the test machine's handler page (as harness/batch does).
 */
import { LAYOUT, PTE, SELECTORS } from '../../contracts/test-machine.js';
import { put, putTssDescriptor } from '../batch/runner-tables.js';

const E = 0x400000n;

export const EXPLORE = {
  code: E,
  /** Control block: q0 next index, q1 count, q2 serial, q3/q4 the data page's pristine hash. */
  ctrl: E + 0x1000n,
  tss: E + 0x2000n,
  stackTop: E + 0x4000n,
  /** GDT base; the selectors (≥ 0x1000) land on the page after it, as in the test machine. */
  gdtBase: E + 0x5000n,
  idt: E + 0x7000n,
  stubs: E + 0x8000n,
  /** FXRSTOR image every candidate starts from. */
  fxPristine: E + 0x9000n,
  /** FXSAVE area the runner hashes after each candidate. */
  fxScratch: E + 0x9200n,
  dataPristine: E + 0xa000n,
  /** Per candidate 16 bytes: its length n, then its bytes. */
  descs: E + 0x10000n,
  /** Per candidate 16 bytes: the record's checksum (a, b). */
  digests: E + 0x18000n,
  /** Per candidate RECORD_BYTES. */
  records: E + 0x20000n,
  maxCandidates: 2048,
  userCode: E + 0xc0000n,
  /** Supervisor read/write alias of the user code page (the runner writes candidates through it). */
  userCodeAlias: E + 0xc2000n,
  userData: E + 0xc4000n,
  pml4: E + 0xd0000n,
  pdpt: E + 0xd1000n,
  pd: E + 0xd2000n,
  /** Leaf table for 0–2 MiB: only the test machine's handler page (the gateway). */
  ptLow: E + 0xd3000n,
  /** Leaf table for 4–6 MiB: the explore area. */
  ptArea: E + 0xd4000n,
  areaEnd: E + 0xd5000n,
  /** Gateway in the test machine's handler page: load the explore CR3 and jump to RBX. */
  enter: LAYOUT.handlers + 0xa00n,
  /** Back to the test machine's CR3, then HLT (the stop). */
  leave: LAYOUT.handlers + 0xa40n,
} as const;

/** Where a candidate's last byte sits: the end of the user code page. */
export const CODE_PAGE_END = EXPLORE.userCode + 0x1000n;

export const USER_SELECTORS = { code64: 0x1028 | 3, data: 0x1030 | 3 } as const;
export const TSS_SELECTOR = 0x1040;
export const GDT_LIMIT = 0x1fff;

/** RFLAGS a candidate starts with: TF (it traps after one instruction), CF, PF, SF, and the fixed bit 1. */
export const USER_RFLAGS = 0x187n;

/** The candidate's registers, encoding order: register i points into the data page at 0x80 + 0x100·i, so every [reg+disp8] stays on it. */
export function userRegisters(): bigint[] {
  return Array.from({ length: 16 }, (_, i) => EXPLORE.userData + 0x80n + 0x100n * BigInt(i));
}

/** Record layout, in qwords. The checksum covers the first RECORD_HASHED (all but the serial). */
export const REC = {
  gpr: 0,
  rip: 16,
  rflags: 17,
  vector: 18,
  errorCode: 19,
  /** CR2 when the vector is #PF, else 0. */
  cr2: 20,
  cs: 21,
  ss: 22,
  /** DS | ES << 16 | FS << 32 | GS << 48. */
  selectors: 23,
  memA: 24,
  memB: 25,
  fpuA: 26,
  fpuB: 27,
  serial: 28,
} as const;
export const RECORD_HASHED = 28;
export const RECORD_BYTES = 256;
/** Control block offsets (bytes). */
export const CTRL = { index: 0x00, count: 0x08, serial: 0x10, pristineA: 0x18, pristineB: 0x20, pseudo: 0x40, save: 0x100, regs: 0x200, raxScratch: 0x300 } as const;

/** Vectors whose delivery pushes an error code (SDM Vol. 3 Table 6-1). */
export { ERROR_CODE_VECTORS } from '../batch/runner-tables.js';

/** FXSAVE bytes the record's x87/SSE checksum covers: FCW…MXCSR_MASK, ST0–7, XMM0–15 (FOP, FIP, FDP and MXCSR_MASK zeroed first). */
export const FX_HASHED_QWORDS = 52;

/** The pseudo-descriptors at CTRL.pseudo: explore GDT, explore IDT, then the test machine's {0, 0xffff} twice. */
export function pseudoDescriptors(): Uint8Array {
  const b = new Uint8Array(0x40);
  put(b, 0x00, BigInt(GDT_LIMIT), 2);
  put(b, 0x02, EXPLORE.gdtBase);
  put(b, 0x10, 0xfffn, 2);
  put(b, 0x12, EXPLORE.idt);
  put(b, 0x20, 0xffffn, 2);
  put(b, 0x30, 0xffffn, 2);
  return b;
}

export function tss(): Uint8Array {
  const b = new Uint8Array(0x68);
  put(b, 0x04, EXPLORE.stackTop); // RSP0
  put(b, 0x24, EXPLORE.stackTop); // IST1
  put(b, 0x66, 0x68n, 2); // I/O bit map past the limit: every port denied at CPL 3
  return b;
}

/** The GDT's second page (selectors 0x1000–0x1fff). */
export function gdtPage(): Uint8Array {
  const page = new Uint8Array(0x1000);
  put(page, SELECTORS.code64 - 0x1000, 0x00af9b000000ffffn);
  put(page, SELECTORS.data - 0x1000, 0x00cf93000000ffffn);
  put(page, SELECTORS.code32 - 0x1000, 0x00cf9b000000ffffn);
  put(page, (USER_SELECTORS.code64 & ~3) - 0x1000, 0x00affb000000ffffn); // 64-bit code, DPL 3
  put(page, (USER_SELECTORS.data & ~3) - 0x1000, 0x00cff3000000ffffn); // data, DPL 3
  putTssDescriptor(page, TSS_SELECTOR - 0x1000, EXPLORE.tss, 0x67);
  return page;
}

/**
 * Page tables: the gateway's page (supervisor, executable, read-only), the explore area
 * (supervisor), the user code page (user, read-only, executable; the page after it absent),
 * its supervisor alias, and the user data page (user, read/write, NX; absent pages around it).
 */
export function pageTables(): Uint8Array {
  const t = new Uint8Array(Number(EXPLORE.areaEnd - EXPLORE.pml4));
  const at = (table: bigint, index: number, value: bigint) => put(t, Number(table - EXPLORE.pml4) + index * 8, value);
  const upper = PTE.P | PTE.RW | PTE.US | PTE.A;
  at(EXPLORE.pml4, 0, EXPLORE.pdpt | upper);
  at(EXPLORE.pdpt, 0, EXPLORE.pd | upper);
  at(EXPLORE.pd, 0, EXPLORE.ptLow | upper);
  at(EXPLORE.pd, 2, EXPLORE.ptArea | upper);
  at(EXPLORE.ptLow, Number(LAYOUT.handlers >> 12n), LAYOUT.handlers | PTE.P | PTE.A);
  const base = Number(EXPLORE.code >> 12n);
  for (let addr = EXPLORE.code; addr < EXPLORE.areaEnd; addr += 0x1000n) {
    const i = Number(addr >> 12n) - base;
    let flags: bigint | undefined = PTE.P | PTE.RW | PTE.A | PTE.D | PTE.NX;
    if (addr === EXPLORE.code || addr === EXPLORE.stubs) flags = PTE.P | PTE.A;
    else if (addr === EXPLORE.userCode) flags = PTE.P | PTE.US | PTE.A;
    else if (addr === EXPLORE.userData) flags = PTE.P | PTE.RW | PTE.US | PTE.A | PTE.D | PTE.NX;
    else if (addr > EXPLORE.records + BigInt(EXPLORE.maxCandidates * RECORD_BYTES) && addr < EXPLORE.pml4) flags = undefined;
    if (addr === EXPLORE.userCodeAlias) {
      at(EXPLORE.ptArea, i, EXPLORE.userCode | PTE.P | PTE.RW | PTE.A | PTE.D | PTE.NX);
      continue;
    }
    if (flags !== undefined) at(EXPLORE.ptArea, i, addr | flags);
  }
  return t;
}
