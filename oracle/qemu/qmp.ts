import net from 'node:net';
import { childLogger, type Logger } from '../../util/log.js';

export class QmpError extends Error {
  override readonly name = 'QmpError';
}

export interface QmpEvent {
  readonly event: string;
  readonly data?: unknown;
}

/** Minimal QEMU Machine Protocol client: greeting + capabilities, then one command at a time. */
export class QmpClient {
  private buffer = '';
  private waiters: Array<{ resolve: (v: unknown) => void; reject: (e: Error) => void; cmd: string }> = [];
  private closedReason: string | undefined;
  readonly events: QmpEvent[] = [];
  private greeting: ((v: unknown) => void) | undefined;
  private readonly log: Logger = childLogger('qmp');

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('close', () => this.onClose('QMP connection closed'));
    socket.on('error', (err) => this.onClose(`QMP socket error: ${err.message}`));
  }

  static async connect(path: string, timeoutMs = 5000): Promise<QmpClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(path);
      s.once('connect', () => resolve(s));
      s.once('error', (err) => reject(new QmpError(`cannot connect to QMP at ${path}: ${err.message}`)));
    });
    const client = new QmpClient(socket);
    await client.withTimeout(new Promise((resolve) => (client.greeting = resolve)), timeoutMs, 'greeting');
    await client.execute('qmp_capabilities', undefined, timeoutMs);
    return client;
  }

  private withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout;
    return Promise.race([
      p.finally(() => clearTimeout(timer)),
      new Promise<T>((_, reject) => {
        timer = setTimeout(() => reject(new QmpError(`QMP ${what} got no answer within ${ms} ms`)), ms);
      }),
    ]);
  }

  execute(command: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<unknown> {
    if (this.closedReason) return Promise.reject(new QmpError(`QMP '${command}' failed: ${this.closedReason}`));
    const p = new Promise<unknown>((resolve, reject) => this.waiters.push({ resolve, reject, cmd: command }));
    this.socket.write(`${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`);
    return this.withTimeout(p, timeoutMs, `'${command}'`);
  }

  async status(): Promise<{ running: boolean; status: string }> {
    return (await this.execute('query-status')) as { running: boolean; status: string };
  }

  async humanMonitorCommand(commandLine: string): Promise<string> {
    return (await this.execute('human-monitor-command', { 'command-line': commandLine })) as string;
  }

  async quit(): Promise<void> {
    await this.execute('quit', undefined, 2000).catch(() => undefined);
  }

  close(): void {
    this.onClose('closed by difftest');
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (!line) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        this.log.warn({ line: line.slice(0, 200) }, 'QMP sent a line that is not JSON');
        continue;
      }
      if ('QMP' in msg) this.greeting?.(msg);
      else if ('event' in msg) this.events.push({ event: String(msg.event), data: msg.data });
      else if ('return' in msg) this.waiters.shift()?.resolve(msg.return);
      else if ('error' in msg) {
        const w = this.waiters.shift();
        const e = msg.error as { class?: string; desc?: string };
        w?.reject(new QmpError(`QMP '${w.cmd}' failed: ${e.class ?? 'Error'}: ${e.desc ?? JSON.stringify(e)}`));
      }
    }
  }

  private onClose(reason: string): void {
    if (this.closedReason) return;
    this.closedReason = reason;
    for (const w of this.waiters.splice(0)) w.reject(new QmpError(`QMP '${w.cmd}' failed: ${reason}`));
  }
}
