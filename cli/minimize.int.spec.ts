import { execa } from 'execa';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCaseFile } from '../corpus/case-schema.js';

const bin = path.resolve(import.meta.dirname, '../bin/difftest.mjs');
const seed = path.resolve(import.meta.dirname, '../corpus/regressions/seed-add-r13-rip.json');
const run = (args: string[], cwd?: string) => execa('node', [bin, ...args], { reject: false, timeout: 120_000, cwd });

/** The input in a folder of its own, to see that nothing is written beside it. */
function inputDir(): { dir: string; input: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'difftest-min-in-'));
  const input = path.join(dir, 'seed.json');
  copyFileSync(seed, input);
  return { dir, input };
}

describe('difftest minimize', () => {
  it('writes the minimized case and the report into --out, and nothing beside its input (exit 1)', async () => {
    const { dir, input } = inputDir();
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'difftest-min-out-')), 'report');
    const r = await run(['minimize', input, '--inject', 'rip-rel-from-start', '--out', out]);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(readdirSync(dir)).toEqual(['seed.json']);
    expect(readdirSync(out).sort()).toEqual(['cases', 'index.html', 'junit.xml', 'result.json', 'summary.md']);
    const min = await readCaseFile(path.join(out, 'cases', 'seed.min.json'));
    expect(min.asm?.length ?? min.code.length).toBeLessThan(4);
    expect(r.stdout).toContain(`difftest: minimized case ${path.join(out, 'cases', 'seed.min.json')}`);
    expect(r.stdout).toContain(`difftest: report ${path.join(out, 'index.html')}`);
  });

  it('defaults to a new folder under reports/runs/ of the working directory', async () => {
    const { dir, input } = inputDir();
    const cwd = mkdtempSync(path.join(tmpdir(), 'difftest-min-cwd-'));
    const r = await run(['minimize', input, '--inject', 'rip-rel-from-start'], cwd);
    expect(r.exitCode, r.stderr).toBe(1);
    const runs = readdirSync(path.join(cwd, 'reports', 'runs'));
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-minimize-seed-add-r13-rip$/);
    expect(existsSync(path.join(cwd, 'reports', 'runs', runs[0]!, 'cases', 'seed.min.json'))).toBe(true);
    expect(r.stdout).toContain(`difftest: report ${path.join('reports', 'runs', runs[0]!, 'index.html')}`);
    expect(readdirSync(dir)).toEqual(['seed.json']);
  });

  it('a case that does not diverge: exit 0, and no folder left behind', async () => {
    const { input } = inputDir();
    const cwd = mkdtempSync(path.join(tmpdir(), 'difftest-min-cwd-'));
    const r = await run(['minimize', input], cwd);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/does not diverge .*; nothing to minimize/);
    expect(readdirSync(path.join(cwd, 'reports', 'runs'))).toEqual([]);
  });

  it('an --out that is a file, or lies under one, is one line before anything runs (exit 2)', async () => {
    const { dir, input } = inputDir();
    const file = path.join(dir, 'taken');
    writeFileSync(file, '');
    const r = await run(['minimize', input, '--inject', 'rip-rel-from-start', '--out', file]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim()).toBe(`difftest: --out ${file}: is a file; pass a directory`);
    const under = await run(['minimize', input, '--out', path.join(file, 'x')]);
    expect(under.stderr.trim()).toBe(`difftest: --out ${path.join(file, 'x')}: a part of that path is a file (ENOTDIR); pass a directory`);
  });

  it('takes one case of a .jsonl file as FILE:LINE, and asks for a line when the file holds several', async () => {
    const { dir } = inputDir();
    const jsonl = path.join(dir, 'unlocated.jsonl');
    const line = JSON.stringify(JSON.parse((await import('node:fs')).readFileSync(seed, 'utf8')));
    writeFileSync(jsonl, `${line}\n${line}\n`);
    const which = await run(['minimize', jsonl]);
    expect(which.exitCode).toBe(2);
    expect(which.stderr.trim()).toBe(`difftest: ${jsonl} holds 2 cases; pick one as ${jsonl}:LINE (lines 1, 2)`);
    const out = path.join(dir, 'out');
    mkdirSync(out);
    const r = await run(['minimize', `${jsonl}:2`, '--inject', 'rip-rel-from-start', '--out', out]);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(existsSync(path.join(out, 'cases', 'unlocated-line2.min.json'))).toBe(true);
  });

  it('--help states the exit codes', async () => {
    const r = await run(['minimize', '--help']);
    expect(r.stdout).toMatch(/Exit code: 0 when the case does not diverge .*; 1 when it\ndiverges .*; 2 on bad input/s);
  });
});
