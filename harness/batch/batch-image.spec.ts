import { describe, expect, it } from 'vitest';
import { CASE_FORMAT, decodeCase, type Case } from '../../corpus/case-schema.js';
import { LAYOUT } from '../../target/test-machine.js';
import { asm } from '../asm/assembler.js';
import { batchIneligible, finalUndefinedFlags, qwordAligned } from './batch-image.js';

async function codeCase(text: string): Promise<Case> {
  const code = await asm(text, LAYOUT.code);
  return decodeCase({ format: CASE_FORMAT, id: 't', code: Buffer.from(code).toString('hex'), provenance: { generator: 'hand' } });
}

// RFLAGS bits: CF 0x1, PF 0x4, AF 0x10, ZF 0x40, SF 0x80, OF 0x800
describe('finalUndefinedFlags (Intel SDM flag tables)', () => {
  it('is empty when the last writer of every flag defines it', async () => {
    expect(finalUndefinedFlags(await codeCase('imul eax, ebx\nadd ecx, 0x1'))).toBe(0n);
  });
  it('holds the flags the last writer leaves undefined (IMUL: SF ZF AF PF)', async () => {
    expect(finalUndefinedFlags(await codeCase('add ecx, 0x1\nimul eax, ebx'))).toBe(0x80n | 0x40n | 0x10n | 0x4n);
  });
  it('keeps a flag undefined until some instruction defines it again (INC leaves CF alone)', async () => {
    // BSF: CF OF SF AF PF undefined, ZF defined; INC then defines OF SF ZF AF PF but not CF
    expect(finalUndefinedFlags(await codeCase('bsf eax, ebx\ninc ecx'))).toBe(0x1n);
  });
  it('cannot tell when control flow decides which instruction ran last', async () => {
    expect(finalUndefinedFlags(await codeCase('imul eax, ebx\njz 0x10010\nadd ecx, 0x1'))).toBeUndefined();
  });
});

describe('batch staging', () => {
  it('widens regions to whole qwords, merging neighbours and keeping later bytes', () => {
    const out = qwordAligned([
      { addr: 0x20003n, bytes: new Uint8Array([1, 2, 3]) },
      { addr: 0x2000bn, bytes: new Uint8Array([4]) },
      { addr: 0x20040n, bytes: new Uint8Array(8).fill(9) },
    ]);
    expect(out.map((r) => [r.addr, r.bytes.length])).toEqual([[0x20000n, 16], [0x20040n, 8]]);
    expect([...out[0]!.bytes]).toEqual([0, 0, 0, 1, 2, 3, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0]);
  });
  it('keeps x87 and system instructions out of batches', async () => {
    expect(batchIneligible(await codeCase('add eax, ebx'))).toBeUndefined();
    expect(batchIneligible(await codeCase('fld1'))).toMatch(/fld1/);
    expect(batchIneligible(await codeCase('movaps xmm0, xmm1'))).toMatch(/xmm/);
    expect(batchIneligible(await codeCase('mov cr3, rax'))).toMatch(/cr3/);
    expect(batchIneligible(await codeCase('pop fs'))).toMatch(/pop fs/);
    expect(batchIneligible(await codeCase('mov gs, ax'))).toMatch(/mov gs/);
    // an FS/GS override on a memory operand changes no segment register
    expect(batchIneligible(await codeCase('pop word ptr fs:[rsi + 0x8]'))).toBeUndefined();
    expect(batchIneligible(await codeCase('pop qword ptr gs:[rbx]'))).toBeUndefined();
  });
});
