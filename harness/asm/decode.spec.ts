import { describe, expect, it } from 'vitest';
import { decodeAll, decodeOne, icedRflagsToArch, RFLAGS } from './decode.js';
import { RflagsBits } from 'iced-x86';

const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const { CF, PF, AF, ZF, SF, OF, DF } = RFLAGS;

describe('decodeAll', () => {
  it('decodes a sequence with addresses, lengths, text and opcode strings', () => {
    const d = decodeAll(bytes('4c032d33cc7f01 670301 4088e6'), 0x1000n);
    expect(d.map((i) => i.text)).toEqual(['add r13, [rip+0x17fcc33]', 'add eax, [ecx]', 'mov sil, spl']);
    expect(d.map((i) => i.address)).toEqual([0x1000n, 0x1007n, 0x100an]);
    expect(d.map((i) => i.length)).toEqual([7, 3, 3]);
    expect(d[0]!.mnemonic).toBe('add');
    expect(d[0]!.opcode).toBe('o64 03 /r');
    expect(d[0]!.form).toBe('ADD r64, r/m64');
    expect(Array.from(d[1]!.bytes)).toEqual([0x67, 0x03, 0x01]);
  });

  it('maps iced RflagsBits to architectural RFLAGS bits', () => {
    expect(icedRflagsToArch(RflagsBits.CF)).toBe(0x1);
    expect(icedRflagsToArch(RflagsBits.OF | RflagsBits.DF)).toBe(0x800 | 0x400);
    expect(icedRflagsToArch(RflagsBits.AF | RflagsBits.PF | RflagsBits.ZF | RflagsBits.SF)).toBe(0x10 | 0x4 | 0x40 | 0x80);
  });

  it('reports flags read / written / cleared / set / undefined', () => {
    const and = decodeOne(bytes('21c0')); // and eax, eax
    expect(and.flags.written).toBe(SF | ZF | PF);
    expect(and.flags.cleared).toBe(OF | CF);
    expect(and.flags.undefined).toBe(AF);
    expect(and.flags.modified).toBe(OF | SF | ZF | AF | CF | PF);
    const adc = decodeOne(bytes('4811d8')); // adc rax, rbx
    expect(adc.flags.read).toBe(CF);
    const std = decodeOne(bytes('fd'));
    expect(std.flags.set).toBe(DF);
    const imul = decodeOne(bytes('480fafc3')); // imul rax, rbx
    expect(imul.flags.undefined).toBe(SF | ZF | AF | PF);
    const shl = decodeOne(bytes('48d3e0')); // shl rax, cl: OF undefined for counts != 1
    expect(shl.flags.undefined & OF).toBe(OF);
  });

  it('marks invalid bytes', () => {
    const d = decodeAll(bytes('06'), 0n); // push es: invalid in 64-bit mode
    expect(d[0]!.invalid).toBe(true);
  });

  it('decodes 32-bit code', () => {
    expect(decodeOne(bytes('40'), 0n, 32).text).toBe('inc eax');
  });
});
