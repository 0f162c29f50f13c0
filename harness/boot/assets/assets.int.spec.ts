import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepareBootAssets } from './assets.js';
import { readNewc } from './cpio.js';
import { BOOT_OK_MARKER } from './initramfs.js';

/**
 * The real thing: Debian's kernel and busybox through apt-get, the symbol boot on QEMU. The first
 * run on a machine fetches and boots (about a minute); later runs reuse `.cache/boot`, as
 * `difftest boot` does.
 */
describe('boot assets', () => {
  const cacheDir = path.resolve('.cache/boot');

  it('prepares the kernel, initramfs and symbols, then reuses them', async () => {
    const lines: string[] = [];
    const first = await prepareBootAssets({ cacheDir, progress: (l) => lines.push(l) });
    expect(first.kernel.pvhEntry).toBeGreaterThan(0n);
    expect(first.kernel.version).toMatch(/^Debian linux-image-\S+-amd64 \S+ \(Linux version \d/);
    expect(readFileSync(first.kernel.elfPath).subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    // the lockstep initramfs parses back to the 4 entries, its /init printing the marker
    const entries = readNewc(readFileSync(first.initrd));
    expect(entries.map((e) => e.name)).toEqual(['bin', 'proc', 'bin/busybox', 'init']);
    expect(Buffer.from(entries[3]!.data).toString()).toContain(`echo ${BOOT_OK_MARKER}`);
    // symbols from the kernel itself, at link-time addresses
    expect(first.symbolsNote).toBeUndefined();
    expect(first.symbols.size).toBeGreaterThan(50_000);
    const startup = first.symbols.lookup('startup_64');
    expect(startup.map((s) => s.addr)).toEqual([0xffffffff81000000n]);
    expect(first.symbols.symbolize(first.kernel.pvhEntry)).toMatch(/^pvh_start_xen\+0x0\/0x[0-9a-f]+ \(phys alias\)$/);
    expect(lines.length).toBeGreaterThanOrEqual(first.steps.length); // a line per step at least

    const t0 = performance.now();
    const again = await prepareBootAssets({ cacheDir, progress: () => undefined });
    expect(again.steps.every((s) => s.cached)).toBe(true);
    expect(again.steps.map((s) => s.step)).toEqual(['kernel', 'initramfs', 'symbols']);
    expect(again.symbols.size).toBe(first.symbols.size);
    expect(performance.now() - t0).toBeLessThan(10_000);
  }, 300_000);

  it('refuses a kernel without a PVH note, and a file that is no kernel, in one line', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'difftest-assets-'));
    try {
      // /bin/ls: an x86-64 ELF executable, but not a PVH-bootable kernel
      await expect(prepareBootAssets({ cacheDir: dir, kernel: '/bin/ls' })).rejects.toThrow(
        /^--kernel \/bin\/ls has no PVH entry note \(Xen ELF note type 0x12\).*pass a kernel built with CONFIG_PVH=y/,
      );
      const junk = path.join(dir, 'junk.img');
      await writeFile(junk, Buffer.alloc(4096, 0x90));
      await expect(prepareBootAssets({ cacheDir: dir, kernel: junk })).rejects.toThrow(/is neither an ELF nor a boot image.*pass a vmlinux ELF or a bzImage/);
      await expect(prepareBootAssets({ cacheDir: dir, kernel: path.join(dir, 'missing') })).rejects.toThrow(/cannot read --kernel .*missing \(ENOENT\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
