import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSuppressions, suppressionFor } from '../../corpus/suppressions.js';
import { generatableRows } from '../generate/row-catalog.js';
import { runCampaign } from './campaign.js';

/**
 * Short seeded campaigns of the sse and x87 families against a real QEMU: every divergence they
 * find is one of the known QEMU 7.2 deviations of difftest-suppressions.json (each proven on the
 * host CPU or by the SDM, with a regression case), none is left unexplained; the cases go
 * through simd batches; the families' rows are exercised.
 */
const dir = mkdtempSync(path.join(tmpdir(), 'difftest-simd-campaign-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each([
  ['sse', 7, 500],
  ['x87', 3, 500],
] as const)('a --family %s campaign (seed %i, %i cases)', (family, seed, count) => {
  it('finds no divergence beyond the known QEMU deviations, settles most cases by batch and exercises the family', async () => {
    const suppressions = await readSuppressions('difftest-suppressions.json');
    const r = await runCampaign({
      runId: `simd-${family}`,
      command: 'test',
      seed,
      count,
      workers: 2,
      dut: { kind: 'emulator', inject: [] },
      mode: 'block',
      families: [family],
      length: [1, 10],
      raw: false,
      runDir: path.join(dir, family),
      minimize: false,
      replayTemplate: 'replay {file}',
      suppressions,
    });
    expect(r.testsRun).toBe(count);
    const unexplained = r.divergences.filter((d) => !suppressionFor(suppressions, d.signature)).map((d) => d.signature);
    expect(unexplained).toEqual([]);
    expect(r.batch?.screened).toBeGreaterThan(count * 0.8);
    const rows = new Set(generatableRows([family], 'keystone').map((x) => x.id));
    const names = new Set(r.coverage.map((c) => c.row));
    // the coverage names the rows it counts; most of the family's rows are among them
    expect(names.size).toBeGreaterThan(rows.size * 0.75);
  }, 60_000);
});
