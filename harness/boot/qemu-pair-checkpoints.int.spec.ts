import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KernelQemu } from '../../oracle/qemu/kernel-qemu.js';
import { prepareBootAssets, type BootAssets } from './assets/assets.js';
import { runBothTo } from './qemu-pair-checkpoints.js';
import { compareQemuRam } from './qemu-pair-lockstep.js';
import { kernelQemuDut } from './pair-dut.js';

/**
 * The comparison `--dut qemu` stands on: two QEMUs booted the same way and run to the same exact
 * instruction count hold the same RAM, and one byte written into one of them is found.
 */
let assets: BootAssets;
let a: KernelQemu;
let b: KernelQemu;
const launch = () => KernelQemu.launch({ kernel: assets.kernel.elfPath, initrd: assets.initrd, memoryMiB: 512, serialPath: path.join(tmpdir(), `difftest-pair-${process.pid}-${Date.now()}-${Math.random()}.txt`) });

beforeAll(async () => {
  assets = await prepareBootAssets({ cacheDir: '.cache/boot' });
  [a, b] = await Promise.all([launch(), launch()]);
}, 300_000);
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

describe('two QEMUs at the same instruction count', () => {
  it('hold the same RAM, and a byte written into one is named with both values', async () => {
    const [ra, rb] = await runBothTo(a, b, 5_000_000);
    expect(ra.icount).toBe(rb.icount);
    expect(ra.icount).toBeGreaterThanOrEqual(5_000_000);
    expect(await compareQemuRam(a, kernelQemuDut(b))).toEqual({ pagesDiffering: 0, memory: [] });
    const at = 0x1234567n;
    const old = (await b.target.readMemory(at, 1, 'phys'))[0]!;
    await b.target.writeMemory(at, Uint8Array.of(old ^ 0x5a), 'phys');
    const { pagesDiffering, memory } = await compareQemuRam(a, kernelQemuDut(b));
    expect(pagesDiffering).toBe(1);
    expect(memory).toHaveLength(1);
    expect(memory[0]).toMatchObject({ phys: Number(at), source: 'checkpoint' });
    expect([...memory[0]!.expected, ...memory[0]!.actual]).toEqual([old, old ^ 0x5a]);
  }, 120_000);
});
