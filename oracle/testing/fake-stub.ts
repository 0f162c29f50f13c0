import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodePacket, RspFrameParser } from '../rsp/codec.js';

/**
 * Misbehaving gdb stubs for tests, as tiny unix-socket servers: the input under test, which a
 * real QEMU cannot be made to be.
 *   garbage           answers every request with text that is not a gdb packet
 *   silent            accepts the connection, reads, never answers
 *   close-mid-packet  answers with the start of a packet, then closes the connection
 *   stop-replies      answers `?` with a stop reply on every connection at once (a stub that serves many clients)
 */
export type FakeStubBehaviour = 'garbage' | 'silent' | 'close-mid-packet' | 'stop-replies';

export interface FakeStub {
  readonly path: string;
  /** Connections accepted so far. */
  readonly connections: () => number;
  /** Connections closed so far (by the client, as the stub itself closes none before close()). */
  readonly closed: () => number;
  close(): Promise<void>;
}

export async function startFakeStub(behaviour: FakeStubBehaviour): Promise<FakeStub> {
  const dir = mkdtempSync(path.join(tmpdir(), 'difftest-fake-stub-'));
  const sockPath = path.join(dir, 'stub.sock');
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  let peerClosed = 0;
  const server = net.createServer((sock) => {
    accepted++;
    sockets.add(sock);
    sock.on('close', () => {
      peerClosed++;
      sockets.delete(sock);
    });
    sock.on('error', () => undefined);
    const parser = new RspFrameParser();
    sock.on('data', (d) => {
      for (const f of parser.feed(d)) {
        if (f.kind !== 'packet') continue;
        switch (behaviour) {
          case 'garbage':
            sock.write('hello, this is not a gdb stub\r\n');
            break;
          case 'silent':
            break;
          case 'close-mid-packet':
            sock.end('+$T05thread:01');
            break;
          case 'stop-replies':
            sock.write(Buffer.concat([Buffer.from('+'), encodePacket(Buffer.from(f.payload).toString('latin1') === '?' ? 'S05' : '')]));
            break;
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(sockPath, r));
  return {
    path: sockPath,
    connections: () => accepted,
    closed: () => peerClosed,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
