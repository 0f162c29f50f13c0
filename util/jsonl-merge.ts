import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/**
 * Several JSON-lines files as one, line by line through streams: a campaign against a buggy
 * emulator saves tens of thousands of unlocated divergent cases, hundreds of MB, more than one
 * string can hold (joined in memory, `fuzz --inject rex-b-ignored` ended in "Invalid string
 * length" and lost the merge). `keep` filters lines; blank lines are dropped. Returns the lines written.
 */
export async function mergeJsonlFiles(parts: readonly string[], file: string, keep: (line: string) => boolean = () => true): Promise<number> {
  const out = createWriteStream(file);
  const failed = once(out, 'error').then(([err]) => Promise.reject(err as Error));
  failed.catch(() => undefined);
  let written = 0;
  for (const part of parts) {
    const lines = createInterface({ input: createReadStream(part, 'utf8'), crlfDelay: Infinity });
    for await (const line of lines) {
      if (!line.trim() || !keep(line)) continue;
      written++;
      if (!out.write(`${line}\n`)) await Promise.race([once(out, 'drain'), failed]);
    }
  }
  out.end();
  await Promise.race([once(out, 'finish'), failed]);
  return written;
}
