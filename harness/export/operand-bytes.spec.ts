import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { initialState } from '../../contracts/test-machine.js';
import type { GprName } from '../../contracts/machine-state.js';
import { decodeOne } from '../asm/decode.js';
import { operandByteAddresses } from './operand-bytes.js';
import { addressRanges } from './ram.js';
import { jsonSchemaTexts } from './single-step-json-schema.js';

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

function bytesOf(hex: string, regs: Partial<Record<GprName, bigint>>, fsBase = 0n): number[] {
  const code = Buffer.from(hex, 'hex');
  const state = { ...initialState(regs), fsBase };
  return operandByteAddresses(code, decodeOne(code).mnemonic, state);
}

describe('operand bytes (addresses per the SDM, from the registers before the instruction)', () => {
  it('XLAT reads [RBX + zero-extended AL]', () => {
    expect(bytesOf('d7', { rbx: 0x20000n, rax: 0xffffffffffffffffn })).toEqual([0x200ff]);
  });
  it('a 0x67 prefix truncates the effective address to 32 bits', () => {
    // mov eax, [esi+ecx]
    expect(bytesOf('678b040e', { rsi: 0xffffffff00020000n, rcx: 0x10n })).toEqual(range(0x20010, 4));
  });
  it('BT m, r addresses the operand its signed bit offset falls in', () => {
    // bt [rax], rcx: bit -1 is the top bit of the qword below
    expect(bytesOf('480fa308', { rax: 0x20010n, rcx: 0xffffffffffffffffn })).toEqual(range(0x20008, 8));
    // bt [rax], ecx: bit 100 is in the fourth dword
    expect(bytesOf('0fa308', { rax: 0x20000n, rcx: 100n })).toEqual(range(0x2000c, 4));
    // bt [rax], 100 (an immediate is taken modulo the operand size: no displacement)
    expect(bytesOf('0fba2064', { rax: 0x20000n })).toEqual(range(0x20000, 4));
  });
  it('an FS override adds FS.base after the address-size truncation', () => {
    expect(bytesOf('64488b00', { rax: 0x20000n }, 0x1000n)).toEqual(range(0x21000, 8));
  });
  it('PUSH writes the 8 bytes below RSP', () => {
    expect(bytesOf('50', { rsp: 0x10000n })).toEqual(range(0xfff8, 8));
  });
});

describe('export helpers', () => {
  it('joins addresses into ranges', () => {
    expect(addressRanges([5, 1, 2, 3, 9])).toEqual([{ addr: 1, length: 3 }, { addr: 5, length: 1 }, { addr: 9, length: 1 }]);
    expect(addressRanges([1, 9], 16)).toEqual([{ addr: 1, length: 9 }]);
  });
  it('docs/singlestep-schema holds the JSON Schemas the zod schemas generate (regenerate: npx tsx harness/export/single-step-json-schema.ts docs/singlestep-schema)', () => {
    for (const [file, text] of Object.entries(jsonSchemaTexts())) expect(readFileSync(`docs/singlestep-schema/${file}`, 'utf8')).toBe(text);
  });
});
