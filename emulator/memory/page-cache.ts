import type { Bus } from './bus.js';
import type { Access, Mmu } from './mmu.js';

/**
 * One-page translation cache for one kind of data access (Cpu keeps one for reads and one for
 * writes): the linear page last translated, its physical page, and whether that page is plain
 * RAM (inside RAM, no MMIO window: accesses may go straight to Bus.ram).
 *
 * Valid while the MMU generation (bumped on every TLB flush, INVLPG, TLB eviction, mode or CPL
 * change) and the user/supervisor kind of access are as they were when it was filled: then the
 * TLB holds the same entry and would hit with the same result and no accessed/dirty bit left to
 * set (the fill went through Mmu.translate for this access), so skipping it changes nothing.
 */
export class PageCache {
  private lin = NaN;
  private phys = 0;
  private gen = -1;
  private user = false;
  /** The cached page is plain RAM (meaningful right after translate()). */
  ram = false;

  constructor(
    private readonly mmu: Mmu,
    private readonly bus: Bus,
    private readonly access: Access,
  ) {}

  /** Physical address of `lin` (the caller keeps the access within one page); faults as Mmu.translate. */
  translate(lin: number, user: boolean): number {
    const o = lin - this.lin;
    if (o >= 0 && o < 4096 && this.gen === this.mmu.generation && this.user === user) return this.phys + o;
    const p = this.mmu.translate(lin, this.access, user);
    const off = lin & 0xfff;
    this.lin = lin - off;
    this.phys = p - off;
    this.gen = this.mmu.generation;
    this.user = user;
    this.ram = this.bus.isPlainRam(p - off, 4096);
    return p;
  }
}
