import { RspProtocolError } from './errors.js';

export interface RegisterInfo {
  readonly name: string;
  readonly regnum: number;
  readonly bitsize: number;
  /** Byte offset in the `g` packet. */
  readonly offset: number;
  readonly group?: string;
}

/** Register layout read from the stub's target description, so `g`/`p`/`P` are data-driven. */
export class RegisterMap {
  private readonly byName = new Map<string, RegisterInfo>();
  readonly totalBytes: number;

  constructor(readonly registers: readonly RegisterInfo[]) {
    for (const r of registers) this.byName.set(r.name, r);
    const last = registers[registers.length - 1];
    this.totalBytes = last ? last.offset + last.bitsize / 8 : 0;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get(name: string): RegisterInfo {
    const r = this.byName.get(name);
    if (!r) {
      throw new RspProtocolError(
        `register '${name}' is not in the stub's target.xml (it has: ${[...this.byName.keys()].join(', ')}); use a stub that exposes it or drop it from the comparison`,
      );
    }
    return r;
  }

  /** Read a little-endian register value out of a `g` payload (already hex-decoded). */
  read(bytes: Uint8Array, name: string, view?: DataView): bigint {
    const r = this.get(name);
    return readLE(bytes, r.offset, r.bitsize / 8, view);
  }

  /** Encode a value in the register's width as little-endian hex, for `P`. */
  encode(name: string, value: bigint): string {
    const r = this.get(name);
    return leHex(value, r.bitsize / 8);
  }
}

export function readLE(bytes: Uint8Array, offset: number, length: number, dataView?: DataView): bigint {
  if (offset + length > bytes.length) {
    throw new RspProtocolError(`register block too short: need ${offset + length} bytes, got ${bytes.length}`);
  }
  // native paths for the common widths: reading a state is on the per-instruction hot path
  const view = dataView ?? new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (length === 8) return view.getBigUint64(offset, true);
  if (length === 4) return BigInt(view.getUint32(offset, true));
  if (length === 16) return view.getBigUint64(offset, true) | (view.getBigUint64(offset + 8, true) << 64n);
  if (length === 10) return view.getBigUint64(offset, true) | (BigInt(view.getUint16(offset + 8, true)) << 64n);
  let v = 0n;
  for (let i = length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[offset + i]!);
  return v;
}

export function leHex(value: bigint, length: number): string {
  let out = '';
  let v = BigInt.asUintN(length * 8, value);
  for (let i = 0; i < length; i++) {
    out += Number(v & 0xffn).toString(16).padStart(2, '0');
    v >>= 8n;
  }
  return out;
}

/** Parse `<reg …/>` elements of target description documents (already fetched, in include order). */
export function parseRegisters(documents: readonly string[]): RegisterInfo[] {
  const out: RegisterInfo[] = [];
  let next = 0;
  let offset = 0;
  for (const raw of documents) {
    // QEMU's i386-64bit.xml comments out whole <reg> elements (cs_base…es_base): strip comments first.
    const doc = raw.replace(/<!--[\s\S]*?-->/g, '');
    let feature: string | undefined;
    const tagRe = /<(feature|reg)\b([^>]*)>/g;
    let m: RegExpExecArray | null;
    while ((m = tagRe.exec(doc))) {
      const attrs = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!]));
      if (m[1] === 'feature') {
        feature = attrs.name;
        continue;
      }
      if (!attrs.name || !attrs.bitsize) throw new RspProtocolError(`target description has a <reg> without name or bitsize: ${m[0]}`);
      const regnum = attrs.regnum !== undefined ? Number(attrs.regnum) : next;
      if (regnum !== next) {
        throw new RspProtocolError(`target description skips register numbers (${attrs.name} is ${regnum}, expected ${next})`);
      }
      const bitsize = Number(attrs.bitsize);
      out.push({ name: attrs.name, regnum, bitsize, offset, group: attrs.group ?? feature });
      offset += bitsize / 8;
      next = regnum + 1;
    }
  }
  return out;
}

/** The `xi:include` hrefs of a document, in order. */
export function includesOf(doc: string): string[] {
  return [...doc.matchAll(/<xi:include\s+href="([^"]+)"/g)].map((m) => m[1]!);
}
