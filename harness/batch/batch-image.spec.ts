import { describe, expect, it } from 'vitest';
import { CASE_FORMAT, decodeCase, type Case } from '../../corpus/case-schema.js';
import { LAYOUT } from '../../contracts/test-machine.js';
import { asm } from '../asm/assembler.js';
import fc from 'fast-check';
import { decodeAll } from '../asm/decode.js';
import { batchClassByText, batchIneligible, caseImage, finalUndefinedFlags, qwordAligned } from './batch-image.js';

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

describe('batch classes from iced operands (no formatting)', () => {
  const bytesCase = (code: Uint8Array): Case => decodeCase({ format: CASE_FORMAT, id: 'r', code: Buffer.from(code).toString('hex'), provenance: { generator: 'hand' } });

  it('refuses what the text test refuses and marks simd what it marks, on random bytes, and segment loads its text hides behind a prefix', () => {
    // opcode bytes biased to x87 (D8–DF), 0F (SSE/MMX, MOV CRn/DRn, POP FS/GS), segment POP/MOV (07 17 1F 8C 8E)
    const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x0f, 0xd8, 0xd9, 0xdb, 0xdd, 0xdf, 0x07, 0x17, 0x1f, 0x8c, 0x8e, 0x20, 0x22, 0x21, 0x23, 0xa1, 0xa9, 0x66, 0xf3, 0x41));
    let refused = 0;
    let simd = 0;
    fc.assert(
      fc.property(fc.array(byte, { minLength: 1, maxLength: 24 }), (bytes) => {
        for (const ins of decodeAll(Uint8Array.from(bytes), LAYOUT.code)) {
          const byText = batchClassByText(ins);
          const want = byText === 'outside';
          const c = bytesCase(ins.bytes);
          const got = batchIneligible(c) !== undefined;
          if (want) refused++;
          // the text test missed segment loads formatted with a prefix first ('o64 mov fs, [rcx]')
          if (got && !want) expect(ins.text).toMatch(/^(\w+ )+(mov|pop) [defgs]s\b/);
          else expect(got, ins.text).toBe(want);
          if (!got && ins.mnemonic !== 'invalid') {
            if (byText === 'simd') simd++;
            expect(caseImage(c, 0x100000n).simd, ins.text).toBe(byText === 'simd');
          }
        }
      }),
      { numRuns: 4000, seed: 77 },
    );
    expect(refused).toBeGreaterThan(200); // the biased bytes reach the refused kinds often
    expect(simd).toBeGreaterThan(500);
  });

  it('refuses loads of segment, control and debug registers, and not their look-alikes; x87, MMX and SSE go in simd batches', async () => {
    for (const text of ['mov ds, ax', 'pop fs', 'mov cr0, rax', 'mov rax, dr7', 'xsetbv']) {
      expect(batchIneligible(await codeCase(text)), text).toMatch(/changes state the batch record does not hold/);
    }
    for (const text of ['fld1', 'paddb mm0, mm1', 'addps xmm3, xmm4', 'emms', 'ldmxcsr dword ptr [rax]', 'fxsave [rax]', 'wait']) {
      const c = await codeCase(text);
      expect(batchIneligible(c), text).toBeUndefined();
      expect(caseImage(c, 0x100000n).simd, text).toBe(true);
    }
    expect(caseImage(await codeCase('add rax, rbx'), 0x100000n).simd).toBe(false);
    // REX.W MOV FS, [RCX]: iced writes 'o64 mov fs, [rcx]', which the text test let through
    expect(batchIneligible(bytesCase(Uint8Array.of(0x48, 0x8e, 0x21)))).toMatch(/^'o64 mov fs, \[rcx\]' changes state/);
    for (const text of ['mov ax, ds', 'pop word ptr fs:[rax]', 'mov rax, qword ptr fs:[0x10]', 'add rax, rbx']) {
      expect(batchIneligible(await codeCase(text)), text).toBeUndefined();
    }
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
  it('keeps system instructions out of batches', async () => {
    expect(batchIneligible(await codeCase('add eax, ebx'))).toBeUndefined();
    expect(batchIneligible(await codeCase('mov cr3, rax'))).toMatch(/cr3/);
    expect(batchIneligible(await codeCase('pop fs'))).toMatch(/pop fs/);
    expect(batchIneligible(await codeCase('mov gs, ax'))).toMatch(/mov gs/);
    // an FS/GS override on a memory operand changes no segment register
    expect(batchIneligible(await codeCase('pop word ptr fs:[rsi + 0x8]'))).toBeUndefined();
    expect(batchIneligible(await codeCase('pop qword ptr gs:[rbx]'))).toBeUndefined();
  });
});
