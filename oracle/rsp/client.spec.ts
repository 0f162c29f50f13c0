import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RspClient } from './client.js';
import { encodePacket, RspFrameParser } from './codec.js';
import { RspChecksumError, RspClosedError, RspProtocolError, RspStubError, RspTimeoutError } from './errors.js';

/**
 * A scripted stub on a unix socket: `answer` gets each request payload and writes raw bytes.
 * These tests are about our client's handling of a misbehaving peer, which QEMU cannot be made to be.
 */
async function scriptedStub(
  answer: (payload: string, sock: net.Socket, n: number) => void,
  onData?: (bytes: Buffer) => void,
  onPeerClosed?: () => void,
) {
  const dir = mkdtempSync(path.join(tmpdir(), 'rsp-test-'));
  const sockPath = path.join(dir, 'stub.sock');
  let count = 0;
  const server = net.createServer((sock) => {
    sock.on('close', () => onPeerClosed?.());
    const parser = new RspFrameParser();
    let last = '';
    sock.on('data', (d) => {
      onData?.(d);
      for (const f of parser.feed(d)) {
        if (f.kind === 'packet') {
          sock.write('+');
          last = Buffer.from(f.payload).toString('latin1');
          answer(last, sock, count++);
        } else if (f.kind === 'nack') {
          answer(last, sock, count++); // a real stub retransmits its reply
        }
      }
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(sockPath, r));
  const client = await RspClient.connect({ path: sockPath }, { timeoutMs: 300 });
  cleanups.push(async () => {
    await client.close();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });
  return client;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('RspClient against a misbehaving stub', () => {
  it('answers in request order with one request in flight', async () => {
    const client = await scriptedStub((p, sock) => setTimeout(() => sock.write(encodePacket(`re:${p}`)), p === 'a' ? 20 : 0));
    const replies = await Promise.all(['a', 'b', 'c'].map((p) => client.request(p)));
    expect(replies).toEqual(['re:a', 're:b', 're:c']);
  });

  it('retransmits after a nack', async () => {
    let seen = 0;
    const dir = mkdtempSync(path.join(tmpdir(), 'rsp-test-'));
    const sockPath = path.join(dir, 's.sock');
    const server = net.createServer((sock) => {
      const parser = new RspFrameParser();
      sock.on('data', (d) => {
        for (const f of parser.feed(d)) {
          if (f.kind !== 'packet') continue;
          if (seen++ === 0) sock.write('-');
          else sock.write(Buffer.concat([Buffer.from('+'), encodePacket('OK')]));
        }
      });
    });
    await new Promise<void>((r) => server.listen(sockPath, r));
    const client = await RspClient.connect({ path: sockPath }, { timeoutMs: 500 });
    expect(await client.request('g')).toBe('OK');
    expect(seen).toBe(2);
    await client.close();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('names a corrupted checksum, with the packet in hex', async () => {
    const client = await scriptedStub((_p, sock) => sock.write('$OK#00'));
    const err = await client.request('g').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RspChecksumError);
    expect((err as Error).message).toContain(Buffer.from('$OK#00').toString('hex'));
    expect((err as Error).message).toMatch(/failed its checksum/);
  });

  it('times out on a reply that never comes, without hanging', async () => {
    const client = await scriptedStub(() => undefined);
    const err = await client.request('s', { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RspTimeoutError);
    expect((err as Error).message).toMatch(/no reply to 's'.*within 100 ms/);
  });

  it('closes the connection after a timeout: later requests fail at once, and the stub sees the close', async () => {
    let peerClosed!: () => void;
    const closedByClient = new Promise<void>((r) => (peerClosed = r));
    const client = await scriptedStub(() => undefined, undefined, () => peerClosed());
    const err = await client.request('g', { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RspTimeoutError);
    expect((err as Error).message).toMatch(/raise --timeout MS/);
    expect(client.closed).toBe(true);
    await closedByClient; // the test would time out if the socket stayed open
    const t0 = performance.now();
    await expect(client.request('g', { timeoutMs: 5000 })).rejects.toBeInstanceOf(RspTimeoutError);
    expect(performance.now() - t0).toBeLessThan(100);
  });

  it('fails requests queued behind one that timed out, with the same cause', async () => {
    const client = await scriptedStub(() => undefined);
    const [a, b] = await Promise.all([client.request('g', { timeoutMs: 100 }), client.request('m0,4')].map((p) => p.catch((e: unknown) => e)));
    expect(a).toBeInstanceOf(RspTimeoutError);
    expect(b).toBeInstanceOf(RspTimeoutError);
    expect((b as Error).message).toMatch(/no reply to 'g'.*connection is closed/);
  });

  it('gives up at once on a flood of non-packet bytes, keeping only the first for the message', async () => {
    const client = await scriptedStub((_p, sock) => sock.write(Buffer.alloc(64 * 1024, 'x')));
    const t0 = performance.now();
    const err = await client.request('g', { timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(err).toBeInstanceOf(RspProtocolError);
    expect((err as Error).message).toMatch(/with \d+ bytes that are not gdb packets \(7878.*\); it does not speak the gdb protocol/);
    expect((err as Error).message.length).toBeLessThan(600);
    expect(client.closed).toBe(true);
  });

  it('gives up on a packet that starts and never ends, instead of buffering it', async () => {
    const client = await scriptedStub((_p, sock) => sock.write(Buffer.concat([Buffer.from('$'), Buffer.alloc(300 * 1024, 'a')])));
    const err = await client.request('g', { timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RspProtocolError);
    expect((err as Error).message).toMatch(/packet start followed by \d+ bytes without an end/);
  });

  it('closes the connection when the stub keeps rejecting a packet', async () => {
    const client = await scriptedStub((_p, sock) => sock.write('-'));
    await expect(client.request('g')).rejects.toThrow(/stub rejected 'g' 4 times/);
    expect(client.closed).toBe(true);
  });

  it('keeps the connection open after an E NN reply (a normal answer)', async () => {
    const client = await scriptedStub((p, sock) => sock.write(encodePacket(p === 'm0,4' ? 'E14' : 'OK')));
    await expect(client.request('m0,4')).rejects.toBeInstanceOf(RspStubError);
    expect(client.closed).toBe(false);
    expect(await client.request('g')).toBe('OK');
  });

  it('names garbage that is not a packet', async () => {
    const client = await scriptedStub((_p, sock) => sock.write('hello'));
    const err = await client.request('g', { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RspTimeoutError);
    expect((err as Error).message).toContain(Buffer.from('hello').toString('hex'));
  });

  it('reports a truncated packet when the stub closes mid-packet', async () => {
    const client = await scriptedStub((_p, sock) => sock.end('$OK'));
    const err = await client.request('g').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RspClosedError);
    expect((err as Error).message).toMatch(/truncated packet 244f4b/);
  });

  it('fails pending and later requests when the stub closes the socket', async () => {
    const client = await scriptedStub((_p, sock) => sock.destroy());
    const first = await client.request('g').catch((e: unknown) => e);
    expect(first).toBeInstanceOf(RspClosedError);
    expect((first as Error).message).toMatch(/stub closed the connection/);
    await expect(client.request('g')).rejects.toBeInstanceOf(RspClosedError);
  });

  it('turns E NN into a typed error unless allowed', async () => {
    const client = await scriptedStub((_p, sock) => sock.write(encodePacket('E14')));
    const err = await client.request('m0,4').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RspStubError);
    expect((err as RspStubError).errno).toBe(0x14);
    expect(await client.request('m0,4', { allowError: true })).toBe('E14');
  });

  it('collects console output for qRcmd until OK', async () => {
    const client = await scriptedStub((_p, sock) => {
      sock.write(encodePacket(`O${Buffer.from('hello ').toString('hex')}`));
      sock.write(encodePacket(`O${Buffer.from('world\n').toString('hex')}`));
      sock.write(encodePacket('OK'));
    });
    expect(await client.request('qRcmd,00', { expect: 'console' })).toBe('hello world\n');
  });

  it('pipelines a group in one write and collects the replies in order', async () => {
    const writes: number[] = [];
    const client = await scriptedStub((p, sock, n) => {
      writes.push(n);
      sock.write(encodePacket(`re:${p}`));
    });
    const replies = await client.requestPipelined(['M1', 'M2', 'M3', 'M4']);
    expect(replies).toEqual(['re:M1', 're:M2', 're:M3', 're:M4']);
    // the client goes on normally afterwards
    expect(await client.request('g')).toBe('re:g');
  });

  it('acks every reply of a pipelined group, together after the last one', async () => {
    const chunks: string[] = [];
    const client = await scriptedStub(
      (p, sock) => setTimeout(() => sock.write(encodePacket(`re:${p}`)), 5), // replies arrive one by one
      (d) => chunks.push(d.toString('latin1')),
    );
    await client.requestPipelined(['M1', 'M2', 'M3', 'M4']);
    await new Promise((r) => setTimeout(r, 30)); // the deferred ack flush
    const ackWrites = chunks.filter((c) => /^\++$/.test(c));
    expect(ackWrites).toEqual(['++++']);
  });

  it('fails a pipelined group on a stub error, consumes the rest, and goes on', async () => {
    const client = await scriptedStub((p, sock) => sock.write(encodePacket(p === 'M2' ? 'E14' : 'OK')));
    await expect(client.requestPipelined(['M1', 'M2', 'M3'])).rejects.toBeInstanceOf(RspStubError);
    // the replies to M3 did not end up answering the next request
    expect(await client.request('M9')).toBe('OK');
  });

  it('fails a pipelined group when the stub rejects one packet (which one is lost)', async () => {
    const client = await scriptedStub((p, sock) => {
      if (p === 'M2') sock.write('-');
      else sock.write(encodePacket('OK'));
    });
    await expect(client.requestPipelined(['M1', 'M2', 'M3'])).rejects.toThrow(/pipelined/);
  });

  it('gives a one-line error when nothing listens', async () => {
    const err = await RspClient.connect({ path: '/nonexistent/difftest.sock' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RspClosedError);
    expect((err as Error).message).toMatch(/cannot connect to gdb stub at unix:\/nonexistent/);
    expect((err as Error).message).not.toContain('\n');
  });
});
