import type { ExecutionTarget } from '../../contracts/execution-target.js';
import type { MemoryRegion } from '../../contracts/machine-state.js';

/** Addresses closer than this are read in one request (a gdb round trip costs more than the bytes between). */
const READ_GAP = 32;

/** Sorted distinct addresses as ranges [addr, addr + length), joining ranges less than `gap` apart. */
export function addressRanges(addresses: Iterable<number>, gap = 1): Array<{ addr: number; length: number }> {
  const sorted = [...new Set(addresses)].sort((a, b) => a - b);
  const out: Array<{ addr: number; length: number }> = [];
  for (const a of sorted) {
    const last = out[out.length - 1];
    if (last && a - (last.addr + last.length) < gap) last.length = a - last.addr + 1;
    else out.push({ addr: a, length: 1 });
  }
  return out;
}

/** The bytes at `addresses` (physical), read in as few requests as is reasonable. */
export async function readBytes(target: ExecutionTarget, addresses: Iterable<number>): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  const wanted = new Set(addresses);
  for (const r of addressRanges(wanted, READ_GAP)) {
    const bytes = await target.readMemory(BigInt(r.addr), r.length, 'phys');
    bytes.forEach((b, i) => wanted.has(r.addr + i) && out.set(r.addr + i, b));
  }
  return out;
}

/** [address, byte] pairs as memory regions to write (contiguous bytes in one region). */
export function ramRegions(ram: ReadonlyArray<readonly [number, number]>): MemoryRegion[] {
  const value = new Map(ram.map(([a, b]) => [a, b]));
  return addressRanges(value.keys()).map((r) => ({
    addr: BigInt(r.addr),
    bytes: Uint8Array.from({ length: r.length }, (_, i) => value.get(r.addr + i)!),
  }));
}
