/**
 * `result.json`: the campaign result encoded by its zod schema (64-bit values as "0x…" strings),
 * and the reader that validates it back (`difftest report` re-renders from it).
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { CampaignResultSchema, type CampaignResult } from '../harness/campaign-result.js';

export function encodeResult(result: CampaignResult): string {
  return `${JSON.stringify(CampaignResultSchema.encode(result), null, 2)}\n`;
}

/** A result file that cannot be read: the message is one line naming the file and the zod path. */
export class ResultFileError extends Error {
  override readonly name = 'ResultFileError';
  constructor(
    readonly file: string,
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${file}: ${path ? `at ${path}: ` : ''}${problem}`);
  }
}

/** `divergences[0].diffs[1].expected` */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : out === '' ? String(k) : `.${String(k)}`;
  return out;
}

const HEX = /^0x[0-9a-fA-F]+$/;

/**
 * Field diffs' values are decoded with a bare `BigInt()` in the schema, which throws a
 * SyntaxError without a path on bad input: check them first so the error names the place.
 */
function precheckFieldDiffs(json: unknown): { path: string; problem: string } | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const divs = (json as { divergences?: unknown }).divergences;
  if (!Array.isArray(divs)) return undefined;
  for (const [i, d] of divs.entries()) {
    const diffs = (d as { diffs?: unknown } | null)?.diffs;
    if (!Array.isArray(diffs)) continue;
    for (const [j, f] of diffs.entries()) {
      for (const side of ['expected', 'actual'] as const) {
        const v = (f as Record<string, unknown> | null)?.[side];
        if (typeof v === 'string' && !HEX.test(v)) {
          return { path: `divergences[${i}].diffs[${j}].${side}`, problem: `expected a "0x…" hex string, got ${JSON.stringify(v).slice(0, 40)}` };
        }
      }
    }
  }
  return undefined;
}

export function decodeResult(text: string, file = 'result.json'): CampaignResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ResultFileError(file, '', `not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  const pre = precheckFieldDiffs(json);
  if (pre) throw new ResultFileError(file, pre.path, pre.problem);
  let parsed: ReturnType<typeof CampaignResultSchema.safeDecode>;
  try {
    parsed = CampaignResultSchema.safeDecode(json as z.input<typeof CampaignResultSchema>);
  } catch (e) {
    throw new ResultFileError(file, '', (e as Error).message.split('\n')[0] ?? 'invalid value');
  }
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const more = parsed.error.issues.length > 1 ? ` (and ${parsed.error.issues.length - 1} more problems)` : '';
    throw new ResultFileError(file, formatPath(issue.path) || '(root)', `${issue.message}${more}`);
  }
  return parsed.data;
}

/** Read and validate a `result.json`; throws `ResultFileError` with a one-line message. */
export async function readResult(file: string): Promise<CampaignResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ResultFileError(file, '', `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return decodeResult(text, file);
}
