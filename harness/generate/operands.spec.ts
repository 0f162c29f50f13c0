import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LAYOUT } from '../../contracts/test-machine.js';
import { immediateArbitrary, immediateEdges, signedRange } from './immediates.js';
import { effectiveAddress, memoryOperandArbitrary, resolveMemoryOperand, type AddressingState } from './memory-operand.js';
import { registerArbitrary, registerNeedsRex } from './registers.js';

const window = { start: LAYOUT.data + 0x800n, length: 1024 };

describe('registers', () => {
  it('without REX: only registers 0–7, byte registers 4–7 are AH–BH', () => {
    fc.assert(fc.property(registerArbitrary({ width: 1, noRex: true }), (r) => {
      expect(registerNeedsRex(r)).toBe(false);
      if (r.num >= 4) expect(['ah', 'ch', 'dh', 'bh']).toContain(r.name);
    }));
  });
  it('with REX: byte registers 4–7 are SPL–DIL, never AH–BH; exclusions hold', () => {
    fc.assert(fc.property(registerArbitrary({ width: 1, noRex: false, exclude: [4] }), (r) => {
      expect(r.high).toBe(false);
      expect(r.num).not.toBe(4);
    }));
  });
});

describe('immediates', () => {
  it('stay in range and include the edge values', () => {
    for (const bits of [8, 16, 32, 64] as const) {
      const { min, max } = signedRange(bits);
      const seen = new Set(fc.sample(immediateArbitrary(bits), { seed: 1, numRuns: 2000 }));
      for (const v of seen) expect(v >= min && v <= max).toBe(true);
      for (const edge of [0n, 1n, -1n, min, max]) expect(seen, `${bits}: ${edge}`).toContain(edge);
      expect(immediateEdges(bits)).toContain(min);
    }
  });
});

describe('memory operands', () => {
  it('resolve to an address inside the window, computed from the registers they pin', () => {
    fc.assert(
      fc.property(memoryOperandArbitrary(), fc.boolean(), fc.integer({ min: 1, max: 16 }), fc.constantFrom(0n, 0x1000n, 0x20000n), (choice, noRex, span, base) => {
        const state: AddressingState = { pins: new Map([[4, 0xf800n]]), written: new Set([0, 2]), drifted: new Set(), segmentBases: { fs: base, gs: base / 2n } };
        const r = resolveMemoryOperand(choice, state, { span, noRex, window, absoluteAllowed: true });
        const regs = new Map([...state.pins, ...r.pins]);
        for (const [reg] of r.pins) expect([0, 2]).not.toContain(reg);
        if (noRex) for (const [reg] of r.pins) expect(reg).toBeLessThan(8);
        const m = r.operand;
        const nextIp = LAYOUT.code + 0x20n;
        const op = m.form === 'rip' ? { ...m, disp: m.address - nextIp } : m;
        const ea = effectiveAddress(op, (n) => regs.get(n) ?? 0n, state.segmentBases, nextIp);
        expect(ea).toBe(BigInt.asUintN(64, m.address + (m.segment ? state.segmentBases[m.segment] ?? 0n : 0n)));
        expect(ea >= window.start && ea + BigInt(span) <= window.start + BigInt(window.length)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('reuse a pinned base with an adapted displacement', () => {
    const state: AddressingState = { pins: new Map([[13, LAYOUT.data]]), written: new Set(), drifted: new Set(), segmentBases: { fs: 0n, gs: 0n } };
    const choice = fc.sample(memoryOperandArbitrary(), { seed: 3, numRuns: 1 })[0]!;
    const r = resolveMemoryOperand({ ...choice, form: 'base', base: 13, addressSize: 64, segment: 'none' }, state, { span: 8, noRex: false, window, absoluteAllowed: false });
    expect(r.operand.base).toBe(13);
    expect(r.pins).toEqual([]);
    expect(LAYOUT.data + r.operand.disp).toBe(r.operand.address);
  });
});
