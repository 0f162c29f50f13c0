import { pino, type Logger } from 'pino';

export type { Logger };

/** Level: DIFFTEST_LOG wins, then --verbose (debug), else quiet (warn). Logs go to stderr. */
export function resolveLogLevel(verbose = false): string {
  const env = process.env.DIFFTEST_LOG;
  if (env) return env;
  return verbose ? 'debug' : 'warn';
}

let root: Logger | undefined;

export function rootLogger(): Logger {
  root ??= pino({ level: resolveLogLevel(process.argv.includes('--verbose')), base: undefined }, pino.destination(2));
  return root;
}

export function setLogLevel(level: string): void {
  rootLogger().level = level;
}

export function childLogger(module: string): Logger {
  return rootLogger().child({ module });
}
