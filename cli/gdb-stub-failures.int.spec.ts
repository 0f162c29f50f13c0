import { execa } from 'execa';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeStub, type FakeStub, type FakeStubBehaviour } from '../oracle/testing/fake-stub.js';

/**
 * A gdb stub that misbehaves must end the command on its own, promptly, with one line: the CLI
 * runs as a child process, so a socket or timer left open would keep it alive until execa's
 * timeout kills it (timedOut), which these tests reject.
 */
const bin = path.resolve(import.meta.dirname, '../bin/difftest.mjs');
const regressions = path.resolve(import.meta.dirname, '../corpus/regressions');
const oneCase = path.join(regressions, 'seed-add-r13-rip.json');

async function run(args: string[]) {
  const t0 = performance.now();
  const r = await execa('node', [bin, ...args], { reject: false, timeout: 45_000 }); // under vitest's 60 s, so a hang fails on timedOut
  return { ...r, seconds: (performance.now() - t0) / 1000 };
}

const stubs: FakeStub[] = [];
afterEach(async () => {
  for (const s of stubs.splice(0)) await s.close();
});

async function stub(b: FakeStubBehaviour): Promise<FakeStub> {
  const s = await startFakeStub(b);
  stubs.push(s);
  return s;
}

const EXPECTED: Record<'garbage' | 'silent' | 'close-mid-packet', RegExp> = {
  garbage: /^difftest: no reply to '[^']+' from unix:\S+ within 1000 ms; received non-packet bytes 68656c6c6f.* \(the stub is hung or does not speak the gdb protocol; restart it, or raise --timeout MS if it is only slow\)$/,
  silent: /^difftest: no reply to '[^']+' from unix:\S+ within 1000 ms \(the stub is hung or does not speak the gdb protocol; restart it, or raise --timeout MS if it is only slow\)$/,
  'close-mid-packet': /^difftest: gdb connection to unix:\S+ lost: the stub closed the connection \(did it quit or crash\? check its output and restart it\); truncated packet 2454303574/,
};

describe('a misbehaving gdb stub as the system under test', () => {
  for (const behaviour of ['garbage', 'silent', 'close-mid-packet'] as const) {
    it(`${behaviour}: replay of one case ends by itself with one line (exit 2), and the connection is closed`, async () => {
      const s = await stub(behaviour);
      const r = await run(['replay', oneCase, '--dut', `gdb:unix:${s.path}`, '--timeout', '1000', '--workers', '1']);
      expect(r.timedOut).toBe(false);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(EXPECTED[behaviour]);
      expect(r.seconds).toBeLessThan(30); // QEMU start-up plus one 1 s timeout, on a loaded machine
      await expect.poll(() => s.closed()).toBe(s.connections());
    });
  }

  it('replay of a directory asks the stub how many clients it serves first, and ends the same way', async () => {
    const s = await stub('garbage');
    const r = await run(['replay', regressions, '--dut', `gdb:unix:${s.path}`, '--timeout', '1000', '--workers', '2']);
    expect(r.timedOut).toBe(false);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr.trim()).toMatch(/^difftest: no reply to '\?' from unix:\S+ within 1000 ms; received non-packet bytes/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('minimize ends the same way', async () => {
    const s = await stub('silent');
    const r = await run(['minimize', oneCase, '--dut', `gdb:unix:${s.path}`, '--timeout', '500', '--out', path.join(path.dirname(s.path), 'out')]);
    expect(r.timedOut).toBe(false);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim()).toMatch(/^difftest: no reply to '[^']+' from unix:\S+ within 500 ms/);
  });

  it('a bad --timeout is a one-line usage error', async () => {
    for (const cmd of ['replay', 'minimize', 'sample']) {
      const r = await run([cmd, ...(cmd === 'sample' ? [] : [oneCase]), '--timeout', '0']);
      expect(r.exitCode).toBe(2);
      expect(r.stderr.trim()).toBe("difftest: --timeout '0' must be a whole number of milliseconds from 10 to 600000");
    }
  });
});
