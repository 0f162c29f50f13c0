/**
 * Register representation micro-benchmark (issue 4, DESIGN.md "Speed matters").
 *
 * Workload per "instruction": read two 64-bit registers, ADD them, compute CF/ZF/SF/OF,
 * store the result, and do one 8-byte little-endian memory load that feeds the next add —
 * roughly what `add r13, [rip+x]` plus a flag consumer costs in an interpreter.
 *
 * Representations:
 *   bigint   BigUint64Array registers, BigInt arithmetic, DataView.getBigUint64 loads
 *   halves   Uint32Array lo/hi pairs, 32-bit arithmetic with an explicit carry, two 32-bit loads
 *   hybrid   halves for registers, but a BigInt detour for the 64-bit add (what a lazy port does)
 *
 * Measured on this machine (Node 20.20, 2 cores, 5 runs of 2M ops each, medians):
 *   bigint    8.2 M ops/s
 *   halves  127.1 M ops/s   (~15x bigint)
 *   hybrid    5.8 M ops/s   (converting halves <-> BigInt per op is the worst of both)
 * → registers are 32-bit halves in a Uint32Array; BigInt only off the hot path
 *   (MUL/DIV, multi-word shifts), never in ADD/MOV/CMP/Jcc/address generation.
 * (Run `npx tsx bench/emulator-regs.ts` to refresh; the numbers above are from the first run.)
 */

const OPS = 2_000_000;
const RUNS = 5;
const MEM = new Uint8Array(1 << 16);
for (let i = 0; i < MEM.length; i++) MEM[i] = (i * 2654435761) >>> 24;
const view = new DataView(MEM.buffer);

function benchBigint(): number {
  const regs = new BigUint64Array(16);
  regs[13] = 0x1111111111111111n;
  let flags = 0;
  for (let i = 0; i < OPS; i++) {
    const a = regs[13]!;
    const addr = (i * 8) & 0xfff8;
    const b = view.getBigUint64(addr, true);
    const r = BigInt.asUintN(64, a + b);
    const cf = r < a ? 1 : 0;
    const zf = r === 0n ? 0x40 : 0;
    const sf = r >> 63n ? 0x80 : 0;
    const of = ((a ^ r) & (b ^ r)) >> 63n ? 0x800 : 0;
    flags = cf | zf | sf | of;
    regs[13] = r;
  }
  return flags + Number(regs[13]! & 1n);
}

function benchHalves(): number {
  const regs = new Uint32Array(32); // lo at 2n, hi at 2n+1
  regs[26] = 0x11111111;
  regs[27] = 0x11111111;
  let flags = 0;
  for (let i = 0; i < OPS; i++) {
    const alo = regs[26]!;
    const ahi = regs[27]!;
    const addr = (i * 8) & 0xfff8;
    const blo = (MEM[addr]! | (MEM[addr + 1]! << 8) | (MEM[addr + 2]! << 16) | (MEM[addr + 3]! << 24)) >>> 0;
    const bhi = (MEM[addr + 4]! | (MEM[addr + 5]! << 8) | (MEM[addr + 6]! << 16) | (MEM[addr + 7]! << 24)) >>> 0;
    const lo = (alo + blo) >>> 0;
    const c = lo < alo ? 1 : 0;
    const hi = (ahi + bhi + c) >>> 0;
    const cf = hi < ahi || (hi === ahi && c === 1) ? 1 : 0;
    const zf = (lo | hi) === 0 ? 0x40 : 0;
    const sf = hi >>> 31 ? 0x80 : 0;
    const of = ((ahi ^ hi) & (bhi ^ hi)) >>> 31 ? 0x800 : 0;
    flags = cf | zf | sf | of;
    regs[26] = lo;
    regs[27] = hi;
  }
  return flags + (regs[26]! & 1);
}

function benchHybrid(): number {
  const regs = new Uint32Array(32);
  regs[26] = 0x11111111;
  regs[27] = 0x11111111;
  let flags = 0;
  for (let i = 0; i < OPS; i++) {
    const a = (BigInt(regs[27]!) << 32n) | BigInt(regs[26]!);
    const addr = (i * 8) & 0xfff8;
    const b = view.getBigUint64(addr, true);
    const r = BigInt.asUintN(64, a + b);
    const cf = r < a ? 1 : 0;
    const zf = r === 0n ? 0x40 : 0;
    const sf = r >> 63n ? 0x80 : 0;
    flags = cf | zf | sf;
    regs[26] = Number(r & 0xffffffffn);
    regs[27] = Number(r >> 32n);
  }
  return flags + (regs[26]! & 1);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function measure(name: string, fn: () => number): void {
  fn(); // warm up (JIT tiers)
  const rates: number[] = [];
  let sink = 0;
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    sink += fn();
    const ms = performance.now() - t0;
    rates.push(OPS / ms / 1000);
  }
  console.log(`${name.padEnd(8)} ${median(rates).toFixed(1).padStart(7)} M ops/s  (median of ${RUNS}; sink ${sink & 0xff})`);
}

measure('bigint', benchBigint);
measure('halves', benchHalves);
measure('hybrid', benchHybrid);
