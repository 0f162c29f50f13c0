import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from './errors.js';

/**
 * Make sure `dir` is a directory we can write to, before anything expensive runs: a campaign
 * that finds divergences and then cannot save them has lost them. Creates it (and its parents),
 * writes and removes a probe file, and otherwise fails with one line naming the cause and the fix.
 * Returns the absolute path.
 */
export async function prepareOutDir(dir: string, option = '--out'): Promise<string> {
  const abs = path.resolve(dir);
  const existing = await stat(abs).catch(() => undefined);
  if (existing && !existing.isDirectory()) throw new UsageError(`${option} ${dir}: is a file; pass a directory`);
  try {
    await mkdir(abs, { recursive: true });
  } catch (err) {
    throw outDirError(dir, option, err);
  }
  const probe = path.join(abs, `.difftest-write-probe-${process.pid}`);
  try {
    await writeFile(probe, '');
    await rm(probe, { force: true });
  } catch (err) {
    throw outDirError(dir, option, err);
  }
  return abs;
}

function outDirError(dir: string, option: string, err: unknown): UsageError {
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  // mkdir -p under a path whose part is a file
  if (code === 'ENOTDIR' || code === 'EEXIST') return new UsageError(`${option} ${dir}: a part of that path is a file (${code}); pass a directory`);
  return new UsageError(`cannot write to ${option} ${dir} (${code}); choose a writable directory`);
}
