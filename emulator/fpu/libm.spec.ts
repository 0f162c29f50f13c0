import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { libm } from './libm.js';

/**
 * testdata/host-libm.json holds glibc's sin/cos/tan of 400 doubles spread over every binary
 * exponent from subnormals to 2^63 (testdata/host-libm.c): the values QEMU 7.2 puts into ST(0)
 * for FSIN/FCOS/FPTAN. The fixed-point implementation must agree on every bit.
 */
type Case = [x: string, sin: string, cos: string, tan: string];
const cases: Case[] = JSON.parse(readFileSync(new URL('../testdata/host-libm.json', import.meta.url), 'utf8'));

function double(hex: string): number {
  const v = new DataView(new ArrayBuffer(8));
  v.setBigUint64(0, BigInt(`0x${hex}`));
  return v.getFloat64(0);
}

describe('libm (sin, cos, tan) against the host glibc', () => {
  it(`agrees on all ${cases.length} arguments`, () => {
    const bad: string[] = [];
    for (const [x, ...want] of cases) {
      const d = double(x);
      (['sin', 'cos', 'tan'] as const).forEach((fn, i) => {
        const got = libm(fn, d).toString(16).padStart(16, '0');
        if (got !== want[i]) bad.push(`${fn}(${d} = 0x${x}): glibc ${want[i]}, here ${got}`);
      });
    }
    expect(cases.length).toBe(400);
    expect(bad).toEqual([]);
  });

  it('differs from V8 Math.sin somewhere (so it is not a copy of it)', () => {
    const v = new DataView(new ArrayBuffer(8));
    v.setFloat64(0, Math.sin(2.5));
    expect(libm('sin', 2.5)).not.toBe(v.getBigUint64(0));
  });
});
