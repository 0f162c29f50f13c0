import { SetupError } from '../oracle/qemu/install.js';
import { QmpError } from '../oracle/qemu/qmp.js';
import { RspError } from '../oracle/rsp/errors.js';
import { CaseFileError } from '../corpus/case-schema.js';
import { ResultFileError } from '../reports/json.js';

import { UsageError } from '../util/errors.js';
import { CampaignError } from '../harness/campaign/campaign.js';

export { UsageError };

/** Errors whose message is already a complete one-line diagnosis for the user. */
export function isKnownError(err: unknown): err is Error {
  return (err instanceof CampaignError && err.known) || err instanceof SetupError || err instanceof RspError || err instanceof QmpError || err instanceof UsageError || err instanceof CaseFileError || err instanceof ResultFileError;
}

/** One line, never a stack trace (unless verbose). */
export function formatError(err: unknown, verbose: boolean): string {
  if (isKnownError(err)) return `difftest: ${err.message.replace(/\s*\n\s*/g, ' ')}`;
  const e = err instanceof Error ? err : new Error(String(err));
  if (verbose) return `difftest: internal error: ${e.stack ?? e.message}`;
  return `difftest: internal error: ${e.message.split('\n')[0]} (run again with --verbose for the stack trace, and please report it)`;
}
