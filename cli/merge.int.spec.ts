import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readResult } from '../reports/json.js';
import type { CampaignResult } from '../harness/campaign-result.js';
import { fuzzCommand } from './fuzz.js';
import { mergeCommand } from './merge.js';

/**
 * A seeded campaign run once, and as two shards merged: the same report. A planted bug gives it
 * divergences of many signatures and one root cause to find.
 */
const dir = mkdtempSync(path.join(tmpdir(), 'difftest-merge-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const campaign = ['--seed', '8', '--count', '120', '--family', 'alu', '--inject', 'af-never-set', '--length', '1-6', '--workers', '1', '--minimize-seconds', '60'];
const run = async (name: string, extra: string[] = []) => {
  await fuzzCommand.run([...campaign, ...extra, '--out', path.join(dir, name)]);
  return path.join(dir, name, 'result.json');
};

/** What must not depend on sharding. Which signature's case speaks for a group can (as between two runs with several workers): it is left out. */
function essence(r: CampaignResult) {
  return {
    testsRun: r.testsRun,
    divergences: r.divergences.map((d) => [d.signature, d.count, d.caseId, d.group]),
    coverage: r.coverage,
    coverageMissing: r.coverageMissing,
    maskedFlags: [...r.maskedFlags].sort((a, b) => a.mnemonic.localeCompare(b.mnemonic) || a.flags.localeCompare(b.flags)),
    assemblerRejects: [...r.assemblerRejects].sort((a, b) => a.source.localeCompare(b.source)),
    unlocated: r.unlocated?.count ?? 0,
    groups: r.groups.map((g) => ({ id: g.id, key: g.key, necessary: g.necessary, signatures: [...g.signatures].sort(), cases: g.cases })),
  };
}

describe('difftest merge', () => {
  it('merges two shards into the report of the unsharded run with the same seed', async () => {
    const whole = await run('whole');
    const shards = [await run('s1', ['--shard', '1/2']), await run('s2', ['--shard', '2/2'])];
    const parts = await Promise.all(shards.map((f) => readResult(f)));
    // each shard ran its own half: the odd and the even cases
    expect(parts.map((p) => p.testsRun)).toEqual([60, 60]);
    expect(parts[0]!.divergences.every((d) => Number(/-(\d+)$/.exec(d.caseId)![1]) % 2 === 0)).toBe(true);
    expect(parts[0]!.groups).toEqual([]); // grouping is the merge's

    expect(await mergeCommand.run([...shards, '--out', path.join(dir, 'merged'), '--workers', '1'])).toBe(1);
    const merged = await readResult(path.join(dir, 'merged', 'result.json'));
    const one = await readResult(whole);
    expect(one.divergences.length).toBeGreaterThan(5);
    expect(one.groups.length).toBeGreaterThan(0);
    expect(essence(merged)).toEqual(essence(one));
    expect(merged.divergences.filter((d) => d.minimization).length).toBe(one.divergences.filter((d) => d.minimization).length);
    // the merged report replays on its own: its case files were copied beside it
    for (const d of merged.divergences) expect(readFileSync(path.join(dir, 'merged', d.caseFile!)).length).toBeGreaterThan(0);
  }, 300_000);

  it('refuses, in one line, a missing shard, a shard given twice, and shards of different campaigns', async () => {
    const [s1, s2] = [path.join(dir, 's1', 'result.json'), path.join(dir, 's2', 'result.json')];
    const out = ['--out', path.join(dir, 'refused'), '--no-minimize'];
    await expect(mergeCommand.run([s1, ...out])).rejects.toThrow(/^shard 2\/2 missing: merge needs the result\.json of all 2 shards \(got 1\/2\)$/);
    await expect(mergeCommand.run([s1, s1, ...out])).rejects.toThrow(/are both shard 1\/2; give each shard's result once$/);
    await expect(mergeCommand.run([path.join(dir, 'whole', 'result.json'), s2, ...out])).rejects.toThrow(/whole\/result\.json is not a shard's result/);
    const edited = (file: string, edit: (json: Record<string, Record<string, unknown>>) => void) => {
      const json = JSON.parse(readFileSync(s2, 'utf8'));
      edit(json);
      const to = path.join(dir, file, 'result.json');
      mkdirSync(path.dirname(to), { recursive: true });
      writeFileSync(to, JSON.stringify(json));
      return to;
    };
    const otherSeed = edited('seed9', (j) => (j.campaign!.seed = '9'));
    await expect(mergeCommand.run([s1, otherSeed, ...out])).rejects.toThrow(/are not shards of one campaign \(--seed 8 vs 9\); merge only results of the same command with different --shard$/);
    const otherVersion = edited('version', (j) => ((j.campaign!.tool as Record<string, unknown>).version = '0.0.1'));
    await expect(mergeCommand.run([s1, otherVersion, ...out])).rejects.toThrow(/\(difftest version 0\.1\.0 vs 0\.0\.1\)/);
    const otherQemu = edited('qemu', (j) => (j.oracle!.implementation = 'qemu 9.9.9'));
    await expect(mergeCommand.run([s1, otherQemu, ...out])).rejects.toThrow(/ran different QEMUs \(qemu .* vs qemu 9\.9\.9\); run every shard with the same one$/);
  });
});
