import { UsageError } from '../../util/errors.js';
import { physicalAliasOf, type LoadSegment } from './assets/elf.js';
import type { SymbolTable } from './symbols.js';

/**
 * Where a boot lockstep starts (`--from`) or stops (`--until`): the PVH entry, a kernel symbol
 * (optionally +offset), a hex address, or a count of instructions. A code address is watched at its
 * link-time address and at its physical alias: under PVH the kernel's first code (pvh_start_xen,
 * startup_64, __startup_64) runs at the physical addresses it was loaded at, before it jumps to
 * the kernel mapping.
 */
export type BootPoint =
  | { readonly kind: 'address'; readonly label: string; readonly addresses: readonly bigint[] }
  | { readonly kind: 'icount'; readonly label: string; readonly icount: number }
  | { readonly kind: 'boot-ok'; readonly label: string };

function addressesOf(addr: bigint, loads: readonly LoadSegment[]): bigint[] {
  const alias = physicalAliasOf(loads, addr);
  return alias === undefined ? [addr] : [addr, alias];
}

export interface PointContext {
  readonly symbols: SymbolTable;
  readonly loads: readonly LoadSegment[];
  readonly pvhEntry: bigint;
  /** For messages: why there are no symbols, when there are none. */
  readonly symbolsNote?: string;
}

/**
 * Parse a --from/--until value. `option` names the flag in messages; `allowBootOk` for --until.
 */
export function parseBootPoint(text: string, option: '--from' | '--until', ctx: PointContext): BootPoint {
  const v = text.trim();
  if (v === 'entry') return { kind: 'address', label: `entry (PVH entry 0x${ctx.pvhEntry.toString(16)})`, addresses: [ctx.pvhEntry] };
  if (v === 'boot-ok') {
    if (option === '--from') throw new UsageError("--from boot-ok is not a start point; use it with --until");
    return { kind: 'boot-ok', label: 'BOOT-OK on the serial console' };
  }
  if (/^\d[\d_]*$/.test(v)) {
    const n = Number(v.replace(/_/g, ''));
    if (!Number.isSafeInteger(n)) throw new UsageError(`${option} ${v} is not a usable instruction count`);
    return { kind: 'icount', label: `instruction ${n.toLocaleString('en-US')}`, icount: n };
  }
  if (/^0x[0-9a-f]+$/i.test(v)) {
    const a = BigInt(v);
    return { kind: 'address', label: `${v} (${ctx.symbols.symbolize(a)})`, addresses: addressesOf(a, ctx.loads) };
  }
  const m = /^([A-Za-z_.$][\w.$]*)(?:\+(0x[0-9a-f]+|\d+))?$/i.exec(v);
  if (!m) {
    throw new UsageError(`${option} '${v}' is not entry, a symbol (start_kernel, __text_poke+0x192), an address (0xffffffff81000000) or an instruction count`);
  }
  const [, name, off] = m;
  const found = ctx.symbols.lookup(name!);
  if (found.length === 0) {
    const why = ctx.symbols.size === 0 ? ` (${ctx.symbolsNote ?? 'no symbol table'}; pass an address instead)` : '; check the spelling (names are those of /proc/kallsyms)';
    throw new UsageError(`${option} ${name}: no such kernel symbol${why}`);
  }
  const code = found.filter((s) => /[tTwW]/.test(s.type));
  const candidates = code.length ? code : found;
  if (candidates.length > 1) {
    const list = candidates.slice(0, 4).map((s) => `0x${s.addr.toString(16)}`).join(', ');
    throw new UsageError(`${option} ${name} names ${candidates.length} symbols (${list}); pass the address of the one you mean`);
  }
  const addr = candidates[0]!.addr + (off ? BigInt(off) : 0n);
  return { kind: 'address', label: v, addresses: addressesOf(addr, ctx.loads) };
}
