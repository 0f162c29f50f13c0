import { existsSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SharedRam } from './shared-ram.js';

describe.runIf(existsSync('/dev/shm'))('SharedRam.reapStale', () => {
  it('removes the RAM files of difftest processes that are gone, and keeps those of live ones', () => {
    // above Linux's largest pid_max (2^22): no process has it
    const stale = `/dev/shm/difftest-ram-4194305-${Date.now().toString(16)}`;
    const live = `/dev/shm/difftest-ram-${process.pid}-${Date.now().toString(16)}`;
    writeFileSync(stale, 'x');
    writeFileSync(live, 'x');
    try {
      expect(SharedRam.reapStale()).toBeGreaterThanOrEqual(1);
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(live)).toBe(true);
    } finally {
      SharedRam.discard(stale);
      SharedRam.discard(live);
    }
  });
});

describe('SharedRam.covers', () => {
  it('leaves the PC legacy hole (0xa0000-0xfffff) and anything past RAM to the gdb stub', () => {
    const file = `/tmp/difftest-ram-spec-${process.pid}`;
    writeFileSync(file, new Uint8Array(2 * 1024 * 1024));
    const ram = SharedRam.open(file, 2);
    try {
      expect(ram.covers(0x9f000n, 0x1000)).toBe(true);
      expect(ram.covers(0x9f800n, 0x1000)).toBe(false);
      expect(ram.covers(0xb8000n, 2)).toBe(false);
      expect(ram.covers(0x100000n, 0x1000)).toBe(true);
      expect(ram.covers(0x1ff000n, 0x1001)).toBe(false);
      ram.write(0x100000n, Uint8Array.of(1, 2, 3));
      expect([...ram.read(0x100000n, 3)]).toEqual([1, 2, 3]);
    } finally {
      ram.close();
    }
  });
});
