import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureQemu } from '../../oracle/qemu/install.js';
import { LOCKSTEP_APPEND, RTC_BASE } from '../../oracle/qemu/kernel-qemu.js';
import { prepareBootAssets, type BootAssets } from './assets/assets.js';
import { runBootSession } from './boot-session.js';

/**
 * `boot --dut gdb:…`: another emulator behind a gdb stub, which boots the kernel itself. Here that
 * emulator is a QEMU the test starts on its own, as a user would start theirs (stopped, same
 * kernel, initrd, command line, memory): the harness knows it only through the gdb protocol.
 */
let assets: BootAssets;
const started: Array<{ child: ResultPromise; dir: string }> = [];

async function otherEmulator(cpu: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'difftest-gdbdut-'));
  const sock = path.join(dir, 'gdb.sock');
  const qemu = await ensureQemu();
  const child = execa(qemu.path, [
    '-S', '-gdb', `unix:${sock},server=on,wait=off`, '-display', 'none', '-nodefaults', '-no-user-config', '-machine', 'pc', '-accel', 'tcg',
    '-cpu', cpu, '-m', '512', '-action', 'reboot=shutdown,shutdown=pause',
    '-kernel', assets.kernel.elfPath, '-initrd', assets.initrd, '-append', LOCKSTEP_APPEND, '-serial', `file:${path.join(dir, 'serial.txt')}`,
    '-icount', 'shift=0,align=off,sleep=off', '-rtc', `base=${RTC_BASE},clock=vm`,
  ], { stdin: 'ignore', reject: false, cleanup: true });
  started.push({ child, dir });
  for (let i = 0; i < 500 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 10));
  return sock;
}

async function boot(sock: string) {
  const outDir = await mkdtemp(path.join(tmpdir(), 'difftest-boot-gdbdut-'));
  const { result } = await runBootSession({
    cacheDir: '.cache/boot', from: 'startup_64', maxSteps: 3000, checkpointEvery: 0, memoryMiB: 512, cpu: 'qemu64', mutants: [], outDir,
    dut: 'gdb', dutEndpoint: { path: sock }, dutLabel: `gdb:unix:${sock}`,
    command: 'node bin/difftest.mjs boot --dut gdb:unix:…', progress: () => undefined, shouldStop: () => false,
  });
  await rm(outDir, { recursive: true, force: true });
  return result;
}

beforeAll(async () => {
  assets = await prepareBootAssets({ cacheDir: '.cache/boot' });
}, 300_000);
afterAll(async () => {
  for (const s of started) {
    s.child.kill('SIGKILL');
    await rm(s.dir, { recursive: true, force: true });
  }
});

describe('boot --dut gdb:…', () => {
  it('runs the other emulator to startup_64 itself and agrees with QEMU instruction by instruction, RAM included at the end', async () => {
    const r = await boot(await otherEmulator('qemu64'));
    expect(r.dut).toMatch(/^gdb:unix:.* \(another emulator, over its gdb stub\)$/);
    expect(r.mismatch).toBeUndefined();
    expect(r.result).toMatchObject({ end: 'budget', compared: 3000 });
    expect(r.checkpoints.at(-1)).toMatchObject({ pagesDiffering: 0, systemDiffs: [] });
  }, 240_000);

  it('stops where the other emulator differs: a CPU without SSE answers verify_cpu\'s CPUID differently', async () => {
    const r = await boot(await otherEmulator('qemu64,-sse,-sse2'));
    expect(r.mismatch).toBeDefined();
    expect(r.mismatch!.text).toMatch(/^cpuid/);
    expect(r.mismatch!.diffs.map((d) => d.path)).toContain('gpr.rdx');
  }, 240_000);
});
