import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCaseFile } from '../../corpus/case-schema.js';
import { QemuTarget } from '../../oracle/qemu/qemu-target.js';
import { LockstepRunner } from '../lockstep.js';
import { createDut } from '../targets.js';
import { generatableRows } from '../generate/row-catalog.js';
import { runCampaign, type CampaignOptions } from './campaign.js';
import { describeRow } from './case-source.js';

/**
 * The real16 family end to end against a real QEMU: 16-bit programs in real mode on the real-mode test
 * machine (IVT, CS 1000, SS 0800, DS=ES 2000), each case run alone (block mode, stepping to locate).
 */
describe('fuzz --family real16', () => {
  const family = generatableRows(['real16'], 'keystone').map((r) => r.id);
  const options = (dir: string, over: Partial<CampaignOptions>): CampaignOptions => ({
    runId: 'real16',
    command: 'test',
    seed: 1,
    workers: 1,
    dut: { kind: 'emulator', inject: [] },
    mode: 'block',
    batch: 1,
    families: ['real16'],
    length: [1, 10],
    raw: false,
    runDir: dir,
    minimize: false,
    replayTemplate: 'replay {file}',
    generatableRows: family,
    rowNames: describeRow,
    ...over,
  });

  it('agrees with QEMU on a seeded campaign and counts the family rows it exercised', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'difftest-r16-'));
    try {
      const r = await runCampaign(options(path.join(dir, 'run'), { count: 300 }));
      expect(r.testsRun).toBeGreaterThan(280);
      expect(r.divergences.map((d) => `${d.signature} (${d.caseId})`)).toEqual([]);
      // 300 cases of up to 10 instructions: most of the family's 320-odd rows, legacy-only ones among them
      const exercised = r.coverage.length;
      expect(exercised).toBeGreaterThan(0.6 * family.length);
      expect(r.coverage.some((c) => /^(INC|DEC) Zv \(4/.test(c.row))).toBe(true);
      // the real-mode rows: segment loads and software interrupts through the IVT
      for (const row of [/^MOV Sw,Ew/, /^POP (ES|FS|GS)/, /^L[EFG]S Gv,M/, /^INT/]) expect(r.coverage.some((c) => row.test(c.row)), String(row)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('finds a planted bug in 16-bit code (SBB without 0x66) and saves a case that replays in its mode', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'difftest-r16-'));
    try {
      const r = await runCampaign(options(path.join(dir, 'run'), { count: 150, dut: { kind: 'emulator', inject: ['sbb16-no-carry'] } }));
      expect(r.divergences.length).toBeGreaterThan(0);
      const file = r.divergences[0]!.caseFile!;
      const saved = await readCaseFile(path.isAbsolute(file) ? file : path.join(dir, 'run', file));
      expect(saved.mode).toBe('real16');
      // replayed on a fresh pair: the planted bug diverges again, the emulator as it is agrees
      const qemu = await QemuTarget.launch({});
      try {
        const planted = await createDut({ kind: 'emulator', inject: ['sbb16-no-carry'] });
        expect((await new LockstepRunner(qemu, planted).run(saved)).outcome).toBe('divergence');
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
