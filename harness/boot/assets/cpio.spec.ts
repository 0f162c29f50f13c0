import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNewc, S_IFDIR, S_IFREG, writeNewc } from './cpio.js';
import { buildInitramfs, BOOT_OK_INIT } from './initramfs.js';

describe('newc cpio', () => {
  it('lays out one file exactly as the newc format says', () => {
    const bytes = writeNewc([{ name: 'a', mode: S_IFREG | 0o644, data: Buffer.from('hi') }]);
    const text = Buffer.from(bytes).toString('latin1');
    // header: magic, ino 1, mode 0100644, uid, gid, nlink 1, mtime, filesize 2, devs, namesize 2 ("a\0"), check
    const header = '070701' + ['1', '81a4', '0', '0', '1', '0', '2', '0', '0', '0', '0', '2', '0'].map((f) => f.padStart(8, '0')).join('');
    expect(text.slice(0, 110)).toBe(header);
    // name "a\0" then padding to 112 (110 + 2 is already a multiple of 4), data "hi" + 2 bytes of padding
    expect(text.slice(110, 112)).toBe('a\0');
    expect(text.slice(112, 116)).toBe('hi\0\0');
    // the trailer entry: namesize 11 ("TRAILER!!!\0"), 110 + 11 = 121 → padded to 124
    expect(text.slice(116 + 94, 116 + 102)).toBe('0000000b');
    expect(text.slice(116 + 110, 116 + 120)).toBe('TRAILER!!!');
    expect(bytes.length).toBe(116 + 124);
  });

  it('parses back what it wrote, directories and odd sizes included', () => {
    const entries = [
      { name: 'bin', mode: S_IFDIR | 0o755, data: new Uint8Array(0) },
      { name: 'bin/x', mode: S_IFREG | 0o755, data: Uint8Array.from({ length: 4097 }, (_, i) => i & 0xff) },
      { name: 'init', mode: S_IFREG | 0o755, data: new Uint8Array(Buffer.from('#!/bin/sh\n')) },
    ];
    expect(readNewc(writeNewc(entries))).toEqual(entries);
  });

  it('refuses an archive that is not newc', () => {
    expect(() => readNewc(Buffer.from('070707' + '0'.repeat(200)))).toThrow(/bad cpio magic '070707'/);
  });

  const busybox = path.resolve('.cache/boot/busybox/bin/busybox');
  it.runIf(existsSync(busybox))('busybox cpio (an independent reader) extracts the initramfs to the same files', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'difftest-cpio-'));
    try {
      const bb = readFileSync(busybox);
      const archive = path.join(dir, 'ir.cpio');
      writeFileSync(archive, buildInitramfs(bb, BOOT_OK_INIT));
      const out = path.join(dir, 'root');
      execFileSync('mkdir', [out]);
      execFileSync('sh', ['-c', `cd ${out} && ${busybox} cpio -i -d < ${archive}`]);
      expect(readFileSync(path.join(out, 'init'))).toEqual(Buffer.from(BOOT_OK_INIT));
      expect(readFileSync(path.join(out, 'bin/busybox')).equals(bb)).toBe(true);
      expect(statSync(path.join(out, 'init')).mode & 0o777).toBe(0o755);
      expect(statSync(path.join(out, 'proc')).isDirectory()).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
