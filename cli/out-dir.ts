import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../util/errors.js';

/**
 * Make sure a report directory can be written before anything runs: created, and a probe file
 * written and removed. Otherwise one line naming the cause and the fix (a campaign used to run to
 * its end and then fail, with every finding lost).
 */
export async function prepareOutDir(dir: string, what = '--out'): Promise<void> {
  const shown = path.relative(process.cwd(), dir) || '.';
  const existing = await stat(dir).catch(() => undefined);
  if (existing && !existing.isDirectory()) throw new UsageError(`${what} ${shown} is a file; pass a directory (it is created if missing)`);
  const probe = path.join(dir, `.difftest-probe-${process.pid}`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(probe, '');
    await rm(probe, { force: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(`cannot write to ${what} ${shown} (${e.code ?? e.message}); choose a writable directory`);
  }
}
