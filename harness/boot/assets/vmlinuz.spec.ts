import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { kernelElfOf } from './vmlinuz.js';

const ELF = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), Buffer.alloc(500, 0x41)]);

/** A boot image: setup code (with a false XZ magic in it), then the compressed kernel, then a trailer. */
function image(payload: Buffer): Buffer {
  const falseMagic = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x11, 0x22]);
  return Buffer.concat([Buffer.alloc(300, 0x90), falseMagic, Buffer.alloc(100, 0x90), payload, Buffer.alloc(64, 0xcc)]);
}

describe('kernel ELF out of a boot image', () => {
  it('takes an ELF as it is', async () => {
    const r = await kernelElfOf(ELF);
    expect(r.from).toBe('elf');
    expect(Buffer.from(r.elf).equals(ELF)).toBe(true);
  });

  it('decompresses the XZ payload past a false magic and despite the trailer', async () => {
    const xz = execFileSync('xz', ['-c', '--format=xz'], { input: ELF });
    const r = await kernelElfOf(image(xz));
    expect(r.from).toBe('xz');
    expect(Buffer.from(r.elf).equals(ELF)).toBe(true);
  });

  it('decompresses a gzip payload', async () => {
    const r = await kernelElfOf(image(gzipSync(ELF)));
    expect(r.from).toBe('gzip');
    expect(Buffer.from(r.elf).equals(ELF)).toBe(true);
  });

  it('says what it tried when nothing inside is an ELF', async () => {
    await expect(kernelElfOf(image(gzipSync(Buffer.from('not an elf'))))).rejects.toThrow(/neither an ELF nor a boot image with an XZ or gzip compressed ELF/);
  });
});
