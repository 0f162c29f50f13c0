import { Code, Decoder, DecoderError, DecoderOptions, EncodingKind, Instruction, MandatoryPrefix, OpCodeTableKind } from 'iced-x86';
import { afterAll, describe, expect, it } from 'vitest';
import { allSeeds, selectSeeds, type SpaceSeed } from './space.js';
import { MAX_INSTRUCTION_BYTES, NEEDS_MORE, Tunnel } from './tunnel.js';

// iced-x86 is the independent decoder here: it plays both targets (a candidate "needs more"
// exactly when iced runs out of bytes), so what is checked is the walk itself.
const ins = new Instruction();
afterAll(() => ins.free());

function decode(bytes: Uint8Array): { needsMore: boolean; valid: boolean; length: number } {
  const d = new Decoder(64, bytes, DecoderOptions.None);
  try {
    d.decodeOut(ins);
    return { needsMore: d.lastError === DecoderError.NoMoreBytes, valid: ins.code !== Code.INVALID, length: ins.length };
  } finally {
    d.free();
  }
}

/** Walk `seed` with iced as the oracle; every candidate, with iced's view of it. */
function walk(seed: SpaceSeed): Array<{ bytes: Uint8Array; needsMore: boolean; valid: boolean; length: number }> {
  const t = new Tunnel(seed);
  const out = [];
  while (!t.done) {
    const bytes = t.current();
    const r = decode(bytes);
    out.push({ bytes, ...r });
    t.advance(r.needsMore ? NEEDS_MORE : 'd');
  }
  return out;
}

const seedOf = (map: string, cls: string, opcodes: [number, number]) => ({ ...selectSeeds([map], [cls])[0]!, opcodes });

describe('tunnelling walk', () => {
  const slices = [
    seedOf('1-byte', 'none', [0x00, 0x0f]), // ModRM forms with SIB, disp8, disp32, RIP-relative
    seedOf('1-byte', 'none', [0x68, 0x6b]), // immediates: push imm32, imul r, r/m, imm32/imm8
    seedOf('1-byte', '66', [0xc6, 0xc7]), // 66 shortens the immediate of C7
    seedOf('1-byte', '67', [0x8b, 0x8b]), // 67: 32-bit addressing
    seedOf('0F', 'none', [0x70, 0x73]), // MMX with imm8, groups 12-14
    seedOf('0F3A', '66', [0x0f, 0x0f]), // palignr: three escape bytes, ModRM, imm8
    seedOf('VEX.0F38', 'C4.L0.W0.F3', [0xf7, 0xf7]), // SARX
    seedOf('EVEX.0F', '62.W0.NP', [0x58, 0x58]), // vaddps
  ];

  for (const seed of slices) {
    const name = `${seed.id} ${seed.opcodes[0].toString(16)}-${seed.opcodes[1].toString(16)}`;
    it(`settles on each instruction at exactly its length, as iced-x86 decodes it: ${name}`, () => {
      const candidates = walk(seed);
      const settled = candidates.filter((c) => !c.needsMore && c.valid);
      expect(settled.length).toBeGreaterThan(50);
      const wrong = settled.filter((c) => c.length !== c.bytes.length).map((c) => `${Buffer.from(c.bytes).toString('hex')}: iced ${c.length}`);
      expect(wrong).toEqual([]);
    });
  }

  it('walks every ModRM value of an opcode and reaches SIB, disp8, disp32 and RIP-relative forms', () => {
    const seen = new Set<number>();
    const lengths = new Set<number>();
    for (const c of walk(seedOf('1-byte', 'none', [0x01, 0x01]))) {
      if (c.needsMore || c.bytes.length < 2) continue;
      seen.add(c.bytes[1]!);
      lengths.add(c.length);
    }
    expect(seen.size).toBe(256);
    // 01 /r: 2 (register or [reg]), 3 (SIB or disp8), 4 (SIB + disp8), 6 (disp32, RIP), 7 (SIB + disp32)
    expect([...lengths].sort()).toEqual([2, 3, 4, 6, 7]);
  });

  it('skips through displacement and immediate bytes instead of walking their 256 values', () => {
    // 05 id: add eax, imm32. The byte after the opcode is walked value by value (it is a ModRM
    // for most opcodes); the three after it never change the outcome and are skipped through.
    const candidates = walk(seedOf('1-byte', 'none', [0x05, 0x05]));
    for (const at of [2, 3, 4]) {
      const values = new Set(candidates.filter((c) => c.bytes.length > at).map((c) => c.bytes[at]));
      expect(values.size, `byte ${at}`).toBeGreaterThan(5);
      expect(values.size, `byte ${at}`).toBeLessThan(20);
    }
    expect(new Set(candidates.filter((c) => c.bytes.length > 1).map((c) => c.bytes[1])).size).toBe(256);
  });

  it('widens a candidate one zero byte at a time until it decodes', () => {
    const first = walk(seedOf('1-byte', 'none', [0x81, 0x81])).slice(0, 3).map((c) => Buffer.from(c.bytes).toString('hex'));
    expect(first).toEqual(['81', '8100', '810000']);
  });

  it('visits every opcode value but the excluded ones, and never changes the fixed bytes', () => {
    const seed = selectSeeds(['1-byte'], ['REX.W'])[0]!;
    const t = new Tunnel(seed);
    const opcodes = new Set<number>();
    // outcomes that end each opcode at once: the walk moves straight to the next opcode value
    while (!t.done) {
      const c = t.current();
      expect(c[0]).toBe(0x48);
      opcodes.add(c[1]!);
      t.advance('d');
    }
    expect(opcodes.size).toBe(256 - seed.excluded!.size);
    for (const x of seed.excluded!) expect(opcodes.has(x)).toBe(false);
    expect(t.counts.opcodes).toBe(opcodes.size);
  });

  it('stops widening at 15 bytes', () => {
    const t = new Tunnel({ fixed: new Uint8Array(0), opcodes: [0x90, 0x90] });
    for (let i = 0; i < 20 && !t.done; i++) {
      expect(t.current().length).toBeLessThanOrEqual(MAX_INSTRUCTION_BYTES);
      t.advance(NEEDS_MORE);
    }
  });

  it('clone() is independent of the walk it was taken from', () => {
    const t = new Tunnel(seedOf('1-byte', 'none', [0x01, 0x01]));
    t.advance(NEEDS_MORE);
    const snapshot = t.clone();
    const before = Buffer.from(snapshot.current()).toString('hex');
    t.advance('d');
    const afterOne = Buffer.from(t.current()).toString('hex');
    t.advance('d');
    expect(Buffer.from(snapshot.current()).toString('hex')).toBe(before);
    expect(snapshot.counts.candidates).toBe(1);
    snapshot.advance('d');
    expect(Buffer.from(snapshot.current()).toString('hex')).toBe(afterOne);
  });
});

describe('encoding space', () => {
  const expectedTable: Record<string, OpCodeTableKind> = {
    'VEX.0F': OpCodeTableKind.T0F, 'VEX.0F38': OpCodeTableKind.T0F38, 'VEX.0F3A': OpCodeTableKind.T0F3A,
    'EVEX.0F': OpCodeTableKind.T0F, 'EVEX.0F38': OpCodeTableKind.T0F38, 'EVEX.0F3A': OpCodeTableKind.T0F3A,
  };
  const expectedPrefix: Record<string, MandatoryPrefix> = { NP: MandatoryPrefix.PNP, '66': MandatoryPrefix.P66, F3: MandatoryPrefix.PF3, F2: MandatoryPrefix.PF2 };

  it('builds each VEX and EVEX class as iced-x86 reads it: encoding, map, pp, L and W', () => {
    const seeds = allSeeds().filter((s) => s.map.startsWith('VEX') || s.map.startsWith('EVEX'));
    expect(seeds.length).toBe(8 + 48 + 12);
    let checked = 0;
    for (const s of seeds) {
      const parts = s.prefixClass.split('.');
      const l = parts.find((p) => p.startsWith('L'))?.slice(1) ?? '0';
      const w = parts.find((p) => p.startsWith('W'))?.slice(1);
      const pp = parts[parts.length - 1]!;
      // the first opcode with a register ModRM (and an imm8) that iced decodes in this class
      for (let op = 0; op < 256; op++) {
        const d = new Decoder(64, Uint8Array.from([...s.fixed, op, 0xc1, 0x01]), DecoderOptions.None);
        d.decodeOut(ins);
        d.free();
        if (ins.code === Code.INVALID) continue;
        const info = ins.opCode;
        try {
          expect(ins.encoding, s.id).toBe(s.map.startsWith('VEX') ? EncodingKind.VEX : EncodingKind.EVEX);
          expect(info.table, s.id).toBe(expectedTable[s.map]);
          expect(info.mandatoryPrefix, s.id).toBe(expectedPrefix[pp]);
          if (!info.isLIG) expect(info.L, s.id).toBe(Number(l));
          if (w !== undefined && !info.isWIG && !info.isWIG32) expect(info.W, s.id).toBe(Number(w));
        } finally {
          info.free();
        }
        checked++;
        break;
      }
    }
    // classes where iced knows no instruction with a register operand (some L1/W1 combinations) are not checked
    expect(checked).toBeGreaterThan(seeds.length * 0.7);
  });

  it('builds legacy classes with their escape bytes after the prefixes', () => {
    const s = selectSeeds(['0F38'], ['66 F2'])[0]!;
    expect(Buffer.from(s.fixed).toString('hex')).toBe('66f20f38');
    expect(s.prefixBytes).toBe(2);
    expect(selectSeeds(['1-byte']).some((x) => x.prefixClass === '66 F2')).toBe(false);
    // the 13-prefix run leaves two bytes before the 15-byte limit, and only in the 1-byte map
    expect(selectSeeds([], ['13 × CS']).map((x) => x.map)).toEqual(['1-byte']);
  });

  it('covers the four legacy maps with every legacy class, 3DNow!, and VEX/EVEX maps', () => {
    const byMap = new Map<string, number>();
    for (const s of allSeeds()) byMap.set(s.map, (byMap.get(s.map) ?? 0) + 1);
    expect(Object.fromEntries(byMap)).toEqual({
      '1-byte': 12, '0F': 15, '0F38': 15, '0F3A': 15, '3DNow!': 3,
      'VEX.0F': 24, 'VEX.0F38': 16, 'VEX.0F3A': 16, 'EVEX.0F': 4, 'EVEX.0F38': 4, 'EVEX.0F3A': 4,
    });
  });
});
