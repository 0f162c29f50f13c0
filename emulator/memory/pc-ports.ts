import type { PortHandler } from './bus.js';

/**
 * I/O ports as QEMU 7.2's `pc` machine answers them, for the ports a guest can use without a
 * device model behind them. Measured (IN/OUT/INS/OUTS under QEMU's gdb stub):
 * - An access goes whole to the region that holds its first port; a region that implements
 *   byte accesses only sees one byte access per byte, at offsets counted from the region's base
 *   (so they may run past the region's end).
 * - An access misaligned within its region (offset % size ≠ 0) is refused: IN reads 0 and OUT
 *   writes nothing. Ports no device claims form one region based at port 0 and read all-ones.
 * - Port 0x80 (POST/delay) reads 0xff per byte and ignores writes.
 * - CMOS at 0x70/0x71: even offsets are the index (write: index = value & 0x7f; read 0xff),
 *   odd offsets the data byte at the index. Bytes 0x0e–0x7f are plain NVRAM; 0x00–0x0d are the
 *   RTC clock and status registers, which the emulator has no clock for (they read 0 here).
 */

/** Unclaimed ports: one region at 0 that reads all-ones, refusing misaligned accesses. */
export function unassignedPortIn(port: number, size: 1 | 2 | 4): number {
  if (port & (size - 1)) return 0;
  return size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
}

/** A region of byte-wide device registers, dispatched the way QEMU's memory core splits accesses. */
export function byteWideRegion(base: number, read: (offset: number) => number, write: (offset: number, value: number) => void): PortHandler {
  return {
    in(port, size) {
      const offset = port - base;
      if (offset & (size - 1)) return 0;
      let v = 0;
      for (let i = 0; i < size; i++) v |= (read(offset + i) & 0xff) << (8 * i);
      return v >>> 0;
    },
    out(port, size, value) {
      const offset = port - base;
      if (offset & (size - 1)) return;
      for (let i = 0; i < size; i++) write(offset + i, (value >>> (8 * i)) & 0xff);
    },
  };
}

/** CMOS index/data pair with the NVRAM bytes (the RTC registers below 0x0e read 0). */
export class Cmos {
  index = 0;
  readonly bytes = new Uint8Array(128);
  readonly ports: PortHandler = byteWideRegion(
    0x70,
    (offset) => ((offset & 1) === 0 ? 0xff : this.bytes[this.index]!),
    (offset, value) => {
      if ((offset & 1) === 0) this.index = value & 0x7f;
      else if (this.index >= 0x0e) this.bytes[this.index] = value;
    },
  );
}

export const POST_PORT: PortHandler = byteWideRegion(0x80, () => 0xff, () => {});

/** The pc machine's fixed ports, as [first port, count, handler]. */
export function pcPorts(): Array<[number, number, PortHandler]> {
  const cmos = new Cmos();
  return [
    [0x70, 2, cmos.ports],
    [0x80, 1, POST_PORT],
  ];
}
