/**
 * Pure codec for the gdb remote serial protocol (RSP) framing: `$payload#xx`, `}` escapes,
 * run-length encoding (`*`), checksums. No I/O here; the client owns the socket.
 */

const DOLLAR = 0x24;
const HASH = 0x23;
const BRACE = 0x7d;
const STAR = 0x2a;
const PLUS = 0x2b;
const MINUS = 0x2d;

export function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) sum += bytes[i]!;
  return sum & 0xff;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Escape the bytes that may not appear raw inside a packet: `$ # } *`. */
export function escapePayload(payload: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (const b of payload) {
    if (b === DOLLAR || b === HASH || b === BRACE || b === STAR) out.push(BRACE, b ^ 0x20);
    else out.push(b);
  }
  return Uint8Array.from(out);
}

/**
 * Run-length encode an already-escaped body, as stubs may: a run of the same byte becomes
 * `c*N` where N-29 repeats follow the first byte. Counts whose character would be `#`, `$`
 * or above `~` are avoided, and escape pairs are never split.
 */
export function runLengthEncode(body: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < body.length) {
    const b = body[i]!;
    if (b === BRACE && i + 1 < body.length) {
      out.push(b, body[i + 1]!);
      i += 2;
      continue;
    }
    let run = 1;
    while (i + run < body.length && body[i + run] === b && run < 98) run++;
    // repeats after the first byte, encoded as repeats+29; 6 and 7 would give '#' and '$'
    let repeats = run - 1;
    if (repeats === 6 || repeats === 7) repeats = 5;
    if (repeats >= 3) {
      out.push(b, STAR, repeats + 29);
      i += repeats + 1;
    } else {
      out.push(b);
      i += 1;
    }
  }
  return Uint8Array.from(out);
}

/** Frame a payload: `$` + escaped payload + `#` + two hex checksum digits. */
export function encodePacket(payload: Uint8Array | string, options: { rle?: boolean } = {}): Uint8Array {
  // Fast path for the common case (hex-encoded data, no bytes that need escaping): memory
  // writes are most of the bytes we send, so skip the per-byte escape loop for them.
  if (typeof payload === 'string' && !options.rle) {
    // One pass over the bytes once copied natively into the frame (a byte loop over a buffer
    // runs about twice as fast as charCodeAt over the string): the checksum, and whether any
    // character needs escaping or is not one byte (then the general path).
    const n = payload.length;
    const out = Buffer.allocUnsafe(n + 4);
    out[0] = DOLLAR;
    out.write(payload, 1, 'latin1'); // one byte per character (a character above 0xff keeps its low byte, as Buffer.from does below)
    let sum = 0;
    let plain = true;
    for (let i = 1; plain && i <= n; i++) {
      const ch = out[i]!;
      if (ch === DOLLAR || ch === HASH || ch === BRACE || ch === STAR || ch > 0x7f) plain = false;
      sum += ch;
    }
    if (plain) {
      out[n + 1] = HASH;
      out.write(hex2(sum & 0xff), n + 2, 'latin1');
      return out;
    }
  }
  const raw = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
  let body = escapePayload(raw);
  if (options.rle) body = runLengthEncode(body);
  const out = new Uint8Array(body.length + 4);
  out[0] = DOLLAR;
  out.set(body, 1);
  out[body.length + 1] = HASH;
  out.set(Buffer.from(hex2(checksum(body)), 'latin1'), body.length + 2);
  return out;
}

export class RspDecodeError extends Error {
  override readonly name = 'RspDecodeError';
}

/** Undo escapes and run-length encoding of a packet body (checksum already verified). */
export function decodeBody(body: Uint8Array): Uint8Array {
  if (body.indexOf(BRACE) < 0 && body.indexOf(STAR) < 0) return body; // the common case
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const b = body[i]!;
    if (b === BRACE) {
      if (i + 1 >= body.length) throw new RspDecodeError(`escape character at the end of packet body ${hexDump(body)}`);
      out.push(body[++i]! ^ 0x20);
    } else if (b === STAR) {
      if (out.length === 0 || i + 1 >= body.length) {
        throw new RspDecodeError(`run-length marker without a byte to repeat in ${hexDump(body)}`);
      }
      const count = body[++i]! - 29;
      if (count < 0) throw new RspDecodeError(`bad run-length count 0x${hex2(body[i]!)} in ${hexDump(body)}`);
      const last = out[out.length - 1]!;
      for (let k = 0; k < count; k++) out.push(last);
    } else {
      out.push(b);
    }
  }
  return Uint8Array.from(out);
}

export function hexDump(bytes: Uint8Array, max = 96): string {
  const hex = Buffer.from(bytes.subarray(0, max)).toString('hex');
  return bytes.length > max ? `${hex}… (${bytes.length} bytes)` : hex;
}

export type RspFrame =
  | { kind: 'ack' }
  | { kind: 'nack' }
  | { kind: 'packet'; payload: Uint8Array; raw: Uint8Array }
  | { kind: 'bad-checksum'; raw: Uint8Array; expected: number; actual: number }
  | { kind: 'garbage'; bytes: Uint8Array };

/**
 * Incremental frame parser. Feed it socket chunks; it returns complete frames. Bytes outside
 * packets other than `+`/`-` are reported as garbage so the client can name them in errors.
 * A raw `#` always ends a packet body: inside a body it is sent escaped (`}` 0x03).
 */
export class RspFrameParser {
  private pending: Buffer = Buffer.alloc(0);
  private inPacket = false;

  /** Bytes of a packet that has started but not finished (for error messages). */
  get partial(): Uint8Array {
    return this.inPacket ? Uint8Array.from(this.pending) : new Uint8Array(0);
  }

  /** Length of that unfinished packet, without copying it. */
  get partialLength(): number {
    return this.inPacket ? this.pending.length : 0;
  }

  feed(chunk: Uint8Array): RspFrame[] {
    const frames: RspFrame[] = [];
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let i = 0;
    let garbageStart = -1;
    const flushGarbage = (end: number) => {
      if (garbageStart >= 0) {
        frames.push({ kind: 'garbage', bytes: Uint8Array.from(buf.subarray(garbageStart, end)) });
        garbageStart = -1;
      }
    };
    while (i < buf.length) {
      if (!this.inPacket) {
        const b = buf[i]!;
        if (b === DOLLAR) {
          flushGarbage(i);
          this.inPacket = true;
          buf = buf.subarray(i);
          i = 0;
          continue;
        }
        if (b === PLUS || b === MINUS) {
          flushGarbage(i);
          frames.push({ kind: b === PLUS ? 'ack' : 'nack' });
        } else if (garbageStart < 0) {
          garbageStart = i;
        }
        i++;
        continue;
      }
      // in a packet that starts at buf[0]
      const hash = buf.indexOf(HASH, 1);
      if (hash < 0 || hash + 3 > buf.length) break;
      const raw = Uint8Array.from(buf.subarray(0, hash + 3));
      frames.push(this.finish(raw));
      this.inPacket = false;
      buf = buf.subarray(hash + 3);
      i = 0;
    }
    flushGarbage(buf.length);
    this.pending = this.inPacket ? Buffer.from(buf) : Buffer.alloc(0);
    return frames;
  }

  private finish(raw: Uint8Array): RspFrame {
    const body = raw.subarray(1, raw.length - 3);
    const expected = Number.parseInt(Buffer.from(raw.subarray(raw.length - 2)).toString('latin1'), 16);
    const actual = checksum(body);
    if (Number.isNaN(expected) || expected !== actual) {
      return { kind: 'bad-checksum', raw, expected: Number.isNaN(expected) ? -1 : expected, actual };
    }
    return { kind: 'packet', payload: decodeBody(body), raw };
  }
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function fromHex(text: string): Uint8Array {
  // Buffer's hex decoder stops at the first non-hex pair: a short result means bad input.
  const bytes = Buffer.from(text, 'hex');
  if (text.length % 2 !== 0 || bytes.length * 2 !== text.length) {
    throw new RspDecodeError(`expected hex digits, got ${JSON.stringify(text.slice(0, 80))}`);
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

export function asciiToHex(text: string): string {
  return Buffer.from(text, 'latin1').toString('hex');
}

/** Stop replies (gdb docs, "Stop Reply Packets"). */
export type StopReply =
  | { kind: 'signal'; signal: number; info: Record<string, string> }
  | { kind: 'exited'; code: number }
  | { kind: 'terminated'; signal: number };

export function parseStopReply(text: string): StopReply {
  const m = /^([STWX])([0-9a-fA-F]{2})(.*)$/s.exec(text);
  if (!m) throw new RspDecodeError(`not a stop reply: ${JSON.stringify(text.slice(0, 80))}`);
  const code = Number.parseInt(m[2]!, 16);
  switch (m[1]) {
    case 'S':
      return { kind: 'signal', signal: code, info: {} };
    case 'T': {
      const info: Record<string, string> = {};
      for (const part of m[3]!.split(';')) {
        const idx = part.indexOf(':');
        if (idx > 0) info[part.slice(0, idx)] = part.slice(idx + 1);
      }
      return { kind: 'signal', signal: code, info };
    }
    case 'W':
      return { kind: 'exited', code };
    default:
      return { kind: 'terminated', signal: code };
  }
}

/** `E NN` error replies. */
export function parseErrorReply(text: string): number | undefined {
  const m = /^E([0-9a-fA-F]{2})$/.exec(text);
  return m ? Number.parseInt(m[1]!, 16) : undefined;
}
