import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LAYOUT } from '../../contracts/test-machine.js';
import { GPR_BY_ENCODING } from '../../contracts/machine-state.js';
import { MAX_REP_COUNT, registerNumber, type GeneratedInstruction } from './instruction.js';
import { fastProgramArbitrary, type GeneratedProgram } from './program.js';
import type { Family } from './row-catalog.js';

/**
 * The pins that keep generated accesses safe must not keep the cases easy: each semantic behind
 * a pin is reached. One-instruction programs, so every register still holds the initial value
 * the generator chose for that instruction. (program.spec.ts checks, with iced, that the
 * accesses these values make stay inside the compared memory.)
 */
function programs(families: Family[], n: number, seed: number, length: [number, number] = [1, 1]): GeneratedProgram[] {
  return fc.sample(fastProgramArbitrary({ length, families, encoder: 'raw' }), { seed, numRuns: n });
}
const reg = (p: GeneratedProgram, num: number): bigint => p.regs[GPR_BY_ENCODING[num]!];
const only = (p: GeneratedProgram): GeneratedInstruction | undefined => p.instructions[0];
const floorDiv = (a: bigint, b: bigint): bigint => (a >= 0n ? a / b : -((-a + b - 1n) / b));
const page = (a: bigint): bigint => a >> 12n;

describe('generated values reach the semantics behind each pin', () => {
  it('BT/BTS/BTR/BTC m, r: offsets below the operand, inside it, beyond it, far from it, with garbage above 16/32-bit offsets', () => {
    const seen = { below: 0, inside: 0, beyond: 0, far: 0, upperGarbage: 0, total: 0 };
    for (const p of programs(['bit'], 3000, 31)) {
      const g = only(p);
      if (g?.row.handler !== 'bt' || g.operands[0]?.kind !== 'mem' || g.operands[1]?.kind !== 'reg') continue;
      const width = g.opSize * 8;
      const value = reg(p, registerNumber(g.operands[1].reg));
      const k = floorDiv(BigInt.asIntN(width, value), BigInt(width)); // unit index relative to the operand
      seen.total++;
      if (k < 0n) seen.below++;
      else if (k === 0n) seen.inside++;
      else seen.beyond++;
      if ((k < 0n ? -k : k) * BigInt(g.opSize) >= 0x100n) seen.far++;
      if (width < 64 && value >> BigInt(width) !== 0n) seen.upperGarbage++;
    }
    expect(seen.total).toBeGreaterThan(200);
    for (const key of ['below', 'inside', 'beyond', 'far', 'upperGarbage'] as const) expect(seen[key], key).toBeGreaterThan(seen.total / 20);
  });

  it('REP string instructions: counts past 16, up to MAX_REP_COUNT, and runs that cross a page boundary', () => {
    let reps = 0;
    let big = 0;
    let crossing = 0;
    let maxCount = 0n;
    for (const p of programs(['string'], 3000, 32)) {
      const g = only(p);
      if (!g?.prefixes.rep) continue;
      reps++;
      const n = reg(p, 1);
      const size = BigInt(g.row.operands.some((f) => f.size === 1) ? 1 : g.opSize);
      if (n > 16n) big++;
      if (n > maxCount) maxCount = n;
      // either direction (DF is random): [p, p + n*size) or [p - (n-1)*size, p + size)
      const pointers = [6, 7].map((r) => reg(p, r)).filter((v) => v >= LAYOUT.code && v < LAYOUT.unmapped);
      if (n > 0n && pointers.some((v) => page(v) !== page(v + n * size - 1n) || page(v - (n - 1n) * size) !== page(v))) crossing++;
    }
    expect(reps).toBeGreaterThan(500);
    expect(big / reps).toBeGreaterThan(0.3);
    expect(crossing / reps).toBeGreaterThan(0.1);
    expect(maxCount).toBe(BigInt(MAX_REP_COUNT));
  });

  it('CMPXCHG16B: aligned operands all over the window, and misaligned ones (#GP)', () => {
    const offsets = new Set<bigint>();
    let misaligned = 0;
    let total = 0;
    for (const p of programs(['atomic'], 3000, 33)) {
      const g = only(p);
      if (g?.row.handler !== 'cmpxchg8b' || g.opSize !== 8 || g.operands[0]?.kind !== 'mem') continue;
      const m = g.operands[0].mem;
      const a = m.address + (m.segment === 'fs' || m.segment === 'gs' ? p.segmentBases[m.segment] : 0n);
      total++;
      if (a % 16n) misaligned++;
      else offsets.add(a - p.window.start);
    }
    expect(total).toBeGreaterThan(50);
    expect(misaligned).toBeGreaterThan(0);
    expect(misaligned / total).toBeLessThan(0.4);
    expect([...offsets].filter((o) => o > 0n).length).toBeGreaterThan(10);
  });

  it('LEA: addresses from unpinned registers, outside the test machine and wrapping', () => {
    let lea = 0;
    let outside = 0;
    for (const p of programs(['mov'], 3000, 34)) {
      const g = only(p);
      if (g?.row.handler !== 'lea' || g.operands[1]?.kind !== 'mem' || g.operands[1].mem.form === 'rip') continue;
      const m = g.operands[1].mem;
      const mask = m.addressSize === 64 ? (1n << 64n) - 1n : 0xffffffffn;
      let ea = m.disp;
      if (m.base !== undefined) ea += reg(p, m.base) & mask;
      if (m.index !== undefined) ea += (reg(p, m.index) & mask) * BigInt(m.scale);
      lea++;
      if ((ea & mask) >= LAYOUT.unmapped) outside++;
    }
    expect(lea).toBeGreaterThan(50);
    expect(outside / lea).toBeGreaterThan(0.5);
  });

  it('ENTER with nesting level >= 2 reads frames from RBP anywhere in the stack window; LEAVE follows a 64-bit ENTER unpinned', () => {
    const rbpBelowRsp = new Set<bigint>();
    let nested = 0;
    for (const p of programs(['stack'], 3000, 35)) {
      const g = only(p);
      if (g?.row.handler !== 'enter' || g.operands[1]?.kind !== 'imm' || (g.operands[1].value & 31n) < 2n) continue;
      nested++;
      rbpBelowRsp.add(p.regs.rsp - p.regs.rbp);
    }
    expect(nested).toBeGreaterThan(20);
    // was always RSP - 0x80: now from the initial RSP down to deep in the stack window
    const depths = [...rbpBelowRsp];
    expect(depths.length).toBeGreaterThan(nested / 4);
    expect(depths.some((d) => d === 0n) && depths.some((d) => d >= 0x200n)).toBe(true);
    let pairs = 0;
    // ENTER writes RBP, so a LEAVE after it exists only through the frame-pointer rule (was: dropped)
    for (const p of programs(['stack'], 3000, 36, [2, 8])) {
      const i = p.instructions.findIndex((g) => g.row.handler === 'enter' && g.opSize === 8);
      if (i >= 0 && p.instructions.slice(i + 1).some((g) => g.row.handler === 'leave')) pairs++;
    }
    expect(pairs).toBeGreaterThan(10);
  });

  it('index registers hold any 64-bit value (was within ±0x400), index*scale wrapping, the base bringing the sum back to the window', () => {
    const wraps = { 64: 0, 32: 0 };
    let far = 0;
    for (const p of programs(['alu'], 3000, 38)) {
      const g = only(p);
      const o = g?.operands.find((x) => x.kind === 'mem');
      if (o?.kind !== 'mem' || o.mem.base === undefined || o.mem.index === undefined) continue;
      const m = o.mem;
      const mask = m.addressSize === 64 ? (1n << 64n) - 1n : 0xffffffffn;
      const index = reg(p, m.index!) & mask;
      if (index * BigInt(m.scale) > mask && m.addressSize !== 16) wraps[m.addressSize]++;
      if (m.addressSize === 64 && index > 0x10000n && index < mask - 0x10000n) far++;
    }
    expect(far).toBeGreaterThan(50);
    expect(wraps[64]).toBeGreaterThan(30);
    expect(wraps[32]).toBeGreaterThan(10);
  });

  it('RSP: anywhere the stack window fits, pushes crossing page boundaries', () => {
    const rsps = programs(['stack'], 2000, 37).map((p) => p.regs.rsp);
    expect(rsps.every((r) => r >= LAYOUT.stackBase + 0x300n && r <= LAYOUT.stackTop - 0x100n)).toBe(true);
    expect(rsps.filter((r) => r < 0xf400n).length / rsps.length).toBeGreaterThan(0.5);
    // within two pushes of a page boundary
    expect(rsps.filter((r) => r % 0x1000n < 0x10n).length).toBeGreaterThan(20);
  });
});
