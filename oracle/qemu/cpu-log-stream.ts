import { execFile } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, read, readSync, writeSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CpuLogParser, type LogRecord } from './cpu-log.js';
import type { KernelQemu } from './kernel-qemu.js';

/**
 * QEMU's per-instruction trace, switched on at a stop (the start point) and streamed through a
 * FIFO: HMP `logfile FIFO`, `singlestep on` (one instruction per translation block), `log
 * cpu,int,nochain` (a register dump before every block, and every interrupt delivered). QEMU
 * blocks on the FIFO when the reader falls behind, so it never runs more than a pipe's worth
 * ahead of the comparison.
 *
 * The FIFO is read synchronously (non-blocking), in bulk, only when the parsed records run out:
 * QEMU writes ~2.5 KB at a time, and a reader woken by the event loop for each write spent ~5 us
 * of CPU per instruction on wake-ups alone (measured: a reader that only counted bytes), CPU that
 * QEMU needs on a 2-core machine. Only when nothing is there does a read wait for QEMU (in the
 * thread pool); the pipe is enlarged to 1 MiB (~900 records) so that QEMU seldom waits for us. The FIFO is opened read-write by us first, so QEMU's open never waits.
 */

/** F_SETPIPE_SZ (linux/fcntl.h). */
const F_SETPIPE_SZ = 1031;
const PIPE_BYTES = 1 << 20;
/** Bytes read at once when the parsed records run out: ~110 records, so text and records stay in cache. */
const READ_BYTES = 128 << 10;
/** A read returning less than this after a wait is a trickle (see next()). */
const TRICKLE_BYTES = 16 << 10;
const PAUSE_MS = 1;
/** Parsed records held before reading stops (QEMU then fills the pipe and waits). */
const MAX_QUEUED = 20_000;

/**
 * Set the size of the pipe behind `fifo` (its size belongs to the pipe, so any process holding it
 * open may set it; Node has no fcntl, perl-base is in every Debian). Returns the size now in
 * effect, or undefined when it could not be changed (the default 64 KiB then stays).
 */
export async function setPipeSize(fifo: string, bytes: number): Promise<number | undefined> {
  const script = `open(my $f, '+<', $ARGV[0]) or exit 1; my $n = fcntl($f, ${F_SETPIPE_SZ}, ${bytes}); print(defined $n ? $n : 0);`;
  try {
    const { stdout } = await promisify(execFile)('perl', ['-e', script, fifo], { timeout: 5000 });
    const n = Number(stdout.trim());
    return n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export class CpuLogStream {
  private readonly parser = new CpuLogParser();
  private queue: LogRecord[] = [];
  /** Records before this index in `queue` were handed out (removed in batches, not one shift each). */
  private head = 0;
  private closed = false;
  private failed: Error | undefined;
  /**
   * Reads on whenever the lockstep awaits something else (a QMP 'stop' above all): QEMU's vCPU
   * blocked on a full pipe cannot pause, so a 'stop' nobody drained for would never be answered.
   */
  private readonly pump = setInterval(() => {
    try {
      this.fill(Number.MAX_SAFE_INTEGER);
    } catch (err) {
      this.failed = err as Error;
    }
  }, 2);
  /** Records handed out. */
  count = 0;
  /** Time spent waiting for QEMU's next record (ms), and parsing what arrived (ms): where the lockstep's time goes. */
  waitedMs = 0;
  parseMs = 0;
  bytes = 0;
  reads = 0;

  private constructor(
    private readonly k: KernelQemu,
    private readonly fd: number,
    /** The same FIFO opened blocking, for reads that wait for QEMU in the thread pool. */
    private readonly blockingFd: number,
    readonly fifo: string,
    /** The pipe's size, when it could be enlarged. */
    readonly pipeBytes: number | undefined,
  ) {}

  /**
   * Switch the trace on (QEMU stopped). `blocks`: without `singlestep`, a record before every
   * translation block (straight-line code up to a branch, an I/O instruction under -icount, a page
   * end) instead of every instruction.
   */
  static async start(k: KernelQemu, options: { blocks?: boolean } = {}): Promise<CpuLogStream> {
    const fifo = path.join(k.target.qemu.dir, 'cpu-log.fifo');
    if (!existsSync(fifo)) await promisify(execFile)('mkfifo', [fifo]); // else left by an earlier stream of this QEMU
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    const s = new CpuLogStream(k, fd, openSync(fifo, constants.O_RDONLY), fifo, await setPipeSize(fifo, PIPE_BYTES));
    for (const cmd of [`logfile ${fifo}`, options.blocks ? 'singlestep off' : 'singlestep on', 'log cpu,int,nochain']) {
      const reply = (await k.qmp.humanMonitorCommand(cmd)).trim();
      if (reply) {
        await s.close();
        throw new Error(`QEMU refused '${cmd}': ${reply}`);
      }
    }
    return s;
  }

  /** Read and parse what QEMU has written so far; false when nothing was there. */
  private fill(maxQueued = MAX_QUEUED): boolean {
    if (this.closed || this.inflight) return false; // an async read holds the parser's buffer
    let got = false;
    while (this.queue.length - this.head < maxQueued) {
      const t0 = performance.now();
      const n = this.parser.readInto((buf, at, max) => {
        try {
          return readSync(this.fd, buf, at, max, null);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return 0;
          throw err;
        }
      }, READ_BYTES);
      if (n <= 0) break;
      for (const r of this.parser.take()) this.queue.push(r);
      this.parseMs += performance.now() - t0;
      this.reads++;
      this.bytes += n;
      got = true;
      if (n < READ_BYTES || maxQueued === MAX_QUEUED) break;
    }
    return got;
  }

  /** The next record if one is already written (no promise per record on the hot path). */
  tryNext(): LogRecord | undefined {
    if (this.failed) throw this.failed;
    if (this.head >= this.queue.length) {
      if (this.head > 0) {
        this.queue = [];
        this.head = 0;
      }
      if (!this.fill()) return undefined;
      if (this.head >= this.queue.length) return undefined;
    }
    const r = this.queue[this.head++]!;
    this.count++;
    return r;
  }

  /** The next record, or undefined when none arrives within `idleMs` (QEMU stopped, or is stuck). */
  async next(idleMs = 10_000): Promise<LogRecord | undefined> {
    const t0 = performance.now();
    for (;;) {
      const r = this.tryNext();
      if (r) {
        this.waitedMs += performance.now() - t0;
        return r;
      }
      const left = idleMs - (performance.now() - t0);
      if (left <= 0 || this.closed) {
        this.waitedMs += performance.now() - t0;
        return undefined;
      }
      // Nothing there: a read that blocks in libuv's thread pool until QEMU writes (a wake-up when
      // data comes, no polling: a 1 ms timer fired tens of ms late on a loaded machine, while
      // QEMU filled the pipe and waited)
      let timer: NodeJS.Timeout | undefined;
      const before = this.bytes;
      await Promise.race([this.readAsync(), new Promise((r) => (timer = setTimeout(r, left)))]);
      clearTimeout(timer);
      // QEMU writes a record (~1.1 KB) at a time: woken for each, the reader spends a thread-pool
      // hand-off and a timer per record, more than parsing it costs. After a trickle, a short
      // pause lets records pile up in the pipe (1 MiB holds ~10 ms of QEMU's output), and the
      // next fill() takes them in one read.
      if (this.bytes - before < TRICKLE_BYTES) await new Promise((r) => setTimeout(r, PAUSE_MS));
    }
  }

  /** The read in flight, if any: it holds the parser's buffer until it completes. */
  private inflight: Promise<void> | undefined;

  private readAsync(): Promise<void> {
    if (this.inflight) return this.inflight;
    const { buf, at } = this.parser.room(READ_BYTES);
    this.inflight = new Promise<void>((resolve) => {
      read(this.blockingFd, buf, at, READ_BYTES, null, (err, n) => {
        this.inflight = undefined;
        if (err) this.failed = err;
        else if (!this.closing) {
          this.parser.commit(n);
          for (const r of this.parser.take()) this.queue.push(r);
          this.reads++;
          this.bytes += n;
        }
        resolve();
      });
    });
    return this.inflight;
  }

  private closing = false;

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    clearInterval(this.pump);
    // a read blocked in the thread pool cannot be cancelled: give it a byte to return with
    if (this.inflight) {
      writeSync(this.fd, '\n');
      await this.inflight;
    }
    closeSync(this.blockingFd);
    closeSync(this.fd);
  }

  /** Logging off (QEMU keeps its state); the FIFO is closed. */
  async stop(): Promise<void> {
    await this.k.qmp.humanMonitorCommand('log none').catch(() => undefined);
    await this.k.qmp.humanMonitorCommand('singlestep off').catch(() => undefined);
    await this.close();
  }
}
