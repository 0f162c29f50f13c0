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
    const b = await run(['fuzz', '--batch', '500', '--count', '1']);
    expect(b.exitCode).toBe(2);
    expect(b.stderr.trim()).toBe("difftest: --batch '500' must be a whole number from 1 to 128");
    expect(b.stdout).toBe('');
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

  it('ci: without --count or --seconds runs its default 300 cases and says so', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const r = await run(['ci', '--workers', '1', '--no-minimize', '--out', path.join(mkdtempSync(path.join(tmpdir(), 'difftest-ci-')), 'r')]);
    expect(r.stdout).toMatch(/^difftest: ci seed 1 \(replay with --seed 1\); 300 cases, 1 worker\(s\), block mode/m);
    expect(r.stdout).toMatch(/^difftest: 3\d\d tests in/m); // 300 generated plus the regression corpus
  }, 120_000);

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
    expect(accepted.stdout).toMatch(/\d+ suppressed groups? \(\d+ signatures?, listed in the report\)/);
    expect(readFileSync(path.join(dir, 'sup', 'junit.xml'), 'utf8')).toMatch(/<skipped /);
  }, 180_000);

  it('fuzz announces each new divergence as found, and not the known (suppressed) ones', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(path.join(tmpdir(), 'difftest-announce-'));
    const args = ['fuzz', '--inject', 'add64-mem-trunc32', '--family', 'alu', '--count', '140', '--workers', '1', '--no-minimize', '--seed', '1'];
    const fresh = await run([...args, '--out', path.join(dir, 'fresh')]);
    expect(fresh.stderr).toMatch(/difftest: new divergence in case \d+: ADD /);
    const sup = path.join(dir, 'suppressions.json');
    writeFileSync(sup, JSON.stringify({ format: 'difftest-suppressions/1', suppressions: [{ signature: '/^ADD /', reason: 'accepted for this test' }] }));
    const known = await run([...args, '--suppressions', sup, '--out', path.join(dir, 'known')]);
    expect(known.stderr).not.toMatch(/new divergence in case \d+: ADD /);
    expect(known.stdout).toMatch(/\d+ suppressed groups? \(\d+ signatures?, listed in the report\)/);
  }, 120_000);

  it('restarts a QEMU that dies mid-campaign, marks the case, and finishes the report', async () => {
    const { findTaggedQemu } = await import('../oracle/qemu/orphans.js');
    const runId = `kill-test-${process.pid}`;
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'difftest-kill-')), 'run');
    const child = execa('node', [bin, 'fuzz', '--seconds', '20', '--workers', '1', '--seed', '5', '--no-minimize', '--out', out], {
      reject: false,
      env: { ...process.env, DIFFTEST_RUN_ID: runId },
    });
    // kill the worker's QEMU once it is running cases (the progress line), not while starting
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the campaign did not start within 60 s')), 60_000);
      child.stderr?.on('data', (d: Buffer) => {
        if (/fuzz .*\d+\/s/.test(d.toString())) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    let killed = 0;
    const pid = findTaggedQemu(`difftest-${runId}`)[0];
    if (pid !== undefined) {
      process.kill(pid, 'SIGKILL');
      killed++;
    }
    const r = await child;
    expect(killed).toBe(1);
    expect([0, 1], r.stderr).toContain(r.exitCode);
    const { readResult } = await import('../reports/json.js');
    const result = await readResult(path.join(out, 'result.json'));
    expect(result.oracleCrashes.length).toBeGreaterThanOrEqual(1);
    expect(result.oracleCrashes[0]!.message).toMatch(/gdb connection .* lost|QEMU exited/);
    expect(result.testsRun).toBeGreaterThan(20);
  }, 120_000);

  it('Ctrl-C ends a campaign with a partial report', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'difftest-int-')), 'run');
    const child = execa('node', [bin, 'fuzz', '--seconds', '60', '--workers', '1', '--seed', '6', '--no-minimize', '--out', out], { reject: false, forceKillAfterDelay: false });
    // let it start and run cases for a few seconds (any point works: the report must be written)
    await new Promise((r) => setTimeout(r, 6000));
    child.kill('SIGINT');
    const r = await child;
    expect(r.stderr).toMatch(/SIGINT: finishing the cases in flight and writing a partial report/);
    const { readResult } = await import('../reports/json.js');
    const result = await readResult(path.join(out, 'result.json'));
    expect(result.partial).toBe(true);
    expect(result.seconds).toBeLessThan(30);
  }, 60_000);

  it('rejects a malformed suppressions file before fuzzing, naming the file and the problem', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'difftest-sup-')), 'sup.json');
    writeFileSync(file, JSON.stringify({ format: 'difftest-suppressions/1', suppressions: [{ signature: '/(/', reason: 'x' }] }));
    const r = await run(['fuzz', '--count', '5', '--suppressions', file]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`${file}: bad regex /(/`);
  });

  it('rejects an unknown flag in one line, exit 2', async () => {
    const r = await run(['sample', '--bogus']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^difftest: Unknown option '--bogus'.*usage: difftest sample/);
  });

  it('lists the valid commands for an unknown one', async () => {
    const r = await run(['frobnicate']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'; valid commands: start, sample, setup-check, bench, replay, fuzz, ci, minimize, report, merge, export, replay-export, boot, triangulate, explore$/m);
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
