import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const bin = path.resolve(import.meta.dirname, '../bin/difftest.mjs');
const run = (args: string[], timeout = 120_000) => execa('node', [bin, 'boot', ...args], { reject: false, timeout });
const lastLine = (s: string) => s.trim().split('\n').at(-1) ?? '';
const outDir = () => mkdtempSync(path.join(tmpdir(), 'difftest-boot-cli-'));

describe('difftest boot', () => {
  it('reports the first mismatch with exit code 1 and the report beside it, in Markdown, HTML and JSON', async () => {
    const out = outDir();
    // a planted bug (REX.B ignored), so that the first mismatch does not move as the emulator improves
    const r = await run(['--from', 'early_cpu_init', '--inject', 'rex-b-ignored', '--out', out]);
    expect(r.exitCode).toBe(1);
    const first = /^difftest boot: first mismatch after ([\d,]+) matching instructions, at (\S+): (.*)$/.exec(r.stdout.split('\n')[0]!)!;
    expect(first).not.toBeNull();
    expect(first[3]).toMatch(/\br(8|9|1[0-5])\b/); // an instruction with r8-r15 in ModRM.rm
    expect(r.stdout).toMatch(/report \S+report\.md/);
    expect(readFileSync(path.join(out, 'report.md'), 'utf8')).toContain('```sh\nnode bin/difftest.mjs boot --from early_cpu_init --inject rex-b-ignored\n```');
    const json = JSON.parse(readFileSync(path.join(out, 'result.json'), 'utf8')) as { mismatch: { location: string; diffs: Array<{ path: string }> }; kernel: { version: string } };
    const html = readFileSync(path.join(out, 'report.html'), 'utf8');
    // the HTML page says what the JSON says: where, the kernel, the differing registers bit by bit, the rules
    expect(html).toContain(json.mismatch.location);
    expect(html).toContain(json.kernel.version);
    expect(html).toContain('class="bits"');
    expect(html.match(/<span class="bad"/g)?.length).toBeGreaterThan(0);
    for (const d of json.mismatch.diffs) expect(html).toContain(`${d.path.replace('gpr.', '').toUpperCase()}`);
    expect(html).toContain('Where the value came from');
    expect(html).toMatch(/<code>rep-under-icount<\/code><\/td><td>\d+/);
    expect(html.length).toBeLessThan(200_000);
  }, 180_000);

  it('refuses bad input in one line, before QEMU runs', async () => {
    const sym = await run(['--from', 'no_such_symbol_xyz', '--out', outDir()]);
    expect(sym.exitCode).toBe(2);
    expect(lastLine(sym.stderr)).toBe('difftest: --from no_such_symbol_xyz: no such kernel symbol; check the spelling (names are those of /proc/kallsyms)');
    const kernel = await run(['--kernel', '/bin/ls', '--out', outDir()]);
    expect(kernel.exitCode).toBe(2);
    expect(lastLine(kernel.stderr)).toMatch(/^difftest: --kernel \/bin\/ls has no PVH entry note \(Xen ELF note type 0x12\), .*pass a kernel built with CONFIG_PVH=y/);
    const channel = await run(['--channel', 'fast']);
    expect(channel.exitCode).toBe(2);
    expect(lastLine(channel.stderr)).toBe("difftest: --channel 'fast' is not a channel; use gdb, log or block");
    const memory = await run(['--memory', '5']);
    expect(lastLine(memory.stderr)).toBe("difftest: --memory '5' must be a whole number from 64 to 2,048");
    const point = await run(['--from', 'start_kernel+junk', '--out', outDir()]);
    expect(lastLine(point.stderr)).toMatch(/^difftest: --from 'start_kernel\+junk' is not entry, a symbol/);
    for (const r of [sym, kernel, channel, memory, point]) expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  }, 120_000);

  it('says so in one line when the kernel never reaches --from', async () => {
    // sysrq_handle_crash only runs on SysRq-c: the boot powers off without it
    const r = await run(['--from', 'sysrq_handle_crash', '--out', outDir()], 180_000);
    expect(r.exitCode).toBe(2);
    expect(lastLine(r.stderr)).toMatch(/^difftest: the guest stopped \(guest-shutdown\) after [\d,]+ instructions without reaching --from sysrq_handle_crash; it never ran there/);
  }, 180_000);

  it('writes a partial report on Ctrl-C', async () => {
    const out = outDir();
    const child = execa('node', [bin, 'boot', '--from', 'startup_64', '--out', out], { reject: false, timeout: 120_000 });
    let stderr = '';
    await new Promise<void>((resolve) => {
      child.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('lockstep on the gdb channel')) setTimeout(resolve, 2000);
      });
      void child.then(() => resolve());
    });
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/no mismatch in [\d,]+ instructions \(interrupted\)/);
    const md = readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(md).toContain('Stopped by a signal (Ctrl-C): this is a partial report.');
    expect(existsSync(path.join(out, 'result.json'))).toBe(true);
  }, 180_000);
});
