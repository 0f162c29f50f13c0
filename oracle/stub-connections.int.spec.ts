import { execa, type ResultPromise } from 'execa';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GdbRemoteTarget } from './gdb-target.js';
import { ensureQemu } from './qemu/install.js';
import { qemuRunTag } from './qemu/launcher.js';
import { RspTimeoutError } from './rsp/errors.js';
import { probeStubConnections } from './stub-connections.js';
import { startFakeStub, type FakeStub } from './testing/fake-stub.js';

let dir: string;
let child: ResultPromise;
let qemuSock: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'difftest-probe-'));
  qemuSock = path.join(dir, 'gdb.sock');
  const qemu = await ensureQemu();
  // QEMU's own stub, as a user would start it: it serves one client at a time
  child = execa(qemu.path, ['-name', qemuRunTag(), '-S', '-gdb', `unix:${qemuSock},server=on,wait=off`, '-display', 'none', '-nodefaults', '-accel', 'tcg', '-m', '32'], { reject: false });
  for (let i = 0; i < 1000 && !existsSync(qemuSock); i++) await new Promise((r) => setTimeout(r, 5));
});

afterAll(async () => {
  child?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const stubs: FakeStub[] = [];
afterEach(async () => {
  for (const s of stubs.splice(0)) await s.close();
});

describe('probeStubConnections', () => {
  it("says 1 for QEMU's stub, and leaves it serving the next client", async () => {
    let n: number | undefined;
    for (let i = 0; n === undefined; i++) {
      try {
        n = await probeStubConnections({ path: qemuSock }, 1000);
      } catch (err) {
        if (i > 200 || !/ECONNREFUSED|ENOENT/.test((err as Error).message)) throw err; // QEMU not listening yet
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    expect(n).toBe(1);
    const target = await GdbRemoteTarget.connect({ path: qemuSock }, { timeoutMs: 5000 });
    try {
      expect((await target.readState()).rip).toBeTypeOf('bigint');
    } finally {
      await target.close();
    }
  });

  it('says 2 for a stub that answers two clients at once, and closes both connections', async () => {
    const stub = await startFakeStub('stop-replies');
    stubs.push(stub);
    expect(await probeStubConnections({ path: stub.path }, 1000)).toBe(2);
    expect(stub.connections()).toBe(2);
    await expect.poll(() => stub.closed()).toBe(2);
  });

  it('fails with the cause when the stub answers no client at all', async () => {
    const stub = await startFakeStub('silent');
    stubs.push(stub);
    const err = await probeStubConnections({ path: stub.path }, 200).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RspTimeoutError);
    expect((err as Error).message).toMatch(/no reply to '\?' .* within 200 ms/);
    await expect.poll(() => stub.closed()).toBe(1);
  });
});
