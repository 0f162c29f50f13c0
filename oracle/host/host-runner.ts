import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { SetupError } from '../qemu/install.js';
import { hostRunnerBinary } from './runner-build.js';

/**
 * The host runner process (host-runner.c) and its request/reply framing. One request at a time;
 * a reply that does not come within the timeout (a runner wedged by something no test machine
 * has) ends the process.
 */

const OP = { write: 1, read: 2, setContext: 3, getContext: 4, run: 5, cpuid: 6 } as const;
export const MEM_SIZE = 0x30000;
export const MAX_STOPS = 64;
const PROTOCOL_VERSION = 1;

/** The guest context as the runner holds it (host-runner.c struct guest). */
export interface HostContext {
  /** Encoding order: rax rcx rdx rbx rsp rbp rsi rdi r8..r15. */
  gpr: bigint[];
  rip: bigint;
  /** As the test machine has it: IF, IOPL, NT, ID and TF are the runner's virtual copies. */
  rflags: bigint;
  fsBase: bigint;
  gsBase: bigint;
  /** FXSAVE image, 512 bytes. */
  fx: Uint8Array;
}
const CONTEXT_BYTES = 16 * 8 + 4 * 8 + 512;

/** How a run ended (host-runner.c END_*). */
export type RunEnd = 'budget' | 'stop' | 'exception' | 'syscall';
const ENDS: readonly RunEnd[] = ['budget', 'stop', 'exception', 'syscall'];

export interface RunResult {
  readonly end: RunEnd;
  /** The hardware's vector (the kernel's trapno), for `exception`. */
  readonly vector: number;
  /** The hardware error code as the kernel reports it (#PF: with the U/S bit of CPL 3). */
  readonly errorCode: bigint;
  /** si_addr: the #PF linear address; for `syscall` the address after the instruction. */
  readonly faultAddr: bigint;
  readonly signal: number;
  readonly siCode: number;
  /** Instructions retired (an exception counts as one). */
  readonly steps: number;
  readonly syscallNr: number;
  /** The guest's FS (bit 0) or GS (bit 1) base could not be loaded: a CPL 3 process may only use user addresses. */
  readonly warnings: number;
  readonly context: HostContext;
}

export interface RunnerMapping {
  /** Page 0 (the test machine's IDT) is mapped at address 0; not without CAP_SYS_RAWIO when vm.mmap_min_addr > 0. */
  readonly page0: boolean;
}

export class HostRunnerError extends Error {
  override readonly name = 'HostRunnerError';
}

function mmapMinAddr(): string {
  try {
    return readFileSync('/proc/sys/vm/mmap_min_addr', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

export function encodeContext(c: HostContext): Uint8Array {
  const out = new Uint8Array(CONTEXT_BYTES);
  const v = new DataView(out.buffer);
  c.gpr.forEach((x, i) => v.setBigUint64(i * 8, BigInt.asUintN(64, x), true));
  [c.rip, c.rflags, c.fsBase, c.gsBase].forEach((x, i) => v.setBigUint64(128 + i * 8, BigInt.asUintN(64, x), true));
  out.set(c.fx.subarray(0, 512), 160);
  return out;
}

export function decodeContext(b: Uint8Array): HostContext {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const q = (o: number) => v.getBigUint64(o, true);
  return {
    gpr: Array.from({ length: 16 }, (_, i) => q(i * 8)),
    rip: q(128),
    rflags: q(136),
    fsBase: q(144),
    gsBase: q(152),
    fx: b.slice(160, 160 + 512),
  };
}

export class HostRunner {
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (r: { status: number; payload: Buffer }) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private exitError: Error | undefined;
  private stderr = '';

  private constructor(
    private readonly proc: ChildProcessByStdio<Writable, Readable, Readable>,
    private readonly timeoutMs: number,
  ) {
    proc.stdout.on('data', (d: Buffer) => this.onData(d));
    proc.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-2000);
    });
    proc.on('exit', (code, signal) => {
      const why = this.stderr.trim().split('\n')[0] || (signal ? `signal ${signal}` : `exit code ${code}`);
      this.exitError = new HostRunnerError(`the host runner exited (${why})`);
      this.waiting?.reject(this.exitError);
      this.waiting = undefined;
    });
    proc.stdin.on('error', () => undefined); // reported through 'exit'
  }

  mapping: RunnerMapping = { page0: false };

  /** Build (first use) and start a runner; a SetupError in one line when the host cannot run cases. */
  static async start(options: { timeoutMs?: number } = {}): Promise<HostRunner> {
    const binary = await hostRunnerBinary();
    const proc = spawn(binary, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    const runner = new HostRunner(proc, options.timeoutMs ?? 10_000);
    const hello = await runner.receive();
    const v = new DataView(hello.payload.buffer, hello.payload.byteOffset, hello.payload.byteLength);
    if (hello.payload.length < 12 || v.getUint32(0, true) !== PROTOCOL_VERSION) {
      runner.kill();
      throw new SetupError(`the host runner at ${binary} speaks another protocol; delete .cache/host-runner and run again`);
    }
    const errno = v.getUint32(8, true);
    if (hello.status !== 0) {
      runner.kill();
      throw new SetupError(
        `the host runner cannot map the test machine's pages at 0x1000-0x2ffff (errno ${errno}; vm.mmap_min_addr is ${mmapMinAddr()}${process.getuid?.() === 0 ? '' : ', not root'}): ` +
          'run as root or lower it (sysctl vm.mmap_min_addr=4096); cases use their own addresses and are not relocated',
      );
    }
    runner.mapping = { page0: (v.getUint32(4, true) & 1) !== 0 };
    return runner;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  private onData(d: Buffer): void {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, d]) : d;
    if (!this.waiting || this.buffered.length < 8) return;
    const len = this.buffered.readUInt32LE(4);
    if (this.buffered.length < 8 + len) return;
    const status = this.buffered.readUInt32LE(0);
    const payload = Buffer.from(this.buffered.subarray(8, 8 + len));
    this.buffered = this.buffered.subarray(8 + len);
    const w = this.waiting;
    this.waiting = undefined;
    clearTimeout(w.timer);
    w.resolve({ status, payload });
  }

  private receive(): Promise<{ status: number; payload: Buffer }> {
    if (this.exitError) return Promise.reject(this.exitError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        this.kill();
        reject(new HostRunnerError(`the host runner did not answer within ${this.timeoutMs} ms; it was stopped`));
      }, this.timeoutMs);
      this.waiting = { resolve, reject, timer };
      this.onData(Buffer.alloc(0));
    });
  }

  /** One request and its reply, after the requests before it. */
  private request(op: number, payload: Uint8Array): Promise<Buffer> {
    const next = this.queue.then(async () => {
      if (this.exitError) throw this.exitError;
      const head = Buffer.alloc(8);
      head.writeUInt32LE(op, 0);
      head.writeUInt32LE(payload.length, 4);
      const reply = this.receive();
      this.proc.stdin.write(payload.length ? Buffer.concat([head, payload]) : head);
      const r = await reply;
      if (r.status !== 0) throw new HostRunnerError(`the host runner refused request ${op} (status ${r.status})`);
      return r.payload;
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  async write(addr: bigint, bytes: Uint8Array): Promise<void> {
    const p = new Uint8Array(8 + bytes.length);
    new DataView(p.buffer).setBigUint64(0, addr, true);
    p.set(bytes, 8);
    await this.request(OP.write, p);
  }

  async read(addr: bigint, length: number): Promise<Uint8Array> {
    const p = new Uint8Array(12);
    const v = new DataView(p.buffer);
    v.setBigUint64(0, addr, true);
    v.setUint32(8, length, true);
    return new Uint8Array(await this.request(OP.read, p));
  }

  async setContext(c: HostContext): Promise<void> {
    await this.request(OP.setContext, encodeContext(c));
  }

  async getContext(): Promise<HostContext> {
    return decodeContext(await this.request(OP.getContext, new Uint8Array(0)));
  }

  /** Single-step up to `maxSteps` instructions, ending before any address in `stops`, at an exception or a system call. */
  async run(maxSteps: number, stops: readonly bigint[]): Promise<RunResult> {
    if (stops.length > MAX_STOPS) throw new HostRunnerError(`at most ${MAX_STOPS} stop addresses`);
    const p = new Uint8Array(16 + 8 * stops.length);
    const v = new DataView(p.buffer);
    v.setBigUint64(0, BigInt(maxSteps), true);
    v.setUint32(8, stops.length, true);
    stops.forEach((s, i) => v.setBigUint64(16 + 8 * i, s, true));
    const r = await this.request(OP.run, p);
    const d = new DataView(r.buffer, r.byteOffset, r.byteLength);
    return {
      end: ENDS[d.getUint32(0, true)] ?? 'exception',
      vector: d.getUint32(4, true),
      errorCode: d.getBigUint64(8, true),
      faultAddr: d.getBigUint64(16, true),
      signal: d.getInt32(24, true),
      siCode: d.getInt32(28, true),
      steps: Number(d.getBigUint64(32, true)),
      syscallNr: Number(d.getBigUint64(40, true)),
      warnings: Number(d.getBigUint64(48, true)),
      context: decodeContext(r.subarray(56)),
    };
  }

  /** CPUID executed by the host CPU (in the runner's own code). */
  async cpuid(leaf: number, subleaf = 0): Promise<[number, number, number, number]> {
    const p = new Uint8Array(8);
    const v = new DataView(p.buffer);
    v.setUint32(0, leaf, true);
    v.setUint32(4, subleaf, true);
    const r = await this.request(OP.cpuid, p);
    return [r.readUInt32LE(0), r.readUInt32LE(4), r.readUInt32LE(8), r.readUInt32LE(12)];
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }

  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.stdin.end();
    const t = setTimeout(() => this.kill(), 1000);
    await exited;
    clearTimeout(t);
  }
}
