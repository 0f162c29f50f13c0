import { pcPorts, unassignedPortIn } from './pc-ports.js';

/** A device window in physical address space. Values are at most 32 bits per access, but see write64. */
export interface MmioHandler {
  read(offset: number, size: 1 | 2 | 4): number;
  write(offset: number, size: 1 | 2 | 4, value: number): void;
  /**
   * Optional: a 64-bit store as the one access it is (QEMU hands an 8-byte MOV to a device as
   * one write when the device takes 8-byte accesses, as the HPET does); without it the store
   * reaches the device as two 4-byte writes.
   */
  write64?(offset: number, lo: number, hi: number): void;
}

export interface PortHandler {
  in(port: number, size: 1 | 2 | 4): number;
  out(port: number, size: 1 | 2 | 4, value: number): void;
}

interface MmioRegion {
  readonly base: number;
  readonly end: number;
  readonly handler: MmioHandler;
}

/**
 * Physical address space: flat RAM from 0, MMIO windows on top, I/O ports beside.
 * Reads outside RAM and any window return all-ones (open bus); writes there are dropped.
 * The port space starts with the pc machine's fixed ports (pc-ports.ts); unclaimed ports
 * answer as QEMU's do (all-ones, or 0 for a misaligned access).
 * Physical addresses are plain numbers (at most 52 bits, exact in a double).
 */
export class Bus {
  readonly ram: Uint8Array;
  readonly view: DataView;
  private readonly mmio: MmioRegion[] = [];
  private readonly ports = new Map<number, PortHandler>();
  /** Called with the physical page number of every RAM write (decode-cache invalidation). */
  onCodeWrite: ((page: number) => void) | undefined;
  /** Pages that hold decoded instructions; only writes to these call onCodeWrite. */
  readonly codePages: Uint8Array;

  constructor(ramBytes: number) {
    this.ram = new Uint8Array(ramBytes);
    this.view = new DataView(this.ram.buffer);
    this.codePages = new Uint8Array(Math.ceil(ramBytes / 4096));
    for (const [first, count, handler] of pcPorts()) this.addPorts(first, count, handler);
  }

  get ramSize(): number {
    return this.ram.length;
  }

  addMmio(base: number, size: number, handler: MmioHandler): void {
    this.mmio.push({ base, end: base + size, handler });
  }

  addPorts(first: number, count: number, handler: PortHandler): void {
    for (let p = first; p < first + count; p++) this.ports.set(p, handler);
  }

  private findMmio(addr: number): MmioRegion | undefined {
    for (const r of this.mmio) if (addr >= r.base && addr < r.end) return r;
    return undefined;
  }

  /** [addr, addr+size) is RAM that no MMIO window overlaps (Cpu's write/read caches go straight to `ram`). */
  isPlainRam(addr: number, size: number): boolean {
    if (addr < 0 || addr + size > this.ram.length) return false;
    for (const r of this.mmio) if (r.base < addr + size && addr < r.end) return false;
    return true;
  }

  /** RAM fast path applies when the whole access is in RAM and no window covers it. */
  private inRam(addr: number, size: number): boolean {
    return addr + size <= this.ram.length && (this.mmio.length === 0 || this.findMmio(addr) === undefined);
  }

  read8(addr: number): number {
    if (this.inRam(addr, 1)) return this.ram[addr]!;
    return this.slowRead(addr, 1);
  }
  read16(addr: number): number {
    if (this.inRam(addr, 2)) return this.view.getUint16(addr, true);
    return this.slowRead(addr, 2);
  }
  read32(addr: number): number {
    if (this.inRam(addr, 4)) return this.view.getUint32(addr, true);
    return this.slowRead(addr, 4);
  }

  write8(addr: number, v: number): void {
    if (this.inRam(addr, 1)) {
      this.ram[addr] = v;
      if (this.codePages[addr >>> 12]) this.onCodeWrite?.(addr >>> 12);
    } else this.slowWrite(addr, 1, v);
  }
  write16(addr: number, v: number): void {
    if (this.inRam(addr, 2)) {
      this.view.setUint16(addr, v, true);
      if (this.codePages[addr >>> 12]) this.onCodeWrite?.(addr >>> 12);
    } else this.slowWrite(addr, 2, v);
  }
  write32(addr: number, v: number): void {
    if (this.inRam(addr, 4)) {
      this.view.setUint32(addr, v, true);
      if (this.codePages[addr >>> 12]) this.onCodeWrite?.(addr >>> 12);
    } else this.slowWrite(addr, 4, v);
  }

  /** A 64-bit store to a physical address that is not plain RAM (RAM takes the CPU's fast path). */
  write64(addr: number, lo: number, hi: number): void {
    const r = this.inRam(addr, 8) ? undefined : this.findMmio(addr);
    if (r?.handler.write64 && addr + 8 <= r.end) {
      r.handler.write64(addr - r.base, lo >>> 0, hi >>> 0);
      return;
    }
    this.write32(addr, lo >>> 0);
    this.write32(addr + 4, hi >>> 0);
  }

  private slowRead(addr: number, size: 1 | 2 | 4): number {
    const r = this.findMmio(addr);
    if (r) return r.handler.read(addr - r.base, size) >>> 0;
    let v = 0;
    for (let i = 0; i < size; i++) {
      const a = addr + i;
      v |= (a < this.ram.length ? this.ram[a]! : 0xff) << (8 * i);
    }
    return v >>> 0;
  }

  private slowWrite(addr: number, size: 1 | 2 | 4, v: number): void {
    const r = this.findMmio(addr);
    if (r) {
      r.handler.write(addr - r.base, size, v);
      return;
    }
    for (let i = 0; i < size; i++) {
      const a = addr + i;
      if (a < this.ram.length) {
        this.ram[a] = v >>> (8 * i);
        if (this.codePages[a >>> 12]) this.onCodeWrite?.(a >>> 12);
      }
    }
  }

  /** Side-effect-free read for the harness: RAM bytes, MMIO windows and holes read as 0xff. */
  peek(addr: number, length: number): Uint8Array {
    const out = new Uint8Array(length).fill(0xff);
    for (let i = 0; i < length; i++) {
      const a = addr + i;
      if (a < this.ram.length && (this.mmio.length === 0 || !this.findMmio(a))) out[i] = this.ram[a]!;
    }
    return out;
  }

  /** Load bytes into RAM (reset, harness writes). Invalidates decoded code it overwrites. */
  load(addr: number, bytes: Uint8Array): void {
    if (addr < 0 || addr + bytes.length > this.ram.length) {
      throw new RangeError(`physical range 0x${addr.toString(16)}+${bytes.length} is outside RAM (${this.ram.length} bytes)`);
    }
    this.ram.set(bytes, addr);
    for (let p = addr >>> 12; p <= (addr + bytes.length - 1) >>> 12; p++) if (this.codePages[p]) this.onCodeWrite?.(p);
  }

  /** The whole access goes to the handler of its first port (as in QEMU's memory core). */
  portIn(port: number, size: 1 | 2 | 4): number {
    const h = this.ports.get(port);
    return h ? h.in(port, size) >>> 0 : unassignedPortIn(port, size);
  }

  portOut(port: number, size: 1 | 2 | 4, value: number): void {
    this.ports.get(port)?.out(port, size, value);
  }
}
