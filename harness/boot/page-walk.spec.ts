import { describe, expect, it } from 'vitest';
import { walkPage } from './page-walk.js';

// Tables laid out by hand after the SDM (vol. 3A, 4.5: 9 index bits per level from bit 39 down,
// entries 8 bytes, address in bits 51..12, PS at bit 7 in a PDPTE/PDE maps a 1 GiB/2 MiB page).
const LIN = 0xffffffff81234567n; // PML4 0x1ff, PDPT 0x1fe, PD 0x009, PT 0x034, offset 0x567

function memory(entries: Record<number, bigint>) {
  return async (phys: bigint) => entries[Number(phys)] ?? 0n;
}

describe('walkPage', () => {
  it('walks four levels to a 4 KiB page, with each entry, its flags and the physical address', async () => {
    const w = await walkPage(LIN, 0x1000n, 0n, memory({ 0x1ff8: 0x2023n, 0x2ff0: 0x3003n, 0x3048: 0x4063n, 0x41a0: 0x8000000000abc163n }));
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
    const big = await walkPage(LIN, 0x1000n, 0n, memory({ 0x1ff8: 0x2023n, 0x2ff0: 0x3003n, 0x3048: 0x1e000e3n }));
    expect(big.levels.map((l) => l.name)).toEqual(['PML4E', 'PDPTE', 'PDE']);
    expect(big.levels[2]!.flags).toBe('P RW A D PS');
    expect(big.phys).toBe(0x1e34567n);
    expect(big.end).toBe('2 MiB page');
    const absent = await walkPage(LIN, 0x1000n, 0n, memory({ 0x1ff8: 0x2023n, 0x2ff0: 0x3003n }));
    expect(absent.levels).toHaveLength(3);
    expect(absent.phys).toBeUndefined();
    expect(absent.end).toBe('not present at PDE');
  });

  it('refuses a non-canonical address and uses five levels with CR4.LA57', async () => {
    expect((await walkPage(0x0000800000000000n, 0x1000n, 0n, memory({}))).end).toBe('non-canonical');
    const w = await walkPage(0x1000n, 0x1000n, 1n << 12n, memory({ 0x1000: 0x2001n, 0x2000: 0x3001n, 0x3000: 0x4001n, 0x4000: 0x5001n, 0x5008: 0x9001n }));
    expect(w.levels.map((l) => l.name)).toEqual(['PML5E', 'PML4E', 'PDPTE', 'PDE', 'PTE']);
    expect(w.phys).toBe(0x9000n);
  });
});
