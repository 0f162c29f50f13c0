import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { CaseFileError } from './case-schema.js';

/** The case files named on the command line: files as given, directories searched for *.json. */
export async function listCaseFiles(inputs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const input of inputs) {
    let st;
    try {
      st = await stat(input);
    } catch {
      throw new CaseFileError(`${input}: no such file or directory`);
    }
    if (st.isDirectory()) {
      const entries = await readdir(input, { recursive: true });
      out.push(...entries.filter((e) => e.endsWith('.json')).sort().map((e) => path.join(input, e)));
    } else {
      out.push(input);
    }
  }
  return out;
}
