import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from './errors.js';
import { prepareOutDir } from './out-dir.js';

const scratch = () => mkdtempSync(path.join(tmpdir(), 'difftest-out-'));

async function failure(dir: string): Promise<string> {
  const err = await prepareOutDir(dir).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UsageError);
  return (err as Error).message;
}

describe('prepareOutDir', () => {
  it('creates a nested directory, leaves no probe file behind, and returns its absolute path', async () => {
    const dir = path.join(scratch(), 'runs', 'one');
    expect(await prepareOutDir(dir)).toBe(path.resolve(dir));
    expect(existsSync(dir)).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('accepts an existing directory with files in it, and leaves them alone', async () => {
    const dir = scratch();
    writeFileSync(path.join(dir, 'keep.txt'), 'x');
    await prepareOutDir(dir);
    expect(readdirSync(dir)).toEqual(['keep.txt']);
  });

  it('refuses a file', async () => {
    const file = path.join(scratch(), 'report.html');
    writeFileSync(file, '');
    expect(await failure(file)).toBe(`--out ${file}: is a file; pass a directory`);
  });

  it('refuses a path under a file (unwritable even for root)', async () => {
    const file = path.join(scratch(), 'f');
    writeFileSync(file, '');
    expect(await failure(path.join(file, 'sub'))).toBe(`--out ${path.join(file, 'sub')}: a part of that path is a file (ENOTDIR); pass a directory`);
  });

  it('names the option it was given', async () => {
    const file = path.join(scratch(), 'f');
    writeFileSync(file, '');
    await expect(prepareOutDir(file, '--reports')).rejects.toThrow(`--reports ${file}: is a file; pass a directory`);
  });

  it.skipIf(process.getuid?.() === 0)('refuses a directory it cannot write to (root writes anywhere, so not as root)', async () => {
    const dir = path.join(scratch(), 'locked');
    mkdirSync(dir);
    chmodSync(dir, 0o500);
    try {
      expect(await failure(dir)).toBe(`cannot write to --out ${dir} (EACCES); choose a writable directory`);
      expect(await failure(path.join(dir, 'sub'))).toBe(`cannot write to --out ${path.join(dir, 'sub')} (EACCES); choose a writable directory`);
    } finally {
      chmodSync(dir, 0o700);
    }
  });
});
