import { execFile } from 'node:child_process';
import { constants, openSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { EmulatorTarget } from '../emulator/emulator-target.js';
import { prepareBootAssets, type BootAssets } from '../harness/boot/assets/assets.js';
import { DeviceLog } from '../harness/boot/device-log.js';
import { GdbLockstep } from '../harness/boot/gdb-lockstep.js';
import { LogLockstep } from '../harness/boot/log-lockstep.js';
import { parseBootPoint } from '../harness/boot/start-point.js';
import { transplant } from '../harness/boot/transplant.js';
import { KernelQemu } from '../oracle/qemu/kernel-qemu.js';
import { snapshotMachine } from '../oracle/qemu/machine-snapshot.js';
import { fmt, median, printTable } from './stats.js';

/**
 * B4 (DESIGN.md): the boot lockstep's compared instructions/s per channel, against QEMU writing
 * the same per-instruction log alone (goal: log channel >= 0.8x of it), and the transplant time.
 * Measured from trap_init (no long REP there, where the gdb channel fast-forwards), on Debian's
 * kernel from .cache/boot.
 */

const START = 'trap_init';

async function atStart(assets: BootAssets): Promise<KernelQemu> {
  const point = parseBootPoint(START, '--from', { symbols: assets.symbols, loads: assets.kernel.loads, pvhEntry: assets.kernel.pvhEntry });
  if (point.kind !== 'address') throw new Error(`${START} is not an address`);
  const k = await KernelQemu.launch({ kernel: assets.kernel.elfPath, initrd: assets.initrd, memoryMiB: 512, serialPath: path.join(tmpdir(), `difftest-b4-${process.pid}.txt`) });
  const r = await k.runTo(point.addresses, { maxIcount: 4e9 });
  if (r.kind !== 'breakpoint') throw new Error(`QEMU did not reach ${START}: ${r.kind}`);
  return k;
}

interface ChannelRound {
  readonly rate: number;
  readonly snapshotMs: number;
  readonly transplantMs: number;
}

async function channelRound(assets: BootAssets, channel: 'gdb' | 'log', steps: number): Promise<ChannelRound> {
  const k = await atStart(assets);
  try {
    const t0 = performance.now();
    const snap = await snapshotMachine(k);
    const snapshotMs = performance.now() - t0;
    const emulator = new EmulatorTarget({ ramBytes: 512 << 20 });
    const { report } = await transplant(snap, emulator);
    const devices = new DeviceLog(emulator);
    const lockstep = channel === 'gdb' ? new GdbLockstep(k, emulator, devices) : new LogLockstep(k, emulator, devices);
    // no checkpoint inside the measured stretch; the final one is subtracted
    const r = await lockstep.run({ maxSteps: steps, checkpointEvery: 0 });
    if (r.mismatch || r.end === 'error') throw new Error(`the ${channel} channel did not run clean from ${START}: ${r.end} ${r.error ?? ''}`);
    const checkpointMs = r.checkpoints.reduce((s, c) => s + c.ms, 0);
    return { rate: r.compared / (r.seconds - checkpointMs / 1000), snapshotMs, transplantMs: report.ms };
  } finally {
    await k.close();
  }
}

/** QEMU writing the per-instruction log to a reader that only counts bytes: instructions/s. */
async function qemuAloneRound(assets: BootAssets, steps: number): Promise<number> {
  const k = await atStart(assets);
  try {
    const fifo = path.join(k.target.qemu.dir, 'alone.fifo');
    await promisify(execFile)('mkfifo', [fifo]);
    const sock = new net.Socket({ fd: openSync(fifo, constants.O_RDWR), readable: true, writable: false });
    let bytes = 0;
    sock.on('data', (d: Buffer) => (bytes += d.length));
    for (const cmd of [`logfile ${fifo}`, 'singlestep on', 'log cpu,int,nochain']) await k.qmp.humanMonitorCommand(cmd);
    const i0 = await k.icount();
    const t0 = performance.now();
    await k.qmp.execute('cont');
    let i = i0;
    while (i - i0 < steps) {
      await new Promise((r) => setTimeout(r, 20));
      i = await k.icount();
    }
    await k.qmp.execute('stop');
    const rate = (i - i0) / ((performance.now() - t0) / 1000);
    await k.qmp.humanMonitorCommand('log none');
    sock.destroy();
    if (bytes === 0) throw new Error('QEMU wrote no log');
    return rate;
  } finally {
    await k.close();
  }
}

export async function runBootLockstepBench(options: { rounds: number }): Promise<void> {
  const rounds = Math.min(options.rounds, 3);
  const assets = await prepareBootAssets({ cacheDir: '.cache/boot', progress: (l) => process.stderr.write(`${l}\n`) });
  const gdb: ChannelRound[] = [];
  const log: ChannelRound[] = [];
  const alone: number[] = [];
  for (let i = 0; i < rounds; i++) {
    gdb.push(await channelRound(assets, 'gdb', 5_000));
    log.push(await channelRound(assets, 'log', 300_000));
    alone.push(await qemuAloneRound(assets, 300_000));
  }
  const gdbRate = median(gdb.map((r) => r.rate));
  const logRate = median(log.map((r) => r.rate));
  const aloneRate = median(alone);
  const all = [...gdb, ...log];
  printTable(`B4 boot lockstep (from ${START}, ${assets.kernel.version.split(' (')[0]}; medians of ${rounds} round(s))`, [
    ['gdb channel', `${fmt(gdbRate)} compared instructions/s (5,000 per round)`],
    ['log channel', `${fmt(logRate)} compared instructions/s (300,000 per round)`],
    ['QEMU writing the log alone', `${fmt(aloneRate)} instructions/s`],
    ['log channel / QEMU alone', `${fmt(logRate / aloneRate, 2)} (goal >= 0.8)`],
    ['snapshot at the start point', `${fmt(median(all.map((r) => r.snapshotMs)))} ms (registers, 45 MSRs, 512 MiB of RAM)`],
    ['transplant into the emulator', `${fmt(median(all.map((r) => r.transplantMs)))} ms (load and read back)`],
    ['block-granular rate', 'n/a (not implemented in this phase)'],
    ['entry to __text_poke', 'n/a: the emulator mismatches first (RDMSR 0x8b in early_init_amd, ~18M instructions after startup_64)'],
  ]);
}
