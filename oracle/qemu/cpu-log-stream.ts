import { execFile } from 'node:child_process';
import { constants, openSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { CpuLogParser, type LogRecord } from './cpu-log.js';
import type { KernelQemu } from './kernel-qemu.js';

/**
 * QEMU's per-instruction trace, switched on at a stop (the start point) and streamed through a
 * FIFO: HMP `logfile FIFO`, `singlestep on` (one instruction per translation block), `log
 * cpu,int,nochain` (a register dump before every block, and every interrupt delivered). QEMU
 * blocks on the FIFO when the reader falls behind, so it never runs more than a pipe's worth
 * ahead of the comparison. The FIFO is opened read-write by us first, so QEMU's open never waits.
 */
export class CpuLogStream {
  private readonly parser = new CpuLogParser();
  private queue: LogRecord[] = [];
  /** Records before this index in `queue` were handed out (removed in batches, not one shift each). */
  private head = 0;
  private waiter: (() => void) | undefined;
  private failed: Error | undefined;
  private paused = false;
  /** Records handed out. */
  count = 0;

  private constructor(
    private readonly k: KernelQemu,
    private readonly stream: net.Socket,
    readonly fifo: string,
  ) {
    stream.on('data', (chunk: Buffer | string) => {
      try {
        this.parser.feed(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
        for (const r of this.parser.take()) this.queue.push(r);
      } catch (err) {
        this.failed = err as Error;
      }
      if (this.queue.length - this.head > 20_000 && !this.paused) {
        this.paused = true;
        stream.pause();
      }
      this.wake();
    });
    stream.on('error', (err) => {
      this.failed = err;
      this.wake();
    });
  }

  static async start(k: KernelQemu): Promise<CpuLogStream> {
    const fifo = path.join(k.target.qemu.dir, 'cpu-log.fifo');
    await promisify(execFile)('mkfifo', [fifo]);
    // A socket over the FIFO: libuv polls it, where a file stream would park a blocking read in
    // the thread pool that nothing can cancel (the process could then never exit).
    const fd = openSync(fifo, constants.O_RDWR);
    const stream = new net.Socket({ fd, readable: true, writable: false });
    const s = new CpuLogStream(k, stream, fifo);
    for (const cmd of [`logfile ${fifo}`, 'singlestep on', 'log cpu,int,nochain']) {
      const reply = (await k.qmp.humanMonitorCommand(cmd)).trim();
      if (reply) throw new Error(`QEMU refused '${cmd}': ${reply}`);
    }
    return s;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** The next record if one is already parsed (no promise per record on the hot path). */
  tryNext(): LogRecord | undefined {
    if (this.failed) throw this.failed;
    const r = this.head < this.queue.length ? this.queue[this.head++] : undefined;
    if (!r) return undefined;
    if (this.head >= 4096) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (this.paused && this.queue.length - this.head < 5_000) {
      this.paused = false;
      this.stream.resume();
    }
    this.count++;
    return r;
  }

  /** The next record, or undefined when none arrives within `idleMs` (QEMU stopped, or is stuck). */
  async next(idleMs = 10_000): Promise<LogRecord | undefined> {
    for (;;) {
      const r = this.tryNext();
      if (r) return r;
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<'idle'>((resolve) => (timer = setTimeout(() => resolve('idle'), idleMs)));
      const data = new Promise<'data'>((resolve) => (this.waiter = () => resolve('data')));
      const why = await Promise.race([idle, data]);
      clearTimeout(timer);
      if (why === 'idle') {
        this.waiter = undefined;
        return undefined;
      }
    }
  }

  /** Logging off (QEMU keeps its state); the FIFO is closed. */
  async stop(): Promise<void> {
    await this.k.qmp.humanMonitorCommand('log none').catch(() => undefined);
    await this.k.qmp.humanMonitorCommand('singlestep off').catch(() => undefined);
    this.stream.destroy();
  }
}
