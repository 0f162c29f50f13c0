import { execa } from 'execa';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const bin = path.resolve(import.meta.dirname, '../bin/difftest.mjs');
const run = (args: string[], env: Record<string, string> = {}) =>
  execa('node', [bin, ...args], { reject: false, env: { ...process.env, ...env }, timeout: 60_000 });

describe('difftest CLI', () => {
  it('sample runs the seed case on QEMU and prints the add result', async () => {
    const r = await run(['sample']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/oracle qemu \d+\.\d+/);
    expect(r.stdout).toContain('r13 0x1111111111111111 -> 0xefbed000dc0fcbcf');
    expect(r.stdout).toContain('flags CF=0 PF=1 AF=0 ZF=0 SF=1 DF=0 OF=0');
  });

  it('start runs a short campaign, prints its seed, and ends with a report', async () => {
    const r = await run(['start', '--seconds', '4', '--seed', '99']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/seed 99 \(replay with --seed 99\)/);
    const report = /report (\S+index\.html)/.exec(r.stdout)?.[1];
    expect(report).toBeDefined();
    const { readResult } = await import('../reports/json.js');
    const result = await readResult(path.join(path.dirname(path.resolve(report!)), 'result.json'));
    expect(result.seed).toBe('99');
    expect(result.testsRun).toBeGreaterThan(0);
    expect(result.oracle.implementation).toMatch(/^qemu /);
  });

  it('rejects an unknown --family and --inject by listing the valid ones', async () => {
    const f = await run(['fuzz', '--family', 'nope', '--count', '1']);
    expect(f.exitCode).toBe(2);
    expect(f.stderr).toMatch(/unknown --family 'nope'; valid families: alu, /);
    const i = await run(['fuzz', '--inject', 'nope', '--count', '1']);
    expect(i.exitCode).toBe(2);
    expect(i.stderr).toMatch(/unknown --inject 'nope'; valid mutants: rip-rel-from-start, /);
  });

  it('names the file and the field of a malformed corpus case', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'difftest-cli-')), 'bad.json');
    writeFileSync(file, JSON.stringify({ format: 'difftest-case/1', id: 'x', code: 'zz', provenance: { generator: 'hand' } }));
    const r = await run(['replay', file]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`${file}: not a valid difftest case (code: expected an even-length hex byte string)`);
  });

  it('ci: QEMU vs QEMU passes (exit 0, JUnit with no failures); a planted bug fails it unless suppressed', async () => {
    const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(path.join(tmpdir(), 'difftest-ci-'));
    const ok = await run(['ci', '--dut', 'qemu', '--count', '20', '--workers', '1', '--out', path.join(dir, 'ok')]);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(readFileSync(path.join(dir, 'ok', 'junit.xml'), 'utf8')).toMatch(/<testsuite [^>]*failures="0"/);
    expect(ok.stdout).toMatch(/regression corpus: \d+ case\(s\), 0 failing/);

    const bugArgs = ['ci', '--inject', 'add64-mem-trunc32', '--family', 'alu', '--count', '60', '--workers', '1', '--no-minimize'];
    const bad = await run([...bugArgs, '--out', path.join(dir, 'bad')]);
    expect(bad.exitCode).toBe(1);
    expect(readFileSync(path.join(dir, 'bad', 'junit.xml'), 'utf8')).toMatch(/<failure /);

    const sup = path.join(dir, 'suppressions.json');
    writeFileSync(sup, JSON.stringify({ format: 'difftest-suppressions/1', suppressions: [{ signature: '/.*/', reason: 'accepted for this test' }] }));
    const accepted = await run([...bugArgs, '--suppressions', sup, '--out', path.join(dir, 'sup')]);
    expect(accepted.exitCode).toBe(0);
    expect(accepted.stdout).toMatch(/\(suppressed\)/);
    expect(readFileSync(path.join(dir, 'sup', 'junit.xml'), 'utf8')).toMatch(/<skipped /);
  }, 180_000);

  it('rejects an unknown flag in one line, exit 2', async () => {
    const r = await run(['sample', '--bogus']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^difftest: Unknown option '--bogus'.*usage: difftest sample/);
  });

  it('lists the valid commands for an unknown one', async () => {
    const r = await run(['frobnicate']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'; valid commands: start, sample, setup-check, bench, replay, fuzz, ci, minimize, report$/m);
  });

  it('reports a missing QEMU in one line without a stack trace', async () => {
    const r = await run(['sample'], { DIFFTEST_QEMU: '/nonexistent/qemu-system-x86_64' });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^difftest: DIFFTEST_QEMU=\/nonexistent\/qemu-system-x86_64 does not exist/);
    expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it('reports a QEMU that dies at start-up with its own words', async () => {
    const r = await run(['sample', '--cpu', 'no-such-cpu']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/QEMU exited .*no-such-cpu/i);
  });
});
