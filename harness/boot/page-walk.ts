/**
 * A page walk read out of physical memory, as the report shows it for every address a mismatch
 * involves: each entry's physical address, value and flags. It is computed here from the raw
 * entries on each side (QEMU's memory over its gdb stub, the emulator's RAM), not asked of either
 * MMU, so the two walks can be set side by side and a difference in any entry shows.
 *
 * Every paging mode is a table of levels (SDM vol. 3A, ch. 4): 4-level (or, with CR4.LA57,
 * 5-level) IA-32e paging (4.5, tables 4-14 to 4-20); outside IA-32e mode 32-bit paging (CR4.PAE
 * = 0; 4.3, tables 4-4 to 4-6) and PAE paging (4.4, tables 4-7 to 4-11), whose walks end in a
 * text that names the mode ('4 KiB page (32-bit paging)'). PAE paging is told from IA-32e paging
 * by EFER.LMA: without EFER a walk with CR4.PAE is taken for IA-32e paging.
 */

export interface WalkLevel {
  /** PML5E, PML4E, PDPTE, PDE or PTE. */
  readonly name: string;
  /** Physical address of the entry. */
  readonly entryAddr: bigint;
  readonly value: bigint;
  /** The flags set, in SDM order (P RW US PWT PCD A D PS G NX). */
  readonly flags: string;
}

export interface PageWalk {
  readonly cr3: bigint;
  readonly levels: readonly WalkLevel[];
  /** The physical address the linear one maps to, when the walk reaches a present leaf. */
  readonly phys?: bigint;
  /** How the walk ended: '4 KiB page', '2 MiB page', '1 GiB page', 'not present at PDE', 'unreadable entry at …', 'non-canonical'. */
  readonly end: string;
}

const ADDR_MASK = 0x000f_ffff_ffff_f000n;
const FLAG_BITS: ReadonlyArray<[string, bigint]> = [
  ['P', 1n << 0n], ['RW', 1n << 1n], ['US', 1n << 2n], ['PWT', 1n << 3n], ['PCD', 1n << 4n],
  ['A', 1n << 5n], ['D', 1n << 6n], ['PS', 1n << 7n], ['G', 1n << 8n], ['NX', 1n << 63n],
];
const CR4_PSE = 1n << 4n;
const CR4_PAE = 1n << 5n;
const CR4_LA57 = 1n << 12n;
const EFER_LMA = 1n << 10n;
const PS = 1n << 7n;

export function entryFlags(v: bigint, leaf: boolean): string {
  // bit 7 is PS above the PTE and PAT in it; G means something only in a leaf
  return FLAG_BITS.filter(([name, bit]) => (v & bit) !== 0n && !(name === 'PS' && leaf) && !(name === 'G' && !leaf && (v & PS) === 0n)).map(([n]) => n).join(' ') || '-';
}

interface Level {
  readonly name: string;
  /** The lowest linear-address bit of this level's index, and how many index bits it takes. */
  readonly shift: bigint;
  readonly indexBits: bigint;
  /** The page an entry with PS maps here ('2 MiB'), when PS can map one. */
  readonly large?: string;
}

interface PagingMode {
  /** Appended to the walk's end, for the modes outside IA-32e mode. */
  readonly suffix: string;
  readonly entryBytes: 4 | 8;
  /** CR3 bits that locate the top table. */
  readonly rootMask: bigint;
  readonly levels: readonly Level[];
}

const IA32E: readonly Level[] = [
  { name: 'PML4E', shift: 39n, indexBits: 9n },
  { name: 'PDPTE', shift: 30n, indexBits: 9n, large: '1 GiB' },
  { name: 'PDE', shift: 21n, indexBits: 9n, large: '2 MiB' },
  { name: 'PTE', shift: 12n, indexBits: 9n },
];
const FOUR_LEVEL: PagingMode = { suffix: '', entryBytes: 8, rootMask: ADDR_MASK, levels: IA32E };
const FIVE_LEVEL: PagingMode = { ...FOUR_LEVEL, levels: [{ name: 'PML5E', shift: 48n, indexBits: 9n }, ...IA32E] };
const PAE: PagingMode = {
  suffix: ' (PAE paging)',
  entryBytes: 8,
  rootMask: 0xffff_ffe0n,
  levels: [{ name: 'PDPTE', shift: 30n, indexBits: 2n }, { name: 'PDE', shift: 21n, indexBits: 9n, large: '2 MiB' }, { name: 'PTE', shift: 12n, indexBits: 9n }],
};
const BITS32 = (pse: boolean): PagingMode => ({
  suffix: ' (32-bit paging)',
  entryBytes: 4,
  rootMask: 0xffff_f000n,
  levels: [{ name: 'PDE', shift: 22n, indexBits: 10n, large: pse ? '4 MiB' : undefined }, { name: 'PTE', shift: 12n, indexBits: 10n }],
});

/**
 * `efer` tells PAE paging from IA-32e paging (LMA); the caller knows CR0.PG is set. Linear
 * addresses outside IA-32e mode are 32 bits: bits above are dropped.
 */
export async function walkPage(lin: bigint, cr3: bigint, cr4: bigint, read64: (phys: bigint) => Promise<bigint | undefined>, efer?: bigint): Promise<PageWalk> {
  const mode =
    (cr4 & CR4_PAE) === 0n ? BITS32((cr4 & CR4_PSE) !== 0n)
    : efer !== undefined && (efer & EFER_LMA) === 0n ? PAE
    : (cr4 & CR4_LA57) !== 0n ? FIVE_LEVEL
    : FOUR_LEVEL;
  if (mode === FOUR_LEVEL || mode === FIVE_LEVEL) {
    const bits = mode === FIVE_LEVEL ? 57 : 48;
    if (BigInt.asUintN(64, BigInt.asIntN(bits, lin)) !== BigInt.asUintN(64, lin)) return { cr3, levels: [], end: 'non-canonical' };
  } else lin = BigInt.asUintN(32, lin);
  const levels: WalkLevel[] = [];
  let table = cr3 & mode.rootMask;
  for (let i = 0; i < mode.levels.length; i++) {
    const { name, shift, indexBits, large } = mode.levels[i]!;
    const entryAddr = table + ((lin >> shift) & ((1n << indexBits) - 1n)) * BigInt(mode.entryBytes);
    const read = await read64(entryAddr);
    if (read === undefined) return { cr3, levels, end: `unreadable ${name} at 0x${entryAddr.toString(16)}${mode.suffix}` };
    const value = mode.entryBytes === 4 ? BigInt.asUintN(32, read) : read;
    const last = i === mode.levels.length - 1;
    levels.push({ name, entryAddr, value, flags: entryFlags(value, last) });
    if ((value & 1n) === 0n) return { cr3, levels, end: `not present at ${name}${mode.suffix}` };
    if (last || (large !== undefined && (value & PS) !== 0n)) {
      const base = mode.entryBytes === 4 && !last
        ? (value & 0xffc0_0000n) | (((value >> 13n) & 0xffn) << 32n) // PSE-36: bits 20:13 are physical bits 39:32
        : value & (mode.entryBytes === 4 ? 0xffff_f000n : ADDR_MASK) & ~((1n << shift) - 1n);
      return { cr3, levels, phys: base | (lin & ((1n << shift) - 1n)), end: `${large ?? '4 KiB'} page${mode.suffix}` };
    }
    table = value & (mode.entryBytes === 4 ? 0xffff_f000n : ADDR_MASK);
  }
  return { cr3, levels, end: `no leaf${mode.suffix}` };
}
