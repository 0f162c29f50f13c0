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
import { BlockLockstep } from '../harness/boot/block-lockstep.js';
import { LogLockstep } from '../harness/boot/log-lockstep.js';
import { parseBootPoint } from '../harness/boot/start-point.js';
import { transplant } from '../harness/boot/transplant.js';
import { KernelQemu } from '../oracle/qemu/kernel-qemu.js';
import { snapshotMachine } from '../oracle/qemu/machine-snapshot.js';
import { fmt, median, printTable } from './stats.js';

/**
 * B4 (DESIGN.md): the boot lockstep's compared instructions/s per channel, against QEMU writing
 * the same log alone (goal: log channel >= 0.8x of it) and QEMU unlogged (what the block channel
 * approaches), and the transplant time.
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
  /** This process's CPU time per compared instruction (us), to the stop: what the comparison costs, load aside. */
  readonly cpuUs?: number;
  readonly snapshotMs: number;
  readonly transplantMs: number;
}

async function channelRound(assets: BootAssets, channel: 'gdb' | 'log' | 'block', steps: number): Promise<ChannelRound> {
  const k = await atStart(assets);
  try {
    const t0 = performance.now();
    const snap = await snapshotMachine(k);
    const snapshotMs = performance.now() - t0;
    const emulator = new EmulatorTarget({ ramBytes: 512 << 20 });
    const { report } = await transplant(snap, emulator);
    const devices = new DeviceLog(emulator);
    const lockstep = channel === 'gdb' ? new GdbLockstep(k, emulator, devices) : channel === 'log' ? new LogLockstep(k, emulator, devices) : new BlockLockstep(k, emulator, devices);
    // no checkpoint inside the measured stretch; the final one is subtracted
    const r = await lockstep.run({ maxSteps: steps, checkpointEvery: 0 });
    if (r.mismatch || r.end === 'error') throw new Error(`the ${channel} channel did not run clean from ${START}: ${r.end} ${r.error ?? ''}`);
    const checkpointMs = r.checkpoints.reduce((s, c) => s + c.ms, 0);
    return { rate: r.compared / (r.seconds - checkpointMs / 1000), cpuUs: r.stream ? (r.stream.cpuMs * 1000) / r.compared : undefined, snapshotMs, transplantMs: report.ms };
  } finally {
    await k.close();
  }
}

/**
 * QEMU alone from the same point: writing the per-instruction log (singlestep) or the per-block log
 * to a reader that only counts bytes, or running unlogged; instructions/s.
 */
async function qemuAloneRound(assets: BootAssets, steps: number, mode: 'instructions' | 'blocks' | 'unlogged'): Promise<number> {
  const k = await atStart(assets);
  try {
    let sock: net.Socket | undefined;
    let bytes = 0;
    if (mode !== 'unlogged') {
      const fifo = path.join(k.target.qemu.dir, 'alone.fifo');
      await promisify(execFile)('mkfifo', [fifo]);
      sock = new net.Socket({ fd: openSync(fifo, constants.O_RDWR), readable: true, writable: false });
      sock.on('data', (d: Buffer) => (bytes += d.length));
      for (const cmd of [`logfile ${fifo}`, mode === 'instructions' ? 'singlestep on' : 'singlestep off', 'log cpu,int,nochain']) await k.qmp.humanMonitorCommand(cmd);
    }
    const i0 = await k.icount();
    const t0 = performance.now();
    await k.qmp.execute('cont');
    let i = i0;
    while (i - i0 < steps) {
      await new Promise((r) => setTimeout(r, mode === 'unlogged' ? 2 : 20));
      i = await k.icount();
    }
    await k.qmp.execute('stop');
    const rate = (i - i0) / ((performance.now() - t0) / 1000);
    if (sock) {
      await k.qmp.humanMonitorCommand('log none');
      sock.destroy();
      if (bytes === 0) throw new Error('QEMU wrote no log');
    }
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
  const block: ChannelRound[] = [];
  const alone: number[] = [];
  const aloneBlocks: number[] = [];
  const unlogged: number[] = [];
  // interleaved, so that the machine's load weighs on every figure alike
  for (let i = 0; i < rounds; i++) {
    gdb.push(await channelRound(assets, 'gdb', 5_000));
    log.push(await channelRound(assets, 'log', 300_000));
    alone.push(await qemuAloneRound(assets, 300_000, 'instructions'));
    block.push(await channelRound(assets, 'block', 1_000_000));
    aloneBlocks.push(await qemuAloneRound(assets, 1_000_000, 'blocks'));
    unlogged.push(await qemuAloneRound(assets, 20_000_000, 'unlogged'));
  }
  const gdbRate = median(gdb.map((r) => r.rate));
  const logRate = median(log.map((r) => r.rate));
  const blockRate = median(block.map((r) => r.rate));
  const aloneRate = median(alone);
  const aloneBlockRate = median(aloneBlocks);
  const unloggedRate = median(unlogged);
  const all = [...gdb, ...log, ...block];
  const cpu = (rs: ChannelRound[]) => fmt(median(rs.map((r) => r.cpuUs ?? 0)), 1);
  printTable(`B4 boot lockstep (from ${START}, ${assets.kernel.version.split(' (')[0]}; medians of ${rounds} round(s))`, [
    ['gdb channel', `${fmt(gdbRate)} compared instructions/s (5,000 per round)`],
    ['log channel', `${fmt(logRate)} compared instructions/s (300,000 per round; this process ${cpu(log)} us CPU per instruction)`],
    ['QEMU writing the log alone', `${fmt(aloneRate)} instructions/s`],
    ['log channel / QEMU alone', `${fmt(logRate / aloneRate, 2)} (goal >= 0.8)`],
    ['block channel', `${fmt(blockRate)} compared instructions/s (1,000,000 per round; this process ${cpu(block)} us CPU per instruction)`],
    ['QEMU writing the block log alone', `${fmt(aloneBlockRate)} instructions/s`],
    ['block channel / QEMU block log alone', fmt(blockRate / aloneBlockRate, 2)],
    ['QEMU unlogged (-icount)', `${fmt(unloggedRate)} instructions/s`],
    ['block channel / QEMU unlogged', fmt(blockRate / unloggedRate, 3)],
    ['snapshot at the start point', `${fmt(median(all.map((r) => r.snapshotMs)))} ms (registers, 45 MSRs, 512 MiB of RAM)`],
    ['transplant into the emulator', `${fmt(median(all.map((r) => r.transplantMs)))} ms (load and read back)`],
    ['entry to __text_poke', 'a run of its own, tens of minutes: npm run bench -- --only b4-entry'],
  ]);
}
