import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checksum,
  decodeBody,
  encodePacket,
  parseErrorReply,
  parseStopReply,
  RspDecodeError,
  RspFrameParser,
  runLengthEncode,
  escapePayload,
} from './codec.js';

const special = fc.constantFrom(0x23, 0x24, 0x7d, 0x2a, 0x2b, 0x2d, 0x03, 0x00, 0xff);
const payloadBytes = fc.array(fc.oneof(fc.integer({ min: 0, max: 255 }), special), { maxLength: 300 }).map((a) => Uint8Array.from(a));

function parseAll(chunks: Uint8Array[]) {
  const parser = new RspFrameParser();
  return chunks.flatMap((c) => parser.feed(c));
}

describe('RSP codec', () => {
  it('checksum is the byte sum modulo 256 (gdb docs: "$m0,4#fd")', () => {
    expect(checksum(Buffer.from('m0,4'))).toBe(0xfd);
    expect(Buffer.from(encodePacket('m0,4')).toString('latin1')).toBe('$m0,4#fd');
    expect(Buffer.from(encodePacket('')).toString('latin1')).toBe('$#00');
  });

  it('round-trips any byte string, including $ # } * (property)', () => {
    fc.assert(
      fc.property(payloadBytes, fc.boolean(), (payload, rle) => {
        const frames = parseAll([encodePacket(payload, { rle })]);
        expect(frames).toHaveLength(1);
        const f = frames[0]!;
        expect(f.kind).toBe('packet');
        if (f.kind === 'packet') expect(Buffer.from(f.payload).equals(Buffer.from(payload))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('reassembles packets split at every byte boundary (property)', () => {
    fc.assert(
      fc.property(payloadBytes, fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 40 }), (payload, cuts) => {
        const wire = Buffer.concat([Buffer.from('+'), encodePacket(payload, { rle: true }), Buffer.from('-')]);
        const chunks: Uint8Array[] = [];
        let pos = 0;
        for (let i = 0; pos < wire.length; i++) {
          const n = cuts[i % cuts.length]!;
          chunks.push(wire.subarray(pos, pos + n));
          pos += n;
        }
        const frames = parseAll(chunks);
        expect(frames.map((f) => f.kind)).toEqual(['ack', 'packet', 'nack']);
        const p = frames[1]!;
        if (p.kind === 'packet') expect(Buffer.from(p.payload).equals(Buffer.from(payload))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('expands run-length encoding as the gdb docs describe ("0* " is four zeros)', () => {
    expect(Buffer.from(decodeBody(Buffer.from('0* '))).toString()).toBe('0000');
    expect(Buffer.from(decodeBody(Buffer.from('a*"b'))).toString()).toBe('a' + 'a'.repeat(5) + 'b');
    // QEMU-style register dump compressed: 16 zeros
    expect(Buffer.from(decodeBody(Buffer.from('0*,'))).toString()).toBe('0'.repeat(16));
  });

  it('never produces # or $ as a run-length count, and encoding shrinks long runs (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.constantFrom(0x30, 0x61, 0x7d), (n, b) => {
        const body = runLengthEncode(escapePayload(new Uint8Array(n).fill(b)));
        for (let i = 0; i < body.length; i++) if (body[i] === 0x2a) expect([0x23, 0x24]).not.toContain(body[i + 1]);
        expect(Buffer.from(decodeBody(body)).equals(Buffer.from(new Uint8Array(n).fill(b)))).toBe(true);
      }),
    );
  });

  it('reports a corrupted checksum with both values and the raw packet', () => {
    const wire = Buffer.from(encodePacket('OK'));
    wire[wire.length - 1] = 0x30; // last checksum digit
    const [f] = parseAll([wire]);
    expect(f?.kind).toBe('bad-checksum');
    if (f?.kind === 'bad-checksum') {
      expect(f.actual).toBe(0x9a);
      expect(f.expected).toBe(0x90);
      expect(Buffer.from(f.raw).toString('latin1')).toBe('$OK#90');
    }
  });

  it('keeps an unfinished packet as partial and names garbage bytes', () => {
    const parser = new RspFrameParser();
    expect(parser.feed(Buffer.from('hello$g'))).toEqual([{ kind: 'garbage', bytes: Uint8Array.from(Buffer.from('hello')) }]);
    expect(Buffer.from(parser.partial).toString()).toBe('$g');
  });

  it('rejects malformed bodies with a typed error', () => {
    expect(() => decodeBody(Buffer.from('*!'))).toThrow(RspDecodeError);
    expect(() => decodeBody(Buffer.from('abc}'))).toThrow(/escape character/);
  });

  it('parses stop and error replies', () => {
    expect(parseStopReply('S05')).toEqual({ kind: 'signal', signal: 5, info: {} });
    expect(parseStopReply('T05thread:p01.01;')).toEqual({ kind: 'signal', signal: 5, info: { thread: 'p01.01' } });
    expect(parseStopReply('W00')).toEqual({ kind: 'exited', code: 0 });
    expect(parseStopReply('X09')).toEqual({ kind: 'terminated', signal: 9 });
    expect(() => parseStopReply('OK')).toThrow(RspDecodeError);
    expect(parseErrorReply('E14')).toBe(0x14);
    expect(parseErrorReply('OK')).toBeUndefined();
  });
});
