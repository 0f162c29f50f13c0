/**
 * Write a campaign's report directory: result.json (machine-readable, re-renderable),
 * summary.md (terminal / PR comment), index.html (browser, from disk), junit.xml (CI).
 * Paths in all four are relative to the folder (paths.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path, { join } from 'node:path';
import type { CampaignResult } from '../harness/campaign-result.js';
import { renderHtml } from './html.js';
import { encodeResult } from './json.js';
import { renderJunit } from './junit.js';
import { renderMarkdown } from './markdown.js';
import { relativizeResult } from './paths.js';

export { readResult, decodeResult, encodeResult, ResultFileError } from './json.js';

export const REPORT_FILES = ['result.json', 'summary.md', 'index.html', 'junit.xml'] as const;

export interface WrittenReport {
  readonly dir: string;
  /** Absolute-or-relative paths as joined from `dir`, in `REPORT_FILES` order. */
  readonly files: string[];
}

export interface WriteReportOptions {
  /** Where the report folder's path is computed from for the replay note (default: the working directory). */
  readonly cwd?: string;
}

/** The folder as the replay note names it: relative to the checkout it was run from, else absolute. */
function reportLocation(dir: string, cwd: string): string {
  const rel = path.relative(cwd, path.resolve(dir));
  if (rel === '') return '.';
  return rel.startsWith('..') || path.isAbsolute(rel) ? path.resolve(dir) : rel.split(path.sep).join('/');
}

/**
 * Write the report folder `dir`. Case-file paths are made relative to it first
 * (`relativizeResult`), in result.json too, so that the folder can be archived or downloaded.
 */
export async function writeReport(result: CampaignResult, dir: string, options: WriteReportOptions = {}): Promise<WrittenReport> {
  await mkdir(dir, { recursive: true });
  const portable = relativizeResult(result, dir);
  const writtenTo = reportLocation(dir, options.cwd ?? process.cwd());
  // result.json first: if a renderer throws, the data is already safe on disk.
  const json = join(dir, 'result.json');
  await writeFile(json, encodeResult(portable));
  const rendered: [string, string][] = [
    ['summary.md', renderMarkdown(portable, { writtenTo })],
    ['index.html', renderHtml(portable, { writtenTo })],
    ['junit.xml', renderJunit(portable)],
  ];
  const files = [json];
  for (const [name, text] of rendered) {
    const file = join(dir, name);
    await writeFile(file, text);
    files.push(file);
  }
  return { dir, files };
}
