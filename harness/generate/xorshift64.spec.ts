import { describe, expect, it } from 'vitest';
import { xorshift64Next, xorshift64NextBig } from './xorshift64.js';

// The 32-bit-halves step (generator and batch staging) against the plain 64-bit definition
// x ^= x << 13; x ^= x >> 7; x ^= x << 17 (mod 2^64), which the batch runner's guest loop spells.
describe('xorshift64Next', () => {
  it('follows the 64-bit definition step by step, carries across the halves included', () => {
    for (const start of [1n, 0x9abcdef012345679n, 0x8000000000000000n, 0x00000000ffffffffn, 0xffffffff00000000n]) {
      const s = Uint32Array.of(Number(start & 0xffffffffn), Number(start >> 32n));
      let x = start;
      for (let i = 0; i < 5000; i++) {
        xorshift64Next(s);
        x = xorshift64NextBig(x);
        expect((BigInt(s[1]!) << 32n) | BigInt(s[0]!)).toBe(x);
      }
    }
  });
  it('matches a hand-checked first step', () => {
    // 1: x<<13 = 0x2000 → 0x2001; >>7 = 0x40 → 0x2041; <<17 = 0x40820000 → 0x40822041
    expect(xorshift64NextBig(1n)).toBe(0x40822041n);
  });
});
