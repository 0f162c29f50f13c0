import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { encodeCase, type Case } from '../../corpus/case-schema.js';

/** Write a case atomically (temp file + rename): a crash never leaves half a case behind. */
export async function saveCase(dir: string, name: string, c: Case): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(encodeCase(c), null, 2)}\n`);
  await rename(tmp, file);
  return file;
}
