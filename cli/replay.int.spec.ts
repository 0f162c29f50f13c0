import { execa } from 'execa';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureQemu } from '../oracle/qemu/install.js';
import { qemuRunTag } from '../oracle/qemu/launcher.js';

const bin = path.resolve(import.meta.dirname, '../bin/difftest.mjs');
const regressions = path.resolve(import.meta.dirname, '../corpus/regressions');
const run = (args: string[]) => execa('node', [bin, ...args], { reject: false, timeout: 120_000 });

/**
 * A directory as a campaign leaves it: cases, one .jsonl of unlocated cases, and some damage.
 *   a-seed.json           matches (completes)
 *   b-trap.json           matches, ending in #DB (vector 1)
 *   c-not-json.json       malformed JSON
 *   d-schema.json         a schema error
 *   e-outside.json        a region outside the test machine
 *   cases/unlocated.jsonl the seed case, a broken line, the trap case
 */
let dir: string;
let stopQemu: (() => void) | undefined;
afterAll(() => stopQemu?.());
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'difftest-replay-'));
  const seed = readFileSync(path.join(regressions, 'seed-add-r13-rip.json'), 'utf8');
  const trap = readFileSync(path.join(regressions, 'tf-single-step-trap.json'), 'utf8');
  copyFileSync(path.join(regressions, 'seed-add-r13-rip.json'), path.join(dir, 'a-seed.json'));
  copyFileSync(path.join(regressions, 'tf-single-step-trap.json'), path.join(dir, 'b-trap.json'));
  writeFileSync(path.join(dir, 'c-not-json.json'), '{"format": "difftest-case/1",');
  writeFileSync(path.join(dir, 'd-schema.json'), JSON.stringify({ format: 'difftest-case/1', id: 'x', code: 'zz', provenance: { generator: 'hand' } }));
  writeFileSync(path.join(dir, 'e-outside.json'), JSON.stringify({ ...JSON.parse(seed), memory: [{ addr: '0x100000', bytes: '00' }] }));
  mkdirSync(path.join(dir, 'cases'));
  writeFileSync(path.join(dir, 'cases', 'unlocated.jsonl'), [JSON.stringify(JSON.parse(seed)), '{"oops"', JSON.stringify(JSON.parse(trap))].join('\n') + '\n');
});

describe('difftest replay', () => {
  it('runs every readable case of a directory (json and jsonl), names each unreadable one in one line, and exits 2', async () => {
    const r = await run(['replay', dir, '--workers', '2']);
    expect(r.exitCode, r.stderr).toBe(2);
    const err = r.stderr.trim().split('\n');
    expect(err).toHaveLength(4);
    expect(err[0]).toMatch(new RegExp(`^difftest: ${path.join(dir, 'c-not-json.json')}: not JSON \\(`));
    expect(err[1]).toBe(`difftest: ${path.join(dir, 'cases', 'unlocated.jsonl')}:2: not JSON (${jsonError('{"oops"')}); each line of a .jsonl file holds one case`);
    expect(err[2]).toBe(`difftest: ${path.join(dir, 'd-schema.json')}: not a valid difftest case (code: expected an even-length hex byte string); fix the field or regenerate the case`);
    expect(err[3]).toMatch(/e-outside\.json: not a valid difftest case \(memory\.0: region 0x100000 \(1 byte\) lies outside the test machine; case memory must lie within 0x8000–0x2ffff/);
    // the readable cases, in input order, each with how it ended
    const out = r.stdout.split('\n');
    expect(out.slice(0, 4)).toEqual([
      `ok         ${path.join(dir, 'a-seed.json')} (completed)`,
      `ok         ${path.join(dir, 'b-trap.json')} (exception #DB (vector 1), at RIP 0x000000000001000a)`,
      `ok         ${path.join(dir, 'cases', 'unlocated.jsonl')}:1 (completed)`,
      `ok         ${path.join(dir, 'cases', 'unlocated.jsonl')}:3 (exception #DB (vector 1), at RIP 0x000000000001000a)`,
    ]);
    expect(r.stdout).toContain('difftest: 8 case(s): 4 ok, 0 diverged, 4 unreadable');
  });

  it('takes a divergence the suppressions file lists as known, with its reason; --suppressions none reports it', async () => {
    // the known QEMU SHLD bug, as a campaign saves it: no declared expectation
    const { expected: _e, ...c } = JSON.parse(readFileSync(path.join(regressions, 'qemu-bug-shld-mem32-imm.json'), 'utf8')) as Record<string, unknown>;
    const file = path.join(dir, 'saved-shld.json');
    writeFileSync(file, JSON.stringify(c));
    const repo = path.resolve(import.meta.dirname, '..');
    const known = await execa('node', [bin, 'replay', file, '--workers', '1'], { reject: false, timeout: 120_000, cwd: repo });
    expect(known.exitCode, known.stderr).toBe(0);
    expect(known.stdout).toMatch(/^known {6}.*saved-shld\.json: SHLD r\/m32, r32, imm8 rip-rel :: .* \(suppressed: QEMU 7\.2 TCG bug\)$/m);
    const plain = await execa('node', [bin, 'replay', file, '--workers', '1', '--suppressions', 'none'], { reject: false, timeout: 120_000, cwd: repo });
    expect(plain.exitCode).toBe(1);
    expect(plain.stdout).toMatch(/^DIVERGENCE .*saved-shld\.json: SHLD r\/m32, r32, imm8 rip-rel :: /m);
  });

  it('with a planted bug: each divergence with its details, a count per signature, exit 1', async () => {
    const r = await run(['replay', path.join(dir, 'a-seed.json'), path.join(dir, 'cases', 'unlocated.jsonl'), path.join(dir, 'b-trap.json'), '--inject', 'rip-rel-from-start']);
    expect(r.exitCode).toBe(2); // the broken .jsonl line still counts
    expect(r.stdout.match(/^DIVERGENCE .*: ADD r64, r\/m64 rip-rel :: gpr$/gm)).toHaveLength(2);
    expect(r.stdout).toMatch(/gpr\.r13: expected 0xefbed000dc0fcbcf, got/);
    expect(r.stdout).toMatch(/difftest: 5 case\(s\): 2 ok, 2 diverged, 1 unreadable\ndivergences by signature:\n\s+2× ADD r64, r\/m64 rip-rel :: gpr$/);

    const clean = await run(['replay', path.join(dir, 'a-seed.json'), '--inject', 'rip-rel-from-start', '--workers', '1']);
    expect(clean.exitCode).toBe(1);
    expect(clean.stderr).toBe('');
  });

  it('a known divergence shows the exception each side ended in, and counts as known', async () => {
    const r = await run(['replay', path.join(regressions, 'qemu-bug-reserved-nop-reg.json')]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^known {6}.*qemu-bug-reserved-nop-reg\.json: RESERVEDNOP .* \[exception: reference #UD \(vector 6\), at RIP 0x0000000000010000; DUT none\]$/m);
    expect(r.stdout).toMatch(/1 known divergence\(s\)\ndivergences by signature:\n\s+1× RESERVEDNOP .* \(known\)$/m);
  });

  it("against QEMU's own gdb stub (one client at a time) it says so and replays on one worker", async () => {
    const sock = path.join(dir, 'qemu-gdb.sock');
    const qemu = await ensureQemu();
    const child = execa(qemu.path, ['-name', qemuRunTag(), '-S', '-gdb', `unix:${sock},server=on,wait=off`, '-display', 'none', '-nodefaults', '-accel', 'tcg', '-m', '32'], { reject: false });
    stopQemu = () => child.kill('SIGKILL');
    await listening(sock);
    const r = await run(['replay', path.join(dir, 'a-seed.json'), path.join(dir, 'b-trap.json'), '--dut', `gdb:unix:${sock}`, '--workers', '2']);
    expect(r.timedOut).toBe(false);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`difftest: the gdb stub at unix:${sock} serves one connection at a time; replaying with 1 worker`);
    expect(r.stdout).toContain('difftest: 2 case(s): 2 ok, 0 diverged');
  });

  it('a directory without cases is a one-line usage error, not an empty success', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'difftest-replay-empty-'));
    const r = await run(['replay', empty]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim()).toBe(`difftest: no case files (*.json, *.jsonl) in ${empty}; pass case files or a directory that holds some`);
  });

  it('--help states the exit codes and the options', async () => {
    const r = await run(['replay', '--help']);
    expect(r.stdout).toMatch(/--workers N/);
    expect(r.stdout).toMatch(/--timeout MS/);
    expect(r.stdout).toMatch(/Exit code: 0 when every case behaves as expected; 1 when/);
  });
});

/** Wait until QEMU listens (its socket file exists a moment before it does); the probe connection is then closed again. */
async function listening(sock: string): Promise<void> {
  for (let i = 0; ; i++) {
    const ok =
      existsSync(sock) &&
      (await new Promise<boolean>((resolve) => {
        const c = net.connect(sock, () => {
          c.destroy();
          resolve(true);
        });
        c.on('error', () => resolve(false));
      }));
    if (ok) return;
    if (i > 1000) throw new Error(`QEMU did not listen on ${sock}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  return '';
}
