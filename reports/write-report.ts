/**
 * Write a campaign's report directory: result.json (machine-readable, re-renderable),
 * summary.md (terminal / PR comment), index.html (browser, from disk), junit.xml (CI).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CampaignResult } from '../harness/campaign-result.js';
import { renderHtml } from './html.js';
import { encodeResult } from './json.js';
import { renderJunit } from './junit.js';
import { renderMarkdown } from './markdown.js';

export { readResult, decodeResult, encodeResult, ResultFileError } from './json.js';

export const REPORT_FILES = ['result.json', 'summary.md', 'index.html', 'junit.xml'] as const;

export interface WrittenReport {
  readonly dir: string;
  /** Absolute-or-relative paths as joined from `dir`, in `REPORT_FILES` order. */
  readonly files: string[];
}

export async function writeReport(result: CampaignResult, dir: string): Promise<WrittenReport> {
  await mkdir(dir, { recursive: true });
  // result.json first: if a renderer throws, the data is already safe on disk.
  const json = join(dir, 'result.json');
  await writeFile(json, encodeResult(result));
  const rendered: [string, string][] = [
    ['summary.md', renderMarkdown(result)],
    ['index.html', renderHtml(result)],
    ['junit.xml', renderJunit(result)],
  ];
  const files = [json];
  for (const [name, text] of rendered) {
    const file = join(dir, name);
    await writeFile(file, text);
    files.push(file);
  }
  return { dir, files };
}
