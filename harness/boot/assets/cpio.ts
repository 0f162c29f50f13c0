/**
 * The "newc" cpio format (SVR4 without CRC, magic 070701) that the kernel unpacks as an
 * initramfs: a 110-byte ASCII header per entry (13 eight-digit hex fields), the name with its
 * NUL padded to a multiple of 4 bytes (header included), the data padded the same way, and a
 * final `TRAILER!!!` entry. Written here so that building the initramfs needs neither root nor
 * the cpio tool.
 */

export const NEWC_MAGIC = '070701';
const HEADER_LENGTH = 110;

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;

export interface CpioEntry {
  /** Path inside the archive, without a leading slash (`bin/busybox`). */
  readonly name: string;
  /** st_mode: file type and permission bits (S_IFREG | 0o755). */
  readonly mode: number;
  /** File contents; empty for directories. */
  readonly data: Uint8Array;
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** Serialize entries (in order) plus the trailer; uid/gid 0, mtime 0 so equal input gives equal bytes. */
export function writeNewc(entries: readonly CpioEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let ino = 1;
  const push = (e: CpioEntry, inode: number) => {
    const name = Buffer.from(`${e.name}\0`, 'latin1');
    const fields = [
      inode, e.mode, 0, 0, (e.mode & S_IFDIR) === S_IFDIR ? 2 : 1, 0, e.data.length,
      0, 0, 0, 0, name.length, 0,
    ];
    const header = Buffer.from(NEWC_MAGIC + fields.map(hex8).join(''), 'latin1');
    parts.push(header, name, new Uint8Array(pad4(HEADER_LENGTH + name.length)), e.data, new Uint8Array(pad4(e.data.length)));
  };
  for (const e of entries) {
    if (e.name.startsWith('/') || e.name.length === 0) throw new Error(`cpio entry name '${e.name}' must be relative and non-empty`);
    push(e, ino++);
  }
  push({ name: 'TRAILER!!!', mode: 0, data: new Uint8Array(0) }, 0);
  return Buffer.concat(parts);
}

/** Parse a newc archive back into its entries (the trailer excluded). Throws on a malformed header. */
export function readNewc(bytes: Uint8Array): CpioEntry[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: CpioEntry[] = [];
  let off = 0;
  for (;;) {
    if (off + HEADER_LENGTH > buf.length) throw new Error(`cpio archive ends inside a header at offset ${off}`);
    const magic = buf.toString('latin1', off, off + 6);
    if (magic !== NEWC_MAGIC) throw new Error(`bad cpio magic '${magic}' at offset ${off} (expected ${NEWC_MAGIC}, newc)`);
    const field = (i: number) => Number.parseInt(buf.toString('latin1', off + 6 + i * 8, off + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const nameStart = off + HEADER_LENGTH;
    const name = buf.toString('latin1', nameStart, nameStart + nameSize - 1);
    const dataStart = nameStart + nameSize + pad4(HEADER_LENGTH + nameSize);
    if (dataStart + size > buf.length) throw new Error(`cpio entry '${name}' runs past the end of the archive`);
    if (name === 'TRAILER!!!') return out;
    out.push({ name, mode, data: new Uint8Array(buf.subarray(dataStart, dataStart + size)) });
    off = dataStart + size + pad4(size);
  }
}
