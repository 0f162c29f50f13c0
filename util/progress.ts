/**
 * A one-line progress bar on stderr when it is a terminal; otherwise a plain line every
 * `intervalMs`, so CI logs show progress without carriage-return noise.
 */
export class Progress {
  /** -Infinity: the first update prints at once (a log shows the run started). */
  private lastLine = -Infinity;
  private readonly tty = Boolean(process.stderr.isTTY);
  private readonly started = performance.now();

  constructor(
    private readonly label: string,
    private readonly intervalMs = 10_000,
  ) {}

  update(done: number, total: number | undefined, extra: string): void {
    const now = performance.now();
    const elapsed = (now - this.started) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const frac = total ? Math.min(1, done / total) : undefined;
    const bar = frac === undefined ? '' : `[${'='.repeat(Math.round(frac * 24)).padEnd(24)}] `;
    const line = `${this.label} ${bar}${done}${total ? `/${total}` : ''} ${rate.toFixed(0)}/s ${elapsed.toFixed(0)}s ${extra}`;
    if (this.tty) {
      process.stderr.write(`\r${line.padEnd(100).slice(0, Math.max(100, line.length))}`);
    } else if (now - this.lastLine >= this.intervalMs) {
      this.lastLine = now;
      process.stderr.write(`${line}\n`);
    }
  }

  done(): void {
    if (this.tty) process.stderr.write('\n');
  }
}
