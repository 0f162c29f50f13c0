import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MUTANT_NAMES } from '../emulator/mutants.js';
import { QemuTarget } from '../oracle/qemu/qemu-target.js';
import { huntMutant, MUTANT_FAMILY } from '../harness/planted.js';
import { runCampaign } from '../harness/campaign/campaign.js';
import { readSuppressions } from '../corpus/suppressions.js';
import { fmt, printTable } from './stats.js';

/** Cases each planted bug's campaign tests before its divergences are grouped. */
const GROUP_CASES = 400;

/**
 * B5: for each planted bug, cases until found, minimization seconds and final size; then a
 * campaign as a user runs it (2 workers, GROUP_CASES cases of the bug's family, analysis under a
 * 20 s budget): how many root-cause groups its divergences make (goal <= 3) and the largest one's
 * hypothesis.
 */
export async function runMinimizationBench(): Promise<void> {
  const qemu = await QemuTarget.launch();
  const rows: Array<[string, string]> = [];
  try {
    for (const m of MUTANT_NAMES) {
      const r = await huntMutant(qemu, m, { seed: 11, maxCases: 400 });
      rows.push([
        m,
        r.minimized
          ? `found at case ${r.foundAt} (${fmt(r.huntSeconds, 2)} s), minimized ${r.minimized.fromInstructions} -> ${r.minimized.toInstructions} instruction(s) in ${fmt(r.minimized.seconds, 2)} s${r.confirmed ? '' : ' (NOT confirmed without the mutant)'}`
          : r.foundAt !== undefined
            ? `found at case ${r.foundAt}, did not reproduce after minimization`
            : 'NOT FOUND within 400 cases',
      ]);
    }
  } finally {
    await qemu.close();
  }
  printTable('B5 minimization of planted bugs (seed 11, block mode)', rows);

  const suppressions = await readSuppressions('difftest-suppressions.json');
  const dir = mkdtempSync(path.join(tmpdir(), 'difftest-b5-'));
  const groups: Array<[string, string]> = [];
  try {
    for (const m of MUTANT_NAMES) {
      const t0 = performance.now();
      const r = await runCampaign({
        runId: `b5-${m}`,
        command: 'bench b5',
        seed: 12,
        count: GROUP_CASES,
        minimizeSeconds: 20,
        workers: 2,
        dut: { kind: 'emulator', inject: [m] },
        mode: 'block',
        families: [MUTANT_FAMILY[m]],
        length: [1, 10],
        raw: false,
        runDir: path.join(dir, m),
        minimize: true,
        replayTemplate: 'replay {file}',
        suppressions,
      });
      const own = r.groups.filter((g) => !g.suppressed);
      groups.push([
        m,
        `${own.length} group(s) from ${r.divergences.filter((d) => !d.suppressed).length} signature(s) in ${fmt((performance.now() - t0) / 1000, 1)} s ` +
          `(${fmt(r.minimizeSeconds ?? 0, 1)} s analyzing)${own[0] ? `; G1: ${own[0].hypothesis}` : ''}`,
      ]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  printTable(`B5 root-cause groups per planted bug (campaign of ${GROUP_CASES} cases of its family, seed 12, 2 workers; goal <= 3)`, groups);
}
