import { tmpdir } from 'node:os';
import path from 'node:path';
import { EmulatorTarget } from '../emulator/emulator-target.js';
import { prepareBootAssets } from '../harness/boot/assets/assets.js';
import { BlockLockstep } from '../harness/boot/block-lockstep.js';
import { DeviceLog } from '../harness/boot/device-log.js';
import { parseBootPoint } from '../harness/boot/start-point.js';
import { transplant } from '../harness/boot/transplant.js';
import { KernelQemu } from '../oracle/qemu/kernel-qemu.js';
import { snapshotMachine } from '../oracle/qemu/machine-snapshot.js';
import { fmt, printTable } from './stats.js';

/**
 * B4's last figure (DESIGN.md: goal under 10 minutes): the wall time of a block-channel lockstep
 * from the kernel's first instruction (the PVH entry) to the first `__text_poke`, everything
 * compared on the way (all of RAM every 20M instructions and at the end). One run of ~170M
 * instructions, tens of minutes on a loaded machine: opt-in (`--only b4-entry`), not in the
 * default bench run.
 */

const CHECKPOINT_EVERY = 20_000_000;

export async function runEntryToTextPokeBench(): Promise<void> {
  const t0 = performance.now();
  const assets = await prepareBootAssets({ cacheDir: '.cache/boot', progress: (l) => process.stderr.write(`${l}\n`) });
  const ctx = { symbols: assets.symbols, loads: assets.kernel.loads, pvhEntry: assets.kernel.pvhEntry };
  const entry = parseBootPoint('entry', '--from', ctx);
  const until = parseBootPoint('__text_poke', '--until', ctx);
  if (entry.kind !== 'address' || until.kind !== 'address') throw new Error('entry and __text_poke must be addresses');
  const k = await KernelQemu.launch({ kernel: assets.kernel.elfPath, initrd: assets.initrd, memoryMiB: 512, serialPath: path.join(tmpdir(), `difftest-b4-entry-${process.pid}.txt`) });
  try {
    const reached = await k.runTo(entry.addresses, { maxIcount: 1e9 });
    if (reached.kind !== 'breakpoint') throw new Error(`QEMU did not reach the PVH entry: ${reached.kind}`);
    const tStart = performance.now();
    const snap = await snapshotMachine(k);
    const emulator = new EmulatorTarget({ ramBytes: 512 << 20 });
    await transplant(snap, emulator);
    const lockstep = new BlockLockstep(k, emulator, new DeviceLog(emulator));
    let last = 0;
    const r = await lockstep.run({
      untilAddresses: until.addresses,
      checkpointEvery: CHECKPOINT_EVERY,
      onProgress: (p) => {
        if (p.compared - last < 10_000_000) return;
        last = p.compared;
        process.stderr.write(`b4-entry: ${fmt(p.compared)} instructions, ${fmt((performance.now() - tStart) / 1000)} s\n`);
      },
    });
    const wall = (performance.now() - tStart) / 1000;
    const outcome = r.end === 'until' ? 'reached __text_poke' : r.end === 'mismatch' ? `stopped at a mismatch after ${fmt(r.compared)} instructions (run difftest boot --channel block --from entry for the report)` : `ended '${r.end}'${r.error ? `: ${r.error}` : ''}`;
    printTable(`B4 entry to __text_poke (block channel, ${assets.kernel.version.split(' (')[0]})`, [
      ['outcome', outcome],
      ['entry to __text_poke', `${fmt(wall)} s wall (${fmt(wall / 60, 1)} min; goal < 10 min), snapshot and transplant included`],
      ['compared', `${fmt(r.compared)} instructions in ${fmt(r.blocks)} QEMU blocks, ${fmt(r.compared / r.seconds)} instructions/s`],
      ['checkpoints', `${r.checkpoints.length} (all of RAM every ${fmt(CHECKPOINT_EVERY)} and at the end), ${r.checkpoints.filter((c) => c.pagesDiffering > 0).length} with pages differing`],
      ['QEMU to the entry and assets', `${fmt((tStart - t0) / 1000, 1)} s`],
    ]);
  } finally {
    await k.close();
  }
}
