/**
 * A 4-level (or, with CR4.LA57, 5-level) IA-32e page walk read out of physical memory, as the
 * report shows it for every address a mismatch involves: each entry's physical address, value
 * and flags (SDM vol. 3A, 4.5, tables 4-14 to 4-20). It is computed here from the raw entries on
 * each side (QEMU's memory over its gdb stub, the emulator's RAM), not asked of either MMU, so
 * the two walks can be set side by side and a difference in any entry shows.
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
const CR4_LA57 = 1n << 12n;
const PS = 1n << 7n;

export function entryFlags(v: bigint, leaf: boolean): string {
  // bit 7 is PS above the PTE and PAT in it; G means something only in a leaf
  return FLAG_BITS.filter(([name, bit]) => (v & bit) !== 0n && !(name === 'PS' && leaf) && !(name === 'G' && !leaf && (v & PS) === 0n)).map(([n]) => n).join(' ') || '-';
}

export async function walkPage(lin: bigint, cr3: bigint, cr4: bigint, read64: (phys: bigint) => Promise<bigint | undefined>): Promise<PageWalk> {
  const five = (cr4 & CR4_LA57) !== 0n;
  const names = five ? ['PML5E', 'PML4E', 'PDPTE', 'PDE', 'PTE'] : ['PML4E', 'PDPTE', 'PDE', 'PTE'];
  const topShift = five ? 48n : 39n;
  const bits = five ? 57n : 48n;
  const signed = BigInt.asIntN(Number(bits), lin);
  if (BigInt.asUintN(64, signed) !== BigInt.asUintN(64, lin)) return { cr3, levels: [], end: 'non-canonical' };
  const levels: WalkLevel[] = [];
  let table = cr3 & ADDR_MASK;
  for (let i = 0; i < names.length; i++) {
    const shift = topShift - 9n * BigInt(i);
    const entryAddr = table + ((lin >> shift) & 0x1ffn) * 8n;
    const value = await read64(entryAddr);
    const name = names[i]!;
    if (value === undefined) return { cr3, levels, end: `unreadable ${name} at 0x${entryAddr.toString(16)}` };
    const leaf = i === names.length - 1 || ((value & PS) !== 0n && (name === 'PDPTE' || name === 'PDE'));
    levels.push({ name, entryAddr, value, flags: entryFlags(value, i === names.length - 1) });
    if ((value & 1n) === 0n) return { cr3, levels, end: `not present at ${name}` };
    if (leaf) {
      const offsetBits = shift;
      const base = value & ADDR_MASK & ~((1n << offsetBits) - 1n);
      const size = offsetBits === 12n ? '4 KiB' : offsetBits === 21n ? '2 MiB' : '1 GiB';
      return { cr3, levels, phys: base | (lin & ((1n << offsetBits) - 1n)), end: `${size} page` };
    }
    table = value & ADDR_MASK;
  }
  return { cr3, levels, end: 'no leaf' };
}
