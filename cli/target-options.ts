import { availableParallelism } from 'node:os';
import { DEFAULT_TIMEOUT_MS } from '../oracle/rsp/client.js';
import { UsageError } from '../util/errors.js';

/**
 * Options shared by the commands that talk to gdb stubs (replay, minimize, sample, fuzz):
 * spread `TARGET_OPTIONS` into a command's parseArgs options and read `--timeout` with
 * `parseTimeoutOption`, so every command names and checks it the same way.
 */
export const TARGET_OPTIONS = {
  timeout: { type: 'string' },
} as const;

export const TIMEOUT_USAGE = '[--timeout MS]';

/** One line for a command's --help. */
export const TIMEOUT_HELP =
  `--timeout MS: how long to wait for each reply of a gdb stub, in milliseconds (default ${DEFAULT_TIMEOUT_MS}); ` +
  'a stub that stays silent that long, or answers with something that is not the gdb protocol, ends the command with one line';

export const TIMEOUT_RANGE = { min: 10, max: 600_000 } as const;

/** `--timeout MS` → milliseconds, or undefined when the option is absent (each client's default applies). */
export function parseTimeoutOption(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < TIMEOUT_RANGE.min || n > TIMEOUT_RANGE.max) {
    throw new UsageError(`--timeout '${text}' must be a whole number of milliseconds from ${TIMEOUT_RANGE.min} to ${TIMEOUT_RANGE.max}`);
  }
  return n;
}

/** Workers when --workers is absent: one per core, as fuzz does (each runs its own QEMU). */
export function defaultWorkers(): number {
  return Math.min(availableParallelism(), 8);
}

export const WORKERS_MAX = 64;

/** `--workers N` → N, or the default. */
export function parseWorkersOption(text: string | undefined): number {
  if (text === undefined) return defaultWorkers();
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 1 || n > WORKERS_MAX) {
    throw new UsageError(`--workers '${text}' must be a whole number from 1 to ${WORKERS_MAX}`);
  }
  return n;
}
