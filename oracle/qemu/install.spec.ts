import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { locateQemu, parseQemuVersion, SetupError } from './install.js';

const dir = mkdtempSync(path.join(tmpdir(), 'difftest-install-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fakeQemu(versionLine: string): string {
  const p = path.join(dir, `qemu-${Math.random().toString(36).slice(2)}`);
  writeFileSync(p, `#!/bin/sh\necho '${versionLine}'\n`);
  chmodSync(p, 0o755);
  return p;
}

describe('finding QEMU', () => {
  it('parses the version line QEMU prints', () => {
    expect(parseQemuVersion('QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)')).toEqual([7, 2, 22]);
    expect(parseQemuVersion('QEMU emulator version 8.1')).toEqual([8, 1, 0]);
    expect(parseQemuVersion('something else')).toBeUndefined();
  });

  it('refuses QEMU older than 7.2 with a one-line reason', async () => {
    const err = await locateQemu({ DIFFTEST_QEMU: fakeQemu('QEMU emulator version 6.2.0') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SetupError);
    expect((err as Error).message).toMatch(/QEMU 6\.2\.0 .* is older than 7\.2/);
  });

  it('accepts a new enough QEMU and reports its version', async () => {
    const q = await locateQemu({ DIFFTEST_QEMU: fakeQemu('QEMU emulator version 9.0.1') });
    expect(q.version).toBe('9.0.1');
  });

  it('names a DIFFTEST_QEMU that does not exist', async () => {
    await expect(locateQemu({ DIFFTEST_QEMU: '/nonexistent/qemu' })).rejects.toThrow(/DIFFTEST_QEMU=\/nonexistent\/qemu does not exist/);
  });

  it('says which package to install when QEMU is missing and apt-get is out of reach', async () => {
    const err = await locateQemu({ PATH: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SetupError);
    expect((err as Error).message).toMatch(/^qemu-system-x86_64 not found; install it with: (sudo )?apt-get install qemu-system-x86$/);
  });

  it('finds the real QEMU on this machine', async () => {
    const q = await locateQemu();
    expect(parseQemuVersion(`QEMU emulator version ${q.version}`)![0]).toBeGreaterThanOrEqual(7);
  });
});
