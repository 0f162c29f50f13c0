import { describe, expect, it } from 'vitest';
import { walkPage } from './page-walk.js';

// Tables laid out by hand after the SDM (vol. 3A, 4.5: 9 index bits per level from bit 39 down,
// entries 8 bytes, address in bits 51..12, PS at bit 7 in a PDPTE/PDE maps a 1 GiB/2 MiB page).
const LIN = 0xffffffff81234567n; // PML4 0x1ff, PDPT 0x1fe, PD 0x009, PT 0x034, offset 0x567
/** CR4.PAE, as IA-32e paging requires it (and EFER.LMA; a walk without EFER takes CR4.PAE for IA-32e paging). */
const PAE = 0x20n;
const LMA = 0x500n;

function memory(entries: Record<number, bigint>) {
  return async (phys: bigint) => entries[Number(phys)] ?? 0n;
}

describe('walkPage', () => {
  it('walks four levels to a 4 KiB page, with each entry, its flags and the physical address', async () => {
    const w = await walkPage(LIN, 0x1000n, PAE, memory({ 0x1ff8: 0x2023n, 0x2ff0: 0x3003n, 0x3048: 0x4063n, 0x41a0: 0x8000000000abc163n }));
    expect(w.levels.map((l) => [l.name, l.entryAddr, l.value, l.flags])).toEqual([
      ['PML4E', 0x1ff8n, 0x2023n, 'P RW A'],
      ['PDPTE', 0x2ff0n, 0x3003n, 'P RW'],
      ['PDE', 0x3048n, 0x4063n, 'P RW A D'],
      ['PTE', 0x41a0n, 0x8000000000abc163n, 'P RW A D G NX'],
    ]);
    expect(w.phys).toBe(0xabc567n);
    expect(w.end).toBe('4 KiB page');
  });

  it('stops at a 2 MiB page (PS in the PDE) and at an entry not present', async () => {
    const big = await walkPage(LIN, 0x1000n, PAE, memory({ 0x1ff8: 0x2023n, 0x2ff0: 0x3003n, 0x3048: 0x1e000e3n }));
    expect(big.levels.map((l) => l.name)).toEqual(['PML4E', 'PDPTE', 'PDE']);
    expect(big.levels[2]!.flags).toBe('P RW A D PS');
    expect(big.phys).toBe(0x1e34567n);
    expect(big.end).toBe('2 MiB page');
    const absent = await walkPage(LIN, 0x1000n, PAE, memory({ 0x1ff8: 0x2023n, 0x2ff0: 0x3003n }));
    expect(absent.levels).toHaveLength(3);
    expect(absent.phys).toBeUndefined();
    expect(absent.end).toBe('not present at PDE');
  });

  it('refuses a non-canonical address and uses five levels with CR4.LA57', async () => {
    expect((await walkPage(0x0000800000000000n, 0x1000n, PAE, memory({}), LMA)).end).toBe('non-canonical');
    const w = await walkPage(0x1000n, 0x1000n, PAE | (1n << 12n), memory({ 0x1000: 0x2001n, 0x2000: 0x3001n, 0x3000: 0x4001n, 0x4000: 0x5001n, 0x5008: 0x9001n }));
    expect(w.levels.map((l) => l.name)).toEqual(['PML5E', 'PML4E', 'PDPTE', 'PDE', 'PTE']);
    expect(w.phys).toBe(0x9000n);
  });

  // SDM vol. 3A 4.3: 32-bit paging (CR4.PAE = 0) has 4-byte entries, directory index bits 31:22,
  // table index 21:12, and 4 MiB pages with CR4.PSE (PSE-36: PDE bits 20:13 are physical 39:32).
  it('walks 32-bit paging (CR4.PAE = 0): 4-byte entries, 4 KiB and, with CR4.PSE, 4 MiB pages, and says so', async () => {
    // the reader returns 8 bytes: the entry's neighbour fills the high half, which a 4-byte walk ignores
    const mem = memory({ 0x1c10: 0xdead_0000_0000_2027n, 0x2228: 0x5555_0000_0009_a065n });
    const w = await walkPage(0xc108a123n, 0x1000n, 0n, mem);
    expect(w.levels.map((l) => [l.name, l.entryAddr, l.value, l.flags])).toEqual([
      ['PDE', 0x1c10n, 0x2027n, 'P RW US A'],
      ['PTE', 0x2228n, 0x9a065n, 'P US A D'],
    ]);
    expect(w.phys).toBe(0x9a123n);
    expect(w.end).toBe('4 KiB page (32-bit paging)');
    const big = await walkPage(0x00c12345n, 0x1000n, 0x10n, memory({ 0x100c: 0x00c0_0000n | (0x3n << 13n) | 0xe3n }));
    expect(big.phys).toBe(0x3_00c1_2345n);
    expect(big.end).toBe('4 MiB page (32-bit paging)');
    // without CR4.PSE the PS bit is ignored: the PDE names a page table
    expect((await walkPage(0x00c12345n, 0x1000n, 0n, memory({ 0x100c: 0x00c0_00e3n }))).end).toBe('not present at PTE (32-bit paging)');
  });

  // SDM vol. 3A 4.4: PAE paging (CR4.PAE = 1, EFER.LMA = 0): four PDPTEs at CR3 bits 31:5, index bits 31:30.
  it('walks PAE paging when EFER.LMA is clear: a 32-byte aligned PDPT, 2 MiB pages', async () => {
    const mem = memory({ 0x1038: 0x2001n, 0x2ff8: 0x3067n, 0x3ff0: 0x8000_0000_0009_a063n, 0x2fe8: 0x00a0_00e3n });
    const w = await walkPage(0xffffe123n, 0x1020n, PAE, mem, 0n);
    expect(w.levels.map((l) => [l.name, l.entryAddr])).toEqual([['PDPTE', 0x1038n], ['PDE', 0x2ff8n], ['PTE', 0x3ff0n]]);
    expect(w.phys).toBe(0x9a123n);
    expect(w.end).toBe('4 KiB page (PAE paging)');
    const big = await walkPage(0xffb12345n, 0x1020n, PAE, mem, 0n);
    expect([big.phys, big.end]).toEqual([0xb12345n, '2 MiB page (PAE paging)']);
  });
});
