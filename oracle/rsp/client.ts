import net from 'node:net';
import { childLogger, type Logger } from '../../util/log.js';
import { encodePacket, hexDump, parseErrorReply, RspFrameParser, type RspFrame } from './codec.js';
import { RspChecksumError, RspClosedError, RspProtocolError, RspStubError, RspTimeoutError, type RspError } from './errors.js';

export type RspEndpoint = { path: string } | { host: string; port: number };

export function describeEndpoint(e: RspEndpoint): string {
  return 'path' in e ? `unix:${e.path}` : `${e.host}:${e.port}`;
}

/** Per-request timeout when none is given (`--timeout`). */
export const DEFAULT_TIMEOUT_MS = 5000;

export interface RspClientOptions {
  /** Default per-request timeout; also bounds the connect itself. */
  readonly timeoutMs?: number;
  /** Extra context for "connection closed" errors, e.g. the tail of QEMU's stderr. */
  readonly closeDetail?: () => string;
  readonly logger?: Logger;
}

export interface RequestOptions {
  readonly timeoutMs?: number;
  /** 'reply': one reply packet; 'stop': a stop reply (console `O` packets skipped); 'console': `O` packets
   * collected until `OK` (qRcmd), resolving to the decoded text; 'none': no reply. */
  readonly expect?: 'reply' | 'stop' | 'console' | 'none';
  /** Allow `E NN` as a normal reply instead of throwing. */
  readonly allowError?: boolean;
}

interface Pending {
  readonly label: string;
  readonly packet: Uint8Array;
  readonly expect: 'reply' | 'stop' | 'console';
  console: string;
  readonly allowError: boolean;
  resolve(payload: string): void;
  reject(err: Error): void;
  retransmits: number;
  badChecksums: number;
  /** The first non-packet bytes received while waiting (kept for the error message), and how many came in all. */
  garbage: number[];
  garbageBytes: number;
  readonly timeoutMs: number;
  readonly deadline: number;
}

const MAX_RETRIES = 3;
const PLUS_BYTE = Buffer.from('+');
/** Non-packet bytes kept for an error message. */
const GARBAGE_KEPT = 96;
/**
 * More non-packet bytes than this while waiting for a reply, or an unfinished packet longer than
 * MAX_PACKET, is not a gdb stub having a bad moment: fail now rather than at the timeout (and
 * never buffer a peer's endless output). QEMU's packets are at most 4 KiB.
 */
const MAX_GARBAGE = 4096;
const MAX_PACKET = 256 * 1024;

/**
 * gdb remote serial protocol client: one request in flight (or one pipelined group, see
 * requestPipelined), the rest queued in order. Every failure becomes a typed RspError naming
 * the request and what was received. A timeout or a protocol error closes the connection: which
 * reply answers which request is lost from then on, and an open socket to a stub that stopped
 * talking would keep the process alive until the stub hangs up. Only `E NN` replies leave it open.
 */
export class RspClient {
  private readonly parser = new RspFrameParser();
  private readonly log: Logger;
  private readonly trace: boolean;
  /** Requests sent and not yet answered, oldest first (more than one only while pipelining). */
  private inflight: Pending[] = [];
  private readonly queue: Array<() => void> = [];
  /** Acks owed to the stub, one per packet received, sent with our next write. */
  private acksOwed = 0;
  private ackFlushScheduled = false;
  private readonly packetCache = new Map<string, Uint8Array>();
  private readonly watchdog: NodeJS.Timeout;
  /** Why the connection is closed (requests made from then on fail with it); undefined while open. */
  private closedError: RspError | undefined;

  private constructor(
    private readonly socket: net.Socket,
    private readonly endpoint: RspEndpoint,
    private readonly options: RspClientOptions,
  ) {
    this.log = options.logger ?? childLogger('rsp');
    this.trace = this.log.isLevelEnabled('debug');
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.onClose(options.closeDetail ? 'the stub closed the connection' : 'the stub closed the connection (did it quit or crash? check its output and restart it)'));
    socket.on('error', (err) => this.onClose(`socket error: ${err.message}`));
    // One sweeping timer instead of a timer per request: requests are far more frequent than timeouts.
    this.watchdog = setInterval(() => this.checkDeadline(), 20);
    this.watchdog.unref();
  }

  private get pending(): Pending | undefined {
    return this.inflight[0];
  }

  private checkDeadline(): void {
    const p = this.pending;
    if (!p || performance.now() < p.deadline) return;
    this.inflight.shift();
    const partial = this.parser.partial;
    const got = [
      p.garbage.length ? `received non-packet bytes ${garbageText(p)}` : '',
      partial.length ? `an unfinished packet ${hexDump(partial)}` : '',
    ].filter(Boolean);
    p.reject(
      new RspTimeoutError(
        `no reply to '${p.label}' from ${describeEndpoint(this.endpoint)} within ${p.timeoutMs} ms` +
          (got.length ? `; ${got.join(' and ')}` : '') +
          ' (the stub is hung or does not speak the gdb protocol; restart it, or raise --timeout MS if it is only slow)',
      ),
    );
    this.abort(new RspTimeoutError(`no reply to '${p.label}' from ${describeEndpoint(this.endpoint)}, so none to the requests after it; the connection is closed`));
  }

  /** Reject every request still in flight (a pipelined group whose order is lost). */
  private failRestOfGroup(err: Error): void {
    for (const p of this.inflight.splice(0)) p.reject(err);
  }

  private encode(payload: string): Uint8Array {
    if (payload.length > 16) return encodePacket(payload);
    let packet = this.packetCache.get(payload);
    if (!packet) {
      packet = encodePacket(payload);
      this.packetCache.set(payload, packet);
    }
    return packet;
  }

  static connect(endpoint: RspEndpoint, options: RspClientOptions = {}): Promise<RspClient> {
    return new Promise((resolve, reject) => {
      const socket = 'path' in endpoint ? net.connect(endpoint.path) : net.connect(endpoint.port, endpoint.host);
      const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      // a TCP host that drops packets never refuses: without this the connect waits for minutes
      const timer = setTimeout(() => fail(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(
          new RspClosedError(
            `cannot connect to gdb stub at ${describeEndpoint(endpoint)}: ${err.message}` +
              ' (is the emulator running with its gdb stub on that address?)',
          ),
        );
      };
      socket.once('error', fail);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', fail);
        resolve(new RspClient(socket, endpoint, options));
      });
    });
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /** Send a packet and wait for its reply. Requests are serialized. */
  request(payload: string, options: RequestOptions = {}): Promise<string> {
    if (!this.pending && this.queue.length === 0) return this.send(payload, options);
    return new Promise<string>((resolve, reject) => {
      this.queue.push(() => this.send(payload, options).then(resolve, reject));
    });
  }

  /**
   * Send several packets in one write without waiting for each reply, and collect the replies in
   * order. Only for requests that do not run the target (memory and register writes): each costs
   * the stub's processing, not a round trip. Stubs answer packets in order (QEMU's abandons
   * waiting for an ack when the next packet starts); a `-` from the stub, or a reply that fails
   * its checksum, loses which packet it belongs to, so the whole group then fails.
   */
  requestPipelined(payloads: readonly string[], options: Omit<RequestOptions, 'expect'> = {}): Promise<string[]> {
    if (payloads.length <= 1) return Promise.all(payloads.map((p) => this.request(p, options)));
    const run = () => this.sendGroup(payloads, options);
    if (!this.pending && this.queue.length === 0) return run();
    return new Promise<string[]>((resolve, reject) => {
      this.queue.push(() => run().then(resolve, reject));
    });
  }

  private sendGroup(payloads: readonly string[], options: Omit<RequestOptions, 'expect'>): Promise<string[]> {
    if (this.closedError) return Promise.reject(this.closedError);
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (this.trace) this.log.debug({ out: `${payloads.length} pipelined packets` }, 'rsp ->');
    const packets = payloads.map((p) => this.encode(p));
    const replies = packets.map(
      (packet, i) =>
        new Promise<string>((resolve, reject) => {
          this.inflight.push(this.newPending(payloads[i]!, packet, 'reply', options.allowError ?? false, timeoutMs, resolve, reject));
        }),
    );
    this.write(Buffer.concat(packets));
    // every reply is consumed even after one failed, so the next request starts clean
    return Promise.all(replies.map((r) => r.then((v) => ({ ok: true as const, v }), (e: Error) => ({ ok: false as const, e })))).then((rs) => {
      const bad = rs.find((r) => !r.ok);
      if (bad && !bad.ok) throw bad.e;
      return rs.map((r) => (r.ok ? r.v : ''));
    });
  }

  private newPending(
    payload: string,
    packet: Uint8Array,
    expect: Pending['expect'],
    allowError: boolean,
    timeoutMs: number,
    resolve: (payload: string) => void,
    reject: (err: Error) => void,
  ): Pending {
    return {
      label: payload.length > 40 ? `${payload.slice(0, 40)}…` : payload,
      packet,
      expect,
      allowError,
      resolve,
      reject,
      retransmits: 0,
      badChecksums: 0,
      garbage: [],
      garbageBytes: 0,
      console: '',
      timeoutMs,
      deadline: performance.now() + timeoutMs,
    };
  }

  /** Start the next queued request once the one in flight has its answer. */
  private pump(): void {
    if (this.pending) return;
    const next = this.queue.shift();
    if (next) void next();
  }

  /** Write bytes, prefixed with the `+`s we owe the stub for its replies (one write, not two). */
  private write(bytes: Uint8Array | string): void {
    const acks = this.acksOwed;
    if (acks === 0) {
      this.socket.write(bytes);
      return;
    }
    this.acksOwed = 0;
    const plus = acks === 1 ? '+' : '+'.repeat(acks);
    this.socket.write(typeof bytes === 'string' ? `${plus}${bytes}` : Buffer.concat([acks === 1 ? PLUS_BYTE : Buffer.from(plus, 'latin1'), bytes]));
  }

  /**
   * Acks are deferred to ride along with the next request; flush them if none comes soon. While
   * replies to a pipelined group are still due (`more`), they wait for the last one: a write per
   * reply would cost a system call and a wake-up of the stub each (measured: 11 per batch).
   */
  private owe(more = false): void {
    this.acksOwed++;
    if (more || this.ackFlushScheduled) return;
    this.ackFlushScheduled = true;
    setImmediate(() => {
      this.ackFlushScheduled = false;
      if (this.acksOwed > 0 && !this.closedError) this.write('');
    });
  }

  /** Send the out-of-band interrupt byte (0x03); the pending `c`/`s` then gets its stop reply. */
  interrupt(): void {
    if (!this.closedError) this.socket.write(Uint8Array.of(0x03));
  }

  /** Close the connection; requests still waiting fail with a 'closed by difftest' error. */
  async close(): Promise<void> {
    this.onClose('closed by difftest');
  }

  private send(payload: string, options: RequestOptions): Promise<string> {
    if (this.closedError) return Promise.reject(this.closedError);
    const packet = this.encode(payload);
    if (this.trace) this.log.debug({ out: payload.length > 40 ? `${payload.slice(0, 40)}…` : payload }, 'rsp ->');
    const expect = options.expect ?? 'reply';
    if (expect === 'none') {
      this.write(packet);
      return Promise.resolve('');
    }
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise<string>((resolve, reject) => {
      this.inflight.push(this.newPending(payload, packet, expect, options.allowError ?? false, timeoutMs, resolve, reject));
      this.write(packet);
    });
  }

  private onData(chunk: Buffer): void {
    let frames: RspFrame[];
    try {
      frames = this.parser.feed(chunk);
    } catch (err) {
      this.abort(new RspProtocolError(`undecodable packet from ${describeEndpoint(this.endpoint)}: ${(err as Error).message}`));
      return;
    }
    for (const frame of frames) {
      if (this.closedError) return;
      this.onFrame(frame);
    }
    if (this.parser.partialLength > MAX_PACKET) {
      this.abort(
        new RspProtocolError(
          `${describeEndpoint(this.endpoint)} sent a packet start followed by ${this.parser.partialLength} bytes without an end ` +
            `(${hexDump(this.parser.partial, 32)}); it does not speak the gdb protocol`,
        ),
      );
    }
  }

  private onFrame(frame: RspFrame): void {
    const p = this.pending;
    switch (frame.kind) {
      case 'ack':
        return;
      case 'nack':
        if (!p) return;
        if (this.inflight.length > 1) {
          this.abort(new RspProtocolError(`stub rejected one of ${this.inflight.length} pipelined packets (from '${p.label}'); the connection is noisy`));
          return;
        }
        if (++p.retransmits > MAX_RETRIES) {
          this.abort(new RspProtocolError(`stub rejected '${p.label}' ${MAX_RETRIES + 1} times (packet ${hexDump(p.packet)})`));
        } else {
          this.write(p.packet);
        }
        return;
      case 'garbage':
        if (this.trace) this.log.debug({ garbage: hexDump(frame.bytes) }, 'rsp non-packet bytes');
        if (!p) return;
        // a loop, not push(...bytes): a spread of a large chunk overflows the stack
        for (let i = 0; i < frame.bytes.length && p.garbage.length < GARBAGE_KEPT; i++) p.garbage.push(frame.bytes[i]!);
        p.garbageBytes += frame.bytes.length;
        if (p.garbageBytes > MAX_GARBAGE) {
          this.abort(
            new RspProtocolError(
              `${describeEndpoint(this.endpoint)} answered '${p.label}' with ${p.garbageBytes} bytes that are not gdb packets (${garbageText(p)}); ` +
                'it does not speak the gdb protocol: check the address given to --dut',
            ),
          );
        }
        return;
      case 'bad-checksum':
        if (!p) return;
        if (this.inflight.length > 1) {
          this.abort(new RspChecksumError(`a reply to one of ${this.inflight.length} pipelined packets (from '${p.label}') failed its checksum: packet ${hexDump(frame.raw)}`));
          return;
        }
        if (++p.badChecksums > MAX_RETRIES) {
          this.abort(
            new RspChecksumError(
              `reply to '${p.label}' failed its checksum ${MAX_RETRIES + 1} times: packet ${hexDump(frame.raw)} ` +
                `carries 0x${frame.expected.toString(16)}, contents sum to 0x${frame.actual.toString(16)} ` +
                '(a noisy or non-gdb connection)',
            ),
          );
        } else {
          this.write('-');
        }
        return;
      case 'packet': {
        // more replies of a pipelined group to come: their acks go out together (a stub that waits for each ack is not pipelined to)
        this.owe(this.inflight.length > 1);
        const text = Buffer.from(frame.payload).toString('latin1');
        if (this.trace) this.log.debug({ in: text.length > 80 ? `${text.slice(0, 80)}…` : text }, 'rsp <-');
        if (!p) {
          this.log.debug({ unsolicited: text.slice(0, 80) }, 'rsp unsolicited packet');
          return;
        }
        if (p.expect !== 'reply' && text.startsWith('O') && text !== 'OK') {
          if (p.expect === 'console') p.console += Buffer.from(text.slice(1), 'hex').toString('latin1');
          return; // console output
        }
        this.inflight.shift();
        const errno = parseErrorReply(text);
        if (errno !== undefined && !p.allowError) {
          p.reject(new RspStubError(`stub answered '${p.label}' with error E${errno.toString(16).padStart(2, '0')}`, errno));
        } else {
          p.resolve(p.expect === 'console' && text === 'OK' ? p.console : text);
        }
        this.pump();
        return;
      }
    }
  }

  private onClose(reason: string): void {
    if (this.closedError) return;
    const detail = this.options.closeDetail?.() ?? '';
    const partial = this.parser.partial;
    this.abort(
      new RspClosedError(
        `gdb connection to ${describeEndpoint(this.endpoint)} lost: ${reason}` +
          (partial.length ? `; truncated packet ${hexDump(partial)}` : '') +
          (detail ? `; ${detail}` : ''),
      ),
    );
  }

  /**
   * Close the connection for good: every request in flight or queued, and every later one,
   * fails with `err`. Destroying the socket also releases the last handle that would keep the
   * process running.
   */
  private abort(err: RspError): void {
    if (this.closedError) return;
    this.closedError = err;
    clearInterval(this.watchdog);
    this.failRestOfGroup(err);
    for (const next of this.queue.splice(0)) next(); // each rejects at once with the closed error
    this.socket.destroy();
  }
}

function garbageText(p: Pending): string {
  const shown = hexDump(Uint8Array.from(p.garbage));
  return p.garbageBytes > p.garbage.length ? `${shown}… (${p.garbageBytes} bytes)` : shown;
}
