import { execa } from 'execa';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const bin = path.resolve(import.meta.dirname, '../bin/difftest.mjs');
const run = (args: string[], env: Record<string, string> = {}) =>
  execa('node', [bin, ...args], { reject: false, env: { ...process.env, ...env }, timeout: 60_000 });

describe('difftest CLI', () => {
  it('start runs the seed sample on QEMU and prints the add result', async () => {
    const r = await run(['start']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/oracle qemu \d+\.\d+/);
    expect(r.stdout).toContain('r13 0x1111111111111111 -> 0xefbed000dc0fcbcf');
    expect(r.stdout).toContain('flags CF=0 PF=1 AF=0 ZF=0 SF=1 DF=0 OF=0');
  });

  it('rejects an unknown flag in one line, exit 2', async () => {
    const r = await run(['start', '--bogus']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^difftest: Unknown option '--bogus'.*usage: difftest start/);
  });

  it('lists the valid commands for an unknown one', async () => {
    const r = await run(['frobnicate']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'; valid commands: start, setup-check, bench, replay, fuzz, ci, minimize, report$/m);
  });

  it('reports a missing QEMU in one line without a stack trace', async () => {
    const r = await run(['start'], { DIFFTEST_QEMU: '/nonexistent/qemu-system-x86_64' });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^difftest: DIFFTEST_QEMU=\/nonexistent\/qemu-system-x86_64 does not exist/);
    expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it('reports a QEMU that dies at start-up with its own words', async () => {
    const r = await run(['start', '--cpu', 'no-such-cpu']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/QEMU exited .*no-such-cpu/i);
  });
});
