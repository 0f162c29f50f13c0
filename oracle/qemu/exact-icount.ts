import { execFile } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { setPipeSize } from './cpu-log-stream.js';
import type { KernelQemu } from './kernel-qemu.js';

/**
 * The middle stretch of a run to an exact instruction count. QEMU stops only when its vCPU looks
 * up from its work: a QMP 'stop' or a gdb interrupt lands a millisecond or more after it is sent,
 * 10^5 to 10^6 instructions later at ~170M instructions/s, too coarse to aim at one instruction and
 * too far to cover by gdb single steps (~7k/s). Here QEMU prints a line before every block it runs
 * (`log exec,nochain`) into a FIFO whose pipe size is set, and the reader decides how far
 * it may get: once the reader stops reading, QEMU blocks on its next write, within a pipe and a
 * stdio buffer of lines (IN_FLIGHT). First at block granularity: after reading its instruction
 * count, QEMU is let run as many more blocks as should not pass the aim (at four times the
 * average block size seen); then (`singlestep on`) a line per instruction, counted to `margin` short. The
 * caller single-steps the rest over gdb. An exception's line retires nothing, so QEMU may end a
 * little shorter, never further.
 */

/**
 * Pipe sizes and the lines that can be in flight past the point where reading stops (the pipe,
 * a stdio buffer, a block; lines are ~75 bytes, never under 60): a large pipe while blocks are let
 * through (reading a page per millisecond held QEMU to ~50k lines/s), a smaller one per instruction.
 */
const BLOCK_PIPE = 1 << 20;
const BLOCK_IN_FLIGHT = Math.ceil((BLOCK_PIPE + 8192) / 60) + 16;
const INSN_PIPE = 64 << 10;
const IN_FLIGHT = Math.ceil((INSN_PIPE + 8192) / 60) + 16;
const PAGE = 64 << 10;
/** TCG's largest translation block (TCG_MAX_INSNS). */
const MAX_BLOCK_INSNS = 512;
/** Below this many instructions to go, count per instruction. */
const PER_INSTRUCTION_BELOW = 400_000;

class LineGate {
  private readonly buf = Buffer.allocUnsafe(PAGE);
  lines = 0;

  constructor(private readonly fd: number) {}

  /** Read what is there, counting lines, until `limit` lines are in (false: nothing was there). */
  drain(limit: number): boolean {
    let got = false;
    while (this.lines < limit) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, PAGE, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw err;
      }
      if (n <= 0) break;
      got = true;
      for (let i = 0; i < n; i++) if (this.buf[i] === 10) this.lines++;
    }
    return got;
  }

  /** Let QEMU print up to `limit` lines in all. */
  async until(limit: number): Promise<void> {
    let idle = 0;
    while (this.lines < limit) {
      if (this.drain(limit)) idle = 0;
      else {
        if (++idle > 10_000) throw new Error('QEMU printed nothing for 10 s while running to an instruction count');
        await new Promise((r) => setTimeout(r, 1));
      }
    }
  }

  /**
   * Stop QEMU, which sits blocked on a full pipe: its vCPU must finish that write before it can
   * pause, so the pipe is drained, but only after the main loop has had time to take the request
   * (it does not wait for the vCPU), and a page at a time: QEMU pauses after the first.
   */
  async stop(k: KernelQemu): Promise<void> {
    const stopped = k.qmp.execute('stop');
    await new Promise((r) => setTimeout(r, 50));
    const pump = setInterval(() => this.drain(this.lines + 1), 20);
    try {
      await stopped;
    } finally {
      clearInterval(pump);
    }
  }
}

async function hmp(k: KernelQemu, cmd: string): Promise<void> {
  const reply = (await k.qmp.humanMonitorCommand(cmd)).trim();
  if (reply) throw new Error(`QEMU refused '${cmd}': ${reply}`);
}

/** Run QEMU (stopped at instruction count `from`) to at most `margin` short of `target`. */
export async function runCountingLines(k: KernelQemu, from: number, target: number, margin = 1500): Promise<void> {
  if (target - from <= margin) return;
  if (margin < IN_FLIGHT) throw new Error(`margin ${margin} is below the ${IN_FLIGHT} lines that can be in flight`);
  const fifo = path.join(k.target.qemu.dir, 'exec-log.fifo');
  if (!existsSync(fifo)) await promisify(execFile)('mkfifo', [fifo]);
  const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  const gate = new LineGate(fd);
  let pump: NodeJS.Timeout | undefined;
  try {
    await hmp(k, `logfile ${fifo}`);
    let icount = from;
    if (target - icount > PER_INSTRUCTION_BELOW) {
      // blocks: each line may be up to MAX_BLOCK_INSNS instructions, those in flight included
      await setPipeSize(fifo, BLOCK_PIPE);
      await hmp(k, 'singlestep off');
      await hmp(k, 'log exec,nochain');
      await k.qmp.execute('cont');
      // Blocks are sized as the largest average seen times 4 (at most TCG's largest): TCG's own
      // bound alone would let each round cover ~1% of the way. A stretch of unusually long blocks
      // can carry QEMU past the aim; reachIcount then boots again.
      let perBlock = 64;
      for (;;) {
        const room = target - PER_INSTRUCTION_BELOW / 2 - icount;
        const blocks = Math.floor(room / perBlock) - BLOCK_IN_FLIGHT;
        if (blocks < 50) break;
        const lines0 = gate.lines;
        await gate.until(lines0 + blocks);
        const now = await k.icount(); // QEMU is blocked on the pipe, or at most IN_FLIGHT lines on
        perBlock = Math.min(MAX_BLOCK_INSNS, Math.max(perBlock / 2, 4 * ((now - icount) / (gate.lines - lines0)) + 8));
        icount = now;
      }
      await gate.stop(k);
      await hmp(k, 'log none');
      gate.drain(Number.MAX_SAFE_INTEGER);
      icount = await k.icount();
    }
    if (target - icount > margin) {
      // instructions: a line before each
      gate.lines = 0;
      if ((await setPipeSize(fifo, INSN_PIPE)) !== INSN_PIPE) throw new Error('could not set the size of the pipe QEMU logs into (perl missing?): an exact instruction count needs it');
      await hmp(k, 'singlestep on');
      await hmp(k, 'log exec,nochain');
      await k.qmp.execute('cont');
      await gate.until(target - icount - margin);
      await gate.stop(k);
    }
    pump = setInterval(() => gate.drain(Number.MAX_SAFE_INTEGER), 1);
    await hmp(k, 'log none');
    await hmp(k, 'singlestep off');
  } finally {
    if (pump) clearInterval(pump);
    closeSync(fd);
  }
}
