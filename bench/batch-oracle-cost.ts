/**
 * What QEMU's side of a batch costs per case, with guest RAM shared through a file (batch data
 * written and records read with pwrite/pread) and without (hex `M`/`m` packets through the gdb
 * stub): one QEMU each, the same staged 96-case batches run alternately on both, so both see the
 * same load. CPU time per case of this process and of the QEMU, medians over the passes after
 * the first:
 *   npx tsx bench/batch-oracle-cost.ts [passes=6]
 */
import { readFileSync } from 'node:fs';
import type { Case } from '../corpus/case-schema.js';
import { QemuTarget } from '../oracle/qemu/qemu-target.js';
import { EmulatorTarget } from '../emulator/emulator-target.js';
import { createCaseSource } from '../harness/campaign/case-source.js';
import { BatchScreen } from '../harness/batch/batch-screen.js';
import { batchIneligible } from '../harness/batch/batch-image.js';
import { fmt, median } from './stats.js';

const passes = Number(process.argv[2] ?? 6);
const TICK_MICROS = 10_000;

function qemuCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MICROS;
}

const batches: Case[][] = [];
const source = createCaseSource({ seed: 7, length: [10, 10], raw: false });
for (let b = 0; b < 10; b++) {
  const gen = await Promise.all(Array.from({ length: 96 }, (_, k) => source(b * 96 + k)));
  batches.push(gen.flatMap((g) => (g.case && !batchIneligible(g.case) ? [g.case] : [])));
}
const caseCount = batches.reduce((n, b) => n + b.length, 0);
const ways = await Promise.all(
  [true, false].map(async (sharedRam) => {
    const qemu = await QemuTarget.launch({ sharedRam });
    return { name: sharedRam ? 'shared RAM file' : 'gdb packets', qemu, screen: new BatchScreen(qemu, new EmulatorTarget()), node: [] as number[], qemuCpu: [] as number[], agreed: 0 };
  }),
);
try {
  for (let p = 0; p < passes + 1; p++) {
    for (const w of ways) {
      const q0 = qemuCpuMicros(w.qemu.qemu.pid!);
      const c0 = process.cpuUsage();
      let agreed = 0;
      for (const b of batches) agreed += (await w.screen.screen(b)).agreed.filter(Boolean).length;
      const c = process.cpuUsage(c0);
      if (p === 0) continue;
      w.node.push((c.user + c.system) / caseCount);
      w.qemuCpu.push((qemuCpuMicros(w.qemu.qemu.pid!) - q0) / caseCount);
      w.agreed = agreed;
    }
  }
  for (const w of ways) {
    console.log(`${w.name}: node ${fmt(median(w.node), 1)} µs/case, QEMU ${fmt(median(w.qemuCpu), 1)} µs/case (${w.agreed} of ${caseCount} cases agreed per pass)`);
  }
} finally {
  await Promise.all(ways.map((w) => w.qemu.close()));
}
