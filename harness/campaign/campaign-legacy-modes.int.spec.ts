import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCaseFile } from '../../corpus/case-schema.js';
import { QemuTarget } from '../../oracle/qemu/qemu-target.js';
import type { MutantName } from '../../emulator/mutants.js';
import { LockstepRunner } from '../lockstep.js';
import { createDut } from '../targets.js';
import { generatableRows } from '../generate/row-catalog.js';
import { runCampaign, type CampaignOptions } from './campaign.js';
import { describeRow } from './case-source.js';

/**
 * The protected32 and real16 families end to end against a real QEMU, each case run alone (block
 * mode, stepping to locate): protected32 is 32-bit code on the 32-bit test machine, compared on
 * the 32-bit view; real16 is 16-bit code in real mode on the real-mode test machine (IVT, CS 1000,
 * SS 0800, DS=ES 2000).
 */
const MODES = [
  {
    family: 'protected32' as const,
    planted: { mutant: 'af-never-set' as MutantName, count: 40, what: 'AF never set, in 32-bit code' },
    // the rows only these machines have beside the legacy-only INC/DEC 40-4F
    rows: [] as RegExp[],
  },
  {
    family: 'real16' as const,
    planted: { mutant: 'sbb16-no-carry' as MutantName, count: 150, what: 'SBB without 0x66, in 16-bit code' },
    // segment loads and software interrupts through the IVT
    rows: [/^MOV Sw,Ew/, /^POP (ES|FS|GS)/, /^L[EFG]S Gv,M/, /^INT/],
  },
];

describe.each(MODES)('fuzz --family $family', ({ family, planted, rows }) => {
  const familyRows = generatableRows([family], 'keystone').map((r) => r.id);
  const options = (dir: string, over: Partial<CampaignOptions>): CampaignOptions => ({
    runId: family,
    command: 'test',
    seed: 1,
    workers: 1,
    dut: { kind: 'emulator', inject: [] },
    mode: 'block',
    batch: 1,
    families: [family],
    length: [1, 10],
    raw: false,
    runDir: dir,
    minimize: false,
    replayTemplate: 'replay {file}',
    generatableRows: familyRows,
    rowNames: describeRow,
    ...over,
  });

  it('agrees with QEMU on a seeded campaign and counts the family rows it exercised', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), `difftest-${family}-`));
    try {
      const r = await runCampaign(options(path.join(dir, 'run'), { count: 300 }));
      expect(r.testsRun).toBeGreaterThan(280);
      expect(r.divergences.map((d) => `${d.signature} (${d.caseId})`)).toEqual([]);
      // 300 cases of up to 10 instructions: most of the family's 300-odd rows, legacy-only ones among them
      expect(r.coverage.length).toBeGreaterThan(0.6 * familyRows.length);
      expect(r.coverage.some((c) => /^(INC|DEC) Zv \(4/.test(c.row))).toBe(true);
      for (const row of rows) expect(r.coverage.some((c) => row.test(c.row)), String(row)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it(`finds a planted bug (${planted.what}) and saves a case that replays in its mode`, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), `difftest-${family}-`));
    try {
      const r = await runCampaign(options(path.join(dir, 'run'), { count: planted.count, dut: { kind: 'emulator', inject: [planted.mutant] } }));
      expect(r.divergences.length).toBeGreaterThan(0);
      const file = r.divergences[0]!.caseFile!;
      const saved = await readCaseFile(path.isAbsolute(file) ? file : path.join(dir, 'run', file));
      expect(saved.mode).toBe(family);
      // replayed on a fresh pair: the planted bug diverges again, the emulator as it is agrees
      const qemu = await QemuTarget.launch({});
      try {
        const withBug = await createDut({ kind: 'emulator', inject: [planted.mutant] });
        expect((await new LockstepRunner(qemu, withBug).run(saved)).outcome).toBe('divergence');
        const emulator = await createDut({ kind: 'emulator', inject: [] });
        expect((await new LockstepRunner(qemu, emulator).run(saved)).outcome).toBe('match');
      } finally {
        await qemu.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
