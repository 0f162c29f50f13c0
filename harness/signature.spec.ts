import { describe, expect, it } from 'vitest';
import { initialState } from '../contracts/test-machine.js';
import { decodeOne } from './asm/decode.js';
import type { Divergence } from './lockstep.js';
import { divergenceSignature } from './signature.js';

/** A divergence at the instruction `hex` where only memory differs (what the signature reads). */
function memoryDivergence(hex: string): Divergence {
  const s = initialState();
  return {
    index: 0, rip: 0x10000n, instruction: decodeOne(Buffer.from(hex, 'hex'), 0x10000n), before: s, expected: s, actual: s,
    diffs: [], memoryDiffs: [{ addr: 0x20000n, expected: Uint8Array.of(1), actual: Uint8Array.of(2) }],
    expectedStop: { kind: 'step' }, actualStop: { kind: 'step' }, flagMask: 0n,
  };
}

describe('divergenceSignature operand kind', () => {
  it.each([
    ['0fa435f4000100da', 'SHLD r/m32, r32, imm8 rip-rel :: memory'], // [rip+0x100f4]
    ['0fa435fcffffffda', 'SHLD r/m32, r32, imm8 rip-rel :: memory'], // [rip-4]
    ['0fa43500000000da', 'SHLD r/m32, r32, imm8 rip-rel :: memory'], // [rip]: no displacement in the text
    ['670fa435f4000100da', 'SHLD r/m32, r32, imm8 rip-rel :: memory'], // [eip+0x100f4] (0x67)
    ['64670fa43500010000da', 'SHLD r/m32, r32, imm8 rip-rel :: memory'], // [fs:eip+0x100]
    ['640fa435f4000100da', 'SHLD r/m32, r32, imm8 rip-rel :: memory'], // [fs:rip+0x100f4]
    ['0fa4742510da', 'SHLD r/m32, r32, imm8 mem :: memory'], // [rbp+0x10]
    ['0fa43425f4000200da', 'SHLD r/m32, r32, imm8 mem :: memory'], // [0x200f4]: absolute, not RIP-relative
    ['0fa4f0da', 'SHLD r/m32, r32, imm8 reg :: memory'],
  ])('%s → %s', (hex, signature) => {
    expect(divergenceSignature(memoryDivergence(hex))).toBe(signature);
  });
});

describe('divergenceSignature facts about values', () => {
  const base = memoryDivergence('d01b'); // rcr byte [rbx], 1
  it('names an exception both sides raised, and not one neither raised', () => {
    const pf = { vector: 14, errorCode: 3, cr2: 0x100n, rip: 0x10000n };
    expect(divergenceSignature({ ...base, expectedException: pf, actualException: pf })).toBe('RCR r/m8, 1 mem :: memory,exception:14/14');
    expect(divergenceSignature(base)).toBe('RCR r/m8, 1 mem :: memory');
    expect(divergenceSignature({ ...base, actualException: pf })).toBe('RCR r/m8, 1 mem :: memory,exception:-/14');
    // a trap both took after the instruction (TF single-step) is not named
    const db = { vector: 1, rip: 0x10002n };
    expect(divergenceSignature({ ...base, expectedException: db, actualException: db })).toBe('RCR r/m8, 1 mem :: memory');
  });
  it('marks a segment selector the reference loaded as null (RPL bits aside)', () => {
    const lss = memoryDivergence('660fb23b'); // lss di, [rbx]
    const diff = (expected: bigint) => ({ ...lss, diffs: [{ path: 'seg.ss.selector', width: 16, expected, actual: 0x1010n }] });
    expect(divergenceSignature(diff(0x0001n))).toBe('LSS r16, m16:16 mem :: seg.ss.selector=null,memory');
    expect(divergenceSignature(diff(0x0013n))).toBe('LSS r16, m16:16 mem :: seg.ss.selector,memory');
  });
});
