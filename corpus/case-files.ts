import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { CaseFileError, decodeCase, readCaseFile, unreadableCaseFile, type Case } from './case-schema.js';

/** A `.jsonl` file holds one encoded case per line (the campaign saves its unlocated divergent cases so). */
export const CASE_LINES_EXT = '.jsonl';

/**
 * The case files named on the command line: files as given, directories searched (recursively)
 * for files ending in one of `extensions` (default: `.json` only; `replay` adds `.jsonl`).
 */
export async function listCaseFiles(inputs: readonly string[], extensions: readonly string[] = ['.json']): Promise<string[]> {
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
      out.push(...entries.filter((e) => extensions.some((x) => e.endsWith(x))).sort().map((e) => path.join(input, e)));
    } else {
      out.push(input);
    }
  }
  return out;
}

/** One case of a file (`file` for a .json, `file:LINE` for a line of a .jsonl), or why it could not be read. */
export type CaseEntry = { readonly source: string; readonly case: Case } | { readonly source: string; readonly error: string };

/**
 * Every case in `file`, each decoded on its own: a bad line of a .jsonl file (or a bad .json file)
 * becomes an entry with its one-line error, and the others still come back.
 */
export async function readCaseEntries(file: string): Promise<CaseEntry[]> {
  if (!file.endsWith(CASE_LINES_EXT)) {
    try {
      return [{ source: file, case: await readCaseFile(file) }];
    } catch (err) {
      return [{ source: file, error: errorText(err) }];
    }
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return [{ source: file, error: unreadableCaseFile(file, err) }];
  }
  const out: CaseEntry[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const source = `${file}:${i + 1}`;
    try {
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch (err) {
        throw new CaseFileError(`${source}: not JSON (${(err as Error).message}); each line of a ${CASE_LINES_EXT} file holds one case`);
      }
      out.push({ source, case: decodeCase(json, source) });
    } catch (err) {
      out.push({ source, error: errorText(err) });
    }
  });
  if (out.length === 0) out.push({ source: file, error: `${file}: holds no cases (a ${CASE_LINES_EXT} file has one case per line)` });
  return out;
}

function errorText(err: unknown): string {
  if (err instanceof CaseFileError) return err.message;
  throw err; // not a problem of the file: let it surface as what it is
}
