import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';

type OptionsConfig = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

/**
 * `--seed -5` as `--seed=-5`: node's parser calls a value that starts with a dash ambiguous,
 * and the user then gets its advice instead of the option's own range message.
 */
function joinNegativeValues(argv: readonly string[], options: OptionsConfig): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : undefined;
    const next = argv[i + 1];
    if (name && options?.[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

/** Parse options strictly, turning node's errors into one-line usage errors. */
export function parseOptions<T extends OptionsConfig>(argv: string[], options: T, usageText: string) {
  try {
    return parseArgs({ args: joinNegativeValues(argv, options), options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split('\n')[0]}; usage: ${usageText.split('\n')[0]}`);
  }
}
