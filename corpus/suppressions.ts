import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { CaseFileError } from './case-schema.js';

/**
 * Known, accepted divergences (like sanitizer suppressions): matched by signature, each with
 * a reason. Suppressed divergences are still reported, in their own section, never silently.
 */
/** The suppressions file fuzz, ci and replay read from the working directory when present. */
export const DEFAULT_SUPPRESSIONS = 'difftest-suppressions.json';

export const SuppressionsSchema = z.object({
  format: z.literal('difftest-suppressions/1'),
  suppressions: z.array(
    z.object({
      /** Exact signature, or a /regex/ matched against it. */
      signature: z.string().min(1),
      reason: z.string().min(1),
    }),
  ),
});
export type Suppressions = z.output<typeof SuppressionsSchema>;

export async function readSuppressions(file: string): Promise<Suppressions> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new CaseFileError(`${file}: cannot read suppressions (${(err as Error).message.split('\n')[0]})`);
  }
  const r = SuppressionsSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new CaseFileError(`${file}: not a valid suppressions file (${i.path.join('.') || '(root)'}: ${i.message})`);
  }
  for (const s of r.data.suppressions) {
    if (s.signature.startsWith('/')) {
      try {
        toMatcher(s.signature);
      } catch (err) {
        throw new CaseFileError(`${file}: bad regex ${s.signature} (${(err as Error).message})`);
      }
    }
  }
  return r.data;
}

function toMatcher(signature: string): (sig: string) => boolean {
  const m = /^\/(.*)\/([a-z]*)$/.exec(signature);
  if (m) {
    const re = new RegExp(m[1]!, m[2]);
    return (sig) => re.test(sig);
  }
  return (sig) => sig === signature;
}

/** The reason a signature is suppressed, or undefined. */
export function suppressionFor(s: Suppressions | undefined, signature: string): string | undefined {
  return s?.suppressions.find((x) => toMatcher(x.signature)(signature))?.reason;
}
