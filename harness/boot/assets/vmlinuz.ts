import { execa } from 'execa';
import { inflateRawSync } from 'node:zlib';
import { isElf } from './elf.js';
import { requireTool } from './tools.js';

/**
 * The kernel ELF inside a compressed boot image (bzImage / vmlinuz): the payload is a complete
 * compressed stream somewhere after the setup code. XZ (Debian's kernels) is decompressed by the
 * `xz` command, gzip by node's zlib. A candidate magic that does not decompress to an ELF is
 * skipped (the bytes can occur by chance in the setup code).
 */

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b, 0x08]);

export class KernelImageError extends Error {
  override readonly name = 'KernelImageError';
}

function offsetsOf(buf: Buffer, magic: Buffer): number[] {
  const out: number[] = [];
  for (let at = buf.indexOf(magic); at >= 0 && out.length < 16; at = buf.indexOf(magic, at + 1)) out.push(at);
  return out;
}

async function unxz(bytes: Uint8Array): Promise<Uint8Array | undefined> {
  const xz = await requireTool('xz', 'xz-utils');
  // --single-stream: the image goes on after the stream (the decompressor's trailer), which xz
  // would otherwise take for a corrupt second stream.
  const r = await execa(xz, ['-dc', '--single-stream'], { input: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), encoding: 'buffer', reject: false, maxBuffer: 1 << 30 });
  return r.exitCode === 0 ? new Uint8Array(r.stdout) : undefined;
}

/**
 * A gzip member followed by anything: zlib's gunzip takes the bytes after the member for a second
 * one and fails, so the header (RFC 1952 §2.3) is skipped here and the raw deflate stream inflated,
 * which stops at its end.
 */
function gunzip(bytes: Uint8Array): Uint8Array | undefined {
  if (bytes.length < 18) return undefined;
  const flags = bytes[3]!;
  let off = 10;
  if (flags & 0x04) off += 2 + (bytes[10]! | (bytes[11]! << 8)); // FEXTRA
  for (const bit of [0x08, 0x10]) { // FNAME, FCOMMENT: zero-terminated
    if (flags & bit) {
      while (off < bytes.length && bytes[off] !== 0) off++;
      off++;
    }
  }
  if (flags & 0x02) off += 2; // FHCRC
  try {
    return new Uint8Array(inflateRawSync(bytes.subarray(off), { maxOutputLength: 1 << 30 }));
  } catch {
    return undefined;
  }
}

/**
 * The ELF of a kernel file: the file itself when it is an ELF, else the first compressed
 * payload that decompresses to one. Throws KernelImageError naming what was tried.
 */
export async function kernelElfOf(image: Uint8Array): Promise<{ elf: Uint8Array; from: 'elf' | 'xz' | 'gzip' }> {
  if (isElf(image)) return { elf: image, from: 'elf' };
  const buf = Buffer.from(image.buffer, image.byteOffset, image.byteLength);
  for (const at of offsetsOf(buf, XZ_MAGIC)) {
    const out = await unxz(image.subarray(at));
    if (out && isElf(out)) return { elf: out, from: 'xz' };
  }
  for (const at of offsetsOf(buf, GZIP_MAGIC)) {
    const out = gunzip(image.subarray(at));
    if (out && isElf(out)) return { elf: out, from: 'gzip' };
  }
  throw new KernelImageError('neither an ELF nor a boot image with an XZ or gzip compressed ELF inside');
}
