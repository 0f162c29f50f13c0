import { pino, type Logger } from 'pino';

export type { Logger };

/** Level: DIFFTEST_LOG wins, then --verbose (debug), else quiet (warn). Logs go to stderr. */
export function resolveLogLevel(verbose = false): string {
  const env = process.env.DIFFTEST_LOG;
  if (env) return env;
  return verbose ? 'debug' : 'warn';
}

let root: Logger | undefined;

/** Keys every record has; the rest are the record's own fields. */
const FRAME_KEYS = new Set(['level', 'time', 'msg', 'module', 'pid', 'hostname']);

function fieldText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(fieldText).join(',');
  if (v && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string') return (v as { message: string }).message;
  return JSON.stringify(v);
}

/** Context such as a tool's whole output is cut: the line names the cause; --verbose has everything. */
const CONTEXT_CHARS = 200;
const clip = (t: string) => (t.length > CONTEXT_CHARS ? `${t.slice(0, CONTEXT_CHARS)}… (--verbose for all of it)` : t);

/**
 * One pino record as the one line a user reads: `difftest: <msg>: <message or err> (<other
 * fields>)`, newlines folded. `message`/`err` are the cause, the rest is context.
 */
export function humanLogLine(record: string): string {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(record) as Record<string, unknown>;
  } catch {
    return record.endsWith('\n') ? record : `${record}\n`;
  }
  const cause = r.err ?? r.message;
  const rest = Object.entries(r).filter(([k]) => !FRAME_KEYS.has(k) && k !== 'err' && k !== 'message');
  const line =
    `difftest: ${fieldText(r.msg ?? '')}` +
    (cause !== undefined ? `: ${fieldText(cause)}` : '') +
    (rest.length ? ` (${rest.map(([k, v]) => `${k} ${clip(fieldText(v))}`).join(', ')})` : '');
  return `${line.replace(/\s*\n\s*/g, ' ')}\n`;
}

/** Levels at which the user asked for logs (--verbose, DIFFTEST_LOG=info|debug|trace): those get pino's JSON. */
function structured(level: string): boolean {
  return level === 'info' || level === 'debug' || level === 'trace';
}

/**
 * stderr, as pino JSON when structured logs were asked for, otherwise as one human line per
 * record: quiet runs print only warnings and errors, and a user should not get raw JSON for them.
 * Decided per record, because the level can change after the logger exists (setLogLevel).
 */
function stderrDestination(): { write(record: string): void } {
  // synchronous writes to fd 2, as pino.destination(2) gave before: worker threads write
  // directly, not through the main thread, and nothing is lost when a process exits
  const fd2 = pino.destination({ fd: 2, sync: true });
  return {
    write(record: string): void {
      fd2.write(root && structured(root.level) ? record : humanLogLine(record));
    },
  };
}

export function rootLogger(): Logger {
  root ??= pino({ level: resolveLogLevel(process.argv.includes('--verbose')), base: undefined }, stderrDestination());
  return root;
}

export function setLogLevel(level: string): void {
  rootLogger().level = level;
}

export function childLogger(module: string): Logger {
  return rootLogger().child({ module });
}
