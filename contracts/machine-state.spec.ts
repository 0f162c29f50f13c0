import { describe, expect, it } from 'vitest';
import { GPR_BY_ENCODING, GPR_NAMES, gprsByEncoding } from './machine-state.js';

describe('gprsByEncoding', () => {
  it('names register n as GPR_BY_ENCODING does, in that order (case files keep it)', () => {
    const regs = gprsByEncoding((n) => n);
    expect(Object.keys(regs)).toEqual(GPR_BY_ENCODING);
    GPR_BY_ENCODING.forEach((name, n) => expect(regs[name]).toBe(n));
    expect([...Object.keys(regs)].sort()).toEqual([...GPR_NAMES].sort());
  });
});
