import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generatableRows } from '../generate/row-catalog.js';
import { runCampaign } from './campaign.js';
import { describeRow } from './case-source.js';

/**
 * The system family end to end against a real QEMU: privileged templates at CPL 0, each case run
 * alone with the whole system setup redone around it. The property checked is that no state leaks
 * from case to case: every difference is at a privileged instruction or at what a control
 * register it wrote changes, never at the prologue's or the templates' plain register loads, and
 * CR3 (never written with another table) never differs.
 */
describe('fuzz --family system', () => {
  it('runs its templates on QEMU and the emulator with no state carried between cases, and counts the privileged rows', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'difftest-system-'));
    try {
      const familyRows = generatableRows(['system'], 'keystone').map((r) => r.id);
      const r = await runCampaign({
        runId: 'system', command: 'test', seed: 5, workers: 1, count: 60,
        dut: { kind: 'emulator', inject: [] }, mode: 'block', batch: 1, families: ['system'], length: [1, 10], raw: false,
        runDir: path.join(dir, 'run'), minimize: false, replayTemplate: 'replay {file}', generatableRows: familyRows, rowNames: describeRow,
      });
      expect(r.testsRun).toBeGreaterThan(55);
      for (const name of [/^WRMSR/, /^RDMSR/, /^MOV Cq,Rq/, /^MOV Rq,Cq/, /^MOV Dq,Rq/, /^MOV Rq,Dq/]) {
        expect(r.coverage.some((c) => name.test(c.row)), String(name)).toBe(true);
      }
      const leaked = r.divergences.filter((d) => /^(MOV r(32|64), imm(32|64)|XOR r\/m32, r32) /.test(d.signature) || /[:,]cr3\b/.test(d.signature));
      expect(leaked.map((d) => `${d.signature} (${d.caseId})`)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
