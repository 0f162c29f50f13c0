/** Small helpers for benchmarks: medians over rounds, and aligned printing. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Run `body` repeatedly for about `ms` milliseconds (at least `minIterations`); return operations/s. */
export async function ratePerSecond(body: () => Promise<void> | void, ms: number, minIterations = 10): Promise<number> {
  const start = performance.now();
  let n = 0;
  while (n < minIterations || performance.now() - start < ms) {
    await body();
    n++;
  }
  return (n * 1000) / (performance.now() - start);
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function printTable(title: string, rows: ReadonlyArray<readonly [string, string]>): void {
  process.stdout.write(`\n${title}\n`);
  const w = Math.max(...rows.map((r) => r[0].length));
  for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(w)}  ${v}\n`);
}
