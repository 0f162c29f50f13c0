import { appendFile, mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { encodeCase, type Case } from '../../corpus/case-schema.js';

/**
 * A found divergence could not be written to disk. Fatal for a campaign: going on would find
 * divergences only to lose them (before this error existed, each failed save was reported as an
 * oracle crash and the run ended with nothing saved).
 */
export class CaseSaveError extends Error {
  override readonly name = 'CaseSaveError';
}

function saveError(what: string, dir: string, err: unknown): CaseSaveError {
  const e = err as NodeJS.ErrnoException;
  return new CaseSaveError(`cannot save ${what} under ${dir} (${e.code ?? e.message}); free some space or choose a writable --out`);
}

/** Write a case atomically (temp file + rename): a crash never leaves half a case behind. */
export async function saveCase(dir: string, name: string, c: Case): Promise<string> {
  const file = path.join(dir, `${name}.json`);
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(tmp, `${JSON.stringify(encodeCase(c), null, 2)}\n`);
    await rename(tmp, file);
  } catch (err) {
    throw saveError(`case ${name}`, dir, err);
  }
  return file;
}

/**
 * Case files being written while the worker goes on (a save took ~1–3 ms of each located
 * divergence's time). `flush()` is awaited before the results that name the files are posted,
 * so the campaign never hears of a divergence that is not on disk.
 */
export class PendingSaves {
  private pending: Array<Promise<string>> = [];

  /** The file the case goes to (written in the background). */
  save(dir: string, name: string, c: Case): string {
    const p = saveCase(dir, name, c);
    p.catch(() => undefined); // surfaced by flush()
    this.pending.push(p);
    return path.join(dir, `${name}.json`);
  }

  /** Every save started so far is on disk; the first failure is thrown (CaseSaveError). */
  async flush(): Promise<void> {
    const all = this.pending;
    this.pending = [];
    await Promise.all(all);
  }
}

/** Append cases to a JSON-lines file (one encoded case per line), e.g. divergent cases not located. */
export async function appendCases(file: string, cases: readonly Case[]): Promise<void> {
  if (!cases.length) return;
  try {
    await mkdir(path.dirname(file), { recursive: true });
    await appendFile(file, cases.map((c) => `${JSON.stringify(encodeCase(c))}\n`).join(''));
  } catch (err) {
    throw saveError(`${cases.length} case(s) in ${path.basename(file)}`, path.dirname(file), err);
  }
}
