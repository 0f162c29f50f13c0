import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EmulatorTarget } from '../../emulator/emulator-target.js';
import { readMsr } from '../../emulator/harness-hooks.js';
import { KernelQemu } from '../../oracle/qemu/kernel-qemu.js';
import { snapshotMachine } from '../../oracle/qemu/machine-snapshot.js';
import { probeMsrs } from '../../oracle/qemu/msr-probe.js';
import { prepareBootAssets, type BootAssets } from './assets/assets.js';
import { transplant } from './transplant.js';

/**
 * A real Debian kernel on a real QEMU, stopped at startup_64 (which PVH enters at its physical
 * alias), read whole and moved into the emulator. Expectations come from QEMU itself: its gdb
 * stub's registers, a second identical run, the state read back.
 */
let assets: BootAssets;
/** Where the first test's breakpoint stopped QEMU: the instruction count and the state there. */
let atStartup64: { icount: number; state: Awaited<ReturnType<KernelQemu['target']['readState']>> } | undefined;
let qemu: KernelQemu;
const launch = () => KernelQemu.launch({ kernel: assets.kernel.elfPath, initrd: assets.initrd, memoryMiB: 512, serialPath: path.join(tmpdir(), `difftest-serial-${process.pid}-${Date.now()}.txt`) });

beforeAll(async () => {
  assets = await prepareBootAssets({ cacheDir: '.cache/boot' });
  qemu = await launch();
}, 300_000);
afterAll(async () => {
  await qemu?.close();
});

describe('QEMU booting the kernel', () => {
  it('stops at startup_64 at its physical alias, at the same instruction count in every run', async () => {
    const sym = assets.symbols.lookup('startup_64')[0]!.addr;
    const alias = sym - 0xffffffff80000000n;
    const first = await qemu.runTo([sym, alias], { maxIcount: 1e9 });
    expect(first).toMatchObject({ kind: 'breakpoint', rip: alias });
    atStartup64 = { icount: first.icount, state: await qemu.target.readState({ system: true }) };
    // a second run, started more than a second later (the RTC must not follow the host's clock)
    await new Promise((r) => setTimeout(r, 1200));
    const other = await launch();
    try {
      // sliced differently: the instruction stream must not depend on where QEMU was interrupted
      const again = await other.runTo([sym, alias], { maxIcount: 1e9, sliceMs: 3 });
      expect(again).toEqual(first);
      // the BIOS's tick count, which SeaBIOS sets from the RTC
      const ticks = async (k: KernelQemu) => k.target.readMemory(0x46cn, 4, 'phys');
      expect(await ticks(other)).toEqual(await ticks(qemu));
    } finally {
      await other.close();
    }
  });

  it('reads MSRs exactly by executing RDMSR, and leaves the machine as it was', async () => {
    const q = qemu.target;
    const before = await q.readState({ system: true });
    const code = await q.readMemory(before.rip, 4, 'virt');
    const icount = await qemu.icount();
    // EFER and GS_BASE: the gdb stub reports them too, an independent reading
    const msrs = await probeMsrs(q, 0, [{ index: 0xc0000080, name: 'EFER' }, { index: 0xc0000101, name: 'GS_BASE' }, { index: 0x277, name: 'PAT' }]);
    expect(msrs.get(0xc0000080)).toBe(before.efer);
    expect(msrs.get(0xc0000101)).toBe(before.gsBase);
    expect(msrs.get(0x277)).toBe(0x0007040600070406n); // PAT's reset value: nothing has written it yet
    expect(await q.readState({ system: true })).toEqual(before);
    expect(await q.readMemory(before.rip, 4, 'virt')).toEqual(code);
    expect(await qemu.icount()).toBe(icount + 3);
  });

  it('moves the whole machine into the emulator, and reads back equal', async () => {
    const snap = await snapshotMachine(qemu);
    expect(snap.ram.length).toBe(512 << 20);
    expect(snap.extras.cpl).toBe(0);
    expect(snap.probeInstructions).toBe(snap.msrInfo.length);
    // what the transplant must carry: long mode with the PVH boot's GDT, selectors with caches
    expect(snap.state.efer & 0x500n).toBe(0x500n);
    expect(snap.state.seg.cs.attrs! & 0x00200000).toBe(0x00200000); // CS.L
    expect(snap.state.gdtr?.base).toBeGreaterThan(0n);

    const emulator = new EmulatorTarget({ ramBytes: 512 << 20 });
    const { report, state } = await transplant(snap, emulator);
    expect(report.stateDiffs).toEqual([]);
    expect(report.ramPagesDiffering).toBe(0);
    expect(report.msrMismatches).toEqual([]);
    expect(report.drMismatches).toEqual([]);
    expect(state.gdtr).toEqual(snap.state.gdtr);
    expect(state.tr).toEqual(snap.state.tr);
    for (const name of ['PAT', 'APIC_BASE', 'STAR', 'LSTAR', 'MISC_ENABLE']) expect(report.msrsLoaded).toContain(name);
    expect(readMsr(emulator, 0x1b)).toBe(snap.msrs.get(0x1b));
    // SSE state is carried (XMM0-15, MXCSR as QEMU had them); what cannot be carried is said, not dropped
    expect(snap.state.sse).toBeDefined();
    expect(state.sse).toEqual(snap.state.sse);
    expect(report.notCarried.some((n) => n.startsWith('SSE'))).toBe(false);
    // (each MSR reported as not modelled is one the emulator's model indeed lacks)
    for (const m of report.msrsNotModelled) expect(readMsr(emulator, snap.msrInfo.find((i) => i.name === m.name)!.index)).toBeUndefined();
  }, 60_000);

  it('runs a fresh boot to an exact instruction count: the instruction a breakpoint stopped at, same state', async () => {
    // millions of instructions away: time slices, then the counted per-instruction log, then gdb steps
    const expected = atStartup64!;
    const { qemu: other, outcome } = await KernelQemu.reachIcount(launch, expected.icount);
    try {
      expect(outcome).toEqual({ kind: 'icount', icount: expected.icount });
      expect(await other.target.readState({ system: true })).toEqual(expected.state);
    } finally {
      await other.close();
    }
  }, 240_000);

  it('runs to an exact instruction count by stepping the last stretch', async () => {
    const now = await qemu.icount();
    const r = await qemu.runToIcount(now + 1500);
    expect(r).toEqual({ kind: 'icount', icount: now + 1500 });
  });
});
