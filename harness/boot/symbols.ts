import { linkAddressOfPhysical, type LoadSegment } from './assets/elf.js';

/**
 * The kernel's symbol table as /proc/kallsyms prints it (`ffffffff8103b210 t __text_poke`), for
 * naming addresses the way the kernel's own backtraces do (`__text_poke+0x192/0x3e0`: offset and
 * size, the size being the distance to the next symbol) and for `--from SYMBOL`.
 */

export interface KernelSymbol {
  readonly addr: bigint;
  /** kallsyms type letter: t/T text, d/D data, b/B bss, r/R read-only, w/W weak, a/A absolute. */
  readonly type: string;
  readonly name: string;
}

export class SymbolTable {
  /** Sorted by address; absolute (A/a) symbols are left out: they are offsets, not addresses. */
  private readonly sorted: KernelSymbol[];
  private readonly byName = new Map<string, KernelSymbol[]>();

  constructor(
    symbols: readonly KernelSymbol[],
    /** The image's load segments: early code runs at physical aliases of its link addresses. */
    private readonly loads: readonly LoadSegment[] = [],
  ) {
    this.sorted = symbols.filter((s) => s.type !== 'A' && s.type !== 'a').sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
    for (const s of symbols) {
      const list = this.byName.get(s.name);
      if (list) list.push(s);
      else this.byName.set(s.name, [s]);
    }
  }

  get size(): number {
    return this.sorted.length;
  }

  /** Every symbol with this name (static functions may share one). */
  lookup(name: string): readonly KernelSymbol[] {
    return this.byName.get(name) ?? [];
  }

  /** The symbol containing `addr` and the offset into it, or undefined outside the table. */
  locate(addr: bigint): { symbol: KernelSymbol; offset: bigint; size: bigint | undefined; alias: boolean } | undefined {
    let a = addr;
    let alias = false;
    if (a < 0xffff800000000000n) {
      const link = linkAddressOfPhysical(this.loads, a);
      if (link === undefined) return undefined;
      a = link;
      alias = true;
    }
    const s = this.sorted;
    let lo = 0;
    let hi = s.length - 1;
    if (hi < 0 || a < s[0]!.addr) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid]!.addr <= a) lo = mid;
      else hi = mid - 1;
    }
    // Several symbols may share an address: take the first text one (a function over its alias labels).
    let first = lo;
    while (first > 0 && s[first - 1]!.addr === s[lo]!.addr) first--;
    let pick = first;
    for (let i = first; i <= lo; i++) if (/[tT]/.test(s[i]!.type)) {
      pick = i;
      break;
    }
    let next = lo + 1;
    while (next < s.length && s[next]!.addr === s[lo]!.addr) next++;
    const symbol = s[pick]!;
    const size = next < s.length ? s[next]!.addr - symbol.addr : undefined;
    return { symbol, offset: a - symbol.addr, size, alias };
  }

  /** `__text_poke+0x192/0x3e0`, with ` (phys alias)` for a physical alias; hex address when unknown. */
  symbolize(addr: bigint): string {
    const l = this.locate(addr);
    if (!l) return `0x${addr.toString(16)}`;
    const size = l.size !== undefined ? `/0x${l.size.toString(16)}` : '';
    return `${l.symbol.name}+0x${l.offset.toString(16)}${size}${l.alias ? ' (phys alias)' : ''}`;
  }

  /** Just the function name (progress lines). */
  functionName(addr: bigint): string | undefined {
    return this.locate(addr)?.symbol.name;
  }
}

/** An empty table: runs without symbols name addresses in hex, and say so. */
export const NO_SYMBOLS = new SymbolTable([]);

/** Parse /proc/kallsyms text; lines that are not symbols (console noise) are skipped. */
export function parseKallsyms(text: string): KernelSymbol[] {
  const out: KernelSymbol[] = [];
  const re = /^([0-9a-f]{16}) ([a-zA-Z]) (\S+)/gm;
  for (const m of text.matchAll(re)) out.push({ addr: BigInt(`0x${m[1]}`), type: m[2]!, name: m[3]! });
  return out;
}
