import { MUTANT_NAMES } from '../emulator/mutants.js';
import { QemuTarget } from '../oracle/qemu/qemu-target.js';
import { huntMutant } from '../harness/planted.js';
import { fmt, printTable } from './stats.js';

/** B5: for each planted bug, cases until found, minimization seconds and final size. */
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
}
