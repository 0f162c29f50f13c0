import { execa, type ResultPromise } from 'execa';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GdbRemoteTarget } from '../oracle/gdb-target.js';
import { ensureQemu } from '../oracle/qemu/install.js';
import { qemuRunTag } from '../oracle/qemu/launcher.js';
import { QemuTarget } from '../oracle/qemu/qemu-target.js';
import { createCaseSource } from './campaign/case-source.js';
import { LockstepRunner } from './lockstep.js';

/**
 * Any emulator with a gdb stub can be the system under test: here a second, independently
 * started QEMU reached only through the generic gdb client (no QMP, no launcher). QEMU vs
 * QEMU must agree on every generated case.
 */
let dir: string;
let child: ResultPromise;
let reference: QemuTarget;
let dut: GdbRemoteTarget;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'difftest-gdbdut-'));
  const sock = path.join(dir, 'gdb.sock');
  const qemu = await ensureQemu();
  child = execa(qemu.path, ['-name', qemuRunTag(), '-S', '-gdb', `unix:${sock},server=on,wait=off`, '-display', 'none', '-nodefaults', '-accel', 'tcg', '-cpu', 'qemu64', '-m', '32'], { reject: false });
  for (let i = 0; i < 1000 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 5));
  for (let i = 0; ; i++) {
    try {
      dut = await GdbRemoteTarget.connect({ path: sock }, { name: 'second-qemu' });
      break;
    } catch (err) {
      if (i > 200) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  reference = await QemuTarget.launch();
});

afterAll(async () => {
  await dut?.close();
  child?.kill('SIGKILL');
  await reference?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a gdb-stub emulator as the system under test', () => {
  it('QEMU through the generic gdb client agrees with QEMU on 40 generated cases', async () => {
    const runner = new LockstepRunner(reference, dut);
    const source = createCaseSource({ seed: 3, length: [1, 8], raw: false });
    let ran = 0;
    for (let i = 0; i < 40; i++) {
      const g = await source(i);
      if (!g.case) continue;
      const r = await runner.run(g.case, { mode: 'block' });
      expect(r.outcome, `case ${i} diverged: ${JSON.stringify(r.divergence?.diffs.map((d) => d.path))}`).toBe('match');
      ran++;
    }
    expect(ran).toBeGreaterThan(30);
  }, 120_000);
});
