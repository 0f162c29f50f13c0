import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CASE_FORMAT, CaseFileError, caseCodeAddress, caseCodeBits, caseMode, decodeCase, encodeCase, readCaseFile, type CaseJson } from './case-schema.js';

const base: CaseJson = { format: CASE_FORMAT, id: 't', code: '90', provenance: { generator: 'hand' } };

function problem(json: unknown): string {
  try {
    decodeCase(json, 'case.json');
  } catch (err) {
    expect(err).toBeInstanceOf(CaseFileError);
    return (err as Error).message;
  }
  throw new Error('the case was accepted');
}

describe('case validation against the test machine', () => {
  it('names the valid address range for a memory region outside the test machine, in one line', () => {
    const msg = problem({ ...base, memory: [{ addr: '0x100000', bytes: '00112233' }] });
    expect(msg).toBe(
      'case.json: not a valid difftest case (memory.0: region 0x100000–0x100003 (4 bytes) lies outside the test machine; ' +
        'case memory must lie within 0x8000–0x2ffff (its stack, code and data pages)); fix the field or regenerate the case',
    );
  });

  it('rejects a region over the system tables below the stack, and one running past the data page', () => {
    expect(problem({ ...base, memory: [{ addr: '0x7ff0', bytes: '00'.repeat(32) }] })).toMatch(/memory\.0: region 0x7ff0–0x800f/);
    expect(problem({ ...base, memory: [{ addr: '0x2fff0', bytes: '00'.repeat(32) }] })).toMatch(/memory\.0: region 0x2fff0–0x3000f/);
    // the edges themselves are inside
    expect(decodeCase({ ...base, memory: [{ addr: '0x8000', bytes: '00' }, { addr: '0x2ffff', bytes: '00' }] }).memory).toHaveLength(2);
  });

  it('checks compared regions and the code size too', () => {
    expect(problem({ ...base, compare: [{ addr: '0x40000', length: 16 }] })).toMatch(/compare\.0: region 0x40000–0x4000f \(16 bytes\) lies outside the test machine/);
    expect(problem({ ...base, code: '90'.repeat(0x10000) })).toMatch(/code: 65536 bytes; the test machine holds at most 65515 bytes of code/);
  });

  it('reads a case file with a 16 MB region without overflowing the stack, and says why it cannot run', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'difftest-case-')), 'big.json');
    writeFileSync(file, JSON.stringify({ ...base, memory: [{ addr: '0x20000', bytes: '00'.repeat(16 << 20) }] }));
    const err = await readCaseFile(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CaseFileError);
    const msg = (err as Error).message;
    expect(msg).not.toContain('\n');
    expect(msg).toContain(`${file}: not a valid difftest case (memory.0: region 0x20000–0x101ffff (16777216 bytes) lies outside the test machine`);
    expect(msg).toContain('0x8000–0x2ffff');
  });

  it('still names a malformed byte string as before', () => {
    expect(problem({ ...base, code: '9' })).toContain('code: expected an even-length hex byte string');
    expect(problem({ ...base, code: 'zz' })).toContain('code: expected an even-length hex byte string');
  });

  it('encodes any case, in range or not: saving a case must never fail', () => {
    const c = decodeCase(base);
    const outside = { ...c, memory: [{ addr: 0x100000n, bytes: new Uint8Array(4) }] };
    expect(encodeCase(outside).memory).toEqual([{ addr: '0x100000', bytes: '00000000' }]);
  });
});

describe('case mode', () => {
  it('defaults to long64 without writing the field, and keeps protected32 through a save', () => {
    const plain = decodeCase(base);
    expect(caseMode(plain)).toBe('long64');
    expect('mode' in encodeCase(plain)).toBe(false);
    const legacy = decodeCase({ ...base, mode: 'protected32' });
    expect(caseMode(legacy)).toBe('protected32');
    expect(caseCodeBits(legacy)).toBe(32);
    expect(decodeCase(JSON.parse(JSON.stringify(encodeCase(legacy)))).mode).toBe('protected32');
    // real16: 16-bit code whose first instruction is at IP 0 of CS (base 0x10000)
    const real = decodeCase(JSON.parse(JSON.stringify(encodeCase(decodeCase({ ...base, mode: 'real16' })))));
    expect([caseMode(real), caseCodeBits(real), caseCodeAddress(real), caseCodeAddress(legacy)]).toEqual(['real16', 16, 0n, 0x10000n]);
  });

  it('names the field of an unknown mode in one line', () => {
    expect(problem({ ...base, mode: 'real32' })).toMatch(/^case\.json: not a valid difftest case \(mode: .*\); fix the field or regenerate the case$/);
  });
});

describe('initial XMM/MXCSR state', () => {
  it('round-trips MXCSR and the 16 XMM registers as hex, and refuses another register count', () => {
    const xmm = Array.from({ length: 16 }, (_, i) => `0x${(BigInt(i + 1) << 120n | 0xffn).toString(16)}`);
    const c = decodeCase({ ...base, sse: { mxcsr: 0x1d80, xmm } });
    expect(c.sse?.mxcsr).toBe(0x1d80);
    expect(c.sse?.xmm[15]).toBe((16n << 120n) | 0xffn);
    expect(encodeCase(c).sse).toEqual({ mxcsr: 0x1d80, xmm });
    expect(problem({ ...base, sse: { mxcsr: 0x1f80, xmm: xmm.slice(1) } })).toMatch(/sse\.xmm/);
    expect(decodeCase(base).sse).toBeUndefined();
  });
});
