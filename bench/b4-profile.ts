/**
 * The log channel alone from trap_init, for profiling:
 *   DIFFTEST_PROFILE=/tmp/b4.cpuprofile npx tsx bench/b4-profile.ts [steps] [from]
 *   npx tsx bench/cpuprofile-top.ts /tmp/b4.cpuprofile
 * Prints the compared rate and this process's CPU time per instruction.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';
import { tmpdir } from 'node:os';
import { EmulatorTarget } from '../emulator/emulator-target.js';
import { prepareBootAssets } from '../harness/boot/assets/assets.js';
import { DeviceLog } from '../harness/boot/device-log.js';
import { compareCheckpoint } from '../harness/boot/checkpoint.js';
import { BlockLockstep } from "../harness/boot/block-lockstep.js";
import { LogLockstep } from '../harness/boot/log-lockstep.js';
import { parseBootPoint } from '../harness/boot/start-point.js';
import { transplant } from '../harness/boot/transplant.js';
import { KernelQemu } from '../oracle/qemu/kernel-qemu.js';
import { snapshotMachine } from '../oracle/qemu/machine-snapshot.js';

const steps = Number(process.argv[2] ?? 300_000);
const from = process.argv[3] ?? 'trap_init';
/** Where to write a CPU profile of the lockstep alone (set DIFFTEST_PROFILE). */
const profileFile = process.env.DIFFTEST_PROFILE;
const assets = await prepareBootAssets({ cacheDir: '.cache/boot' });
const point = parseBootPoint(from, '--from', { symbols: assets.symbols, loads: assets.kernel.loads, pvhEntry: assets.kernel.pvhEntry });
if (point.kind !== 'address') throw new Error('an address');
const k = await KernelQemu.launch({ kernel: assets.kernel.elfPath, initrd: assets.initrd, memoryMiB: 512, serialPath: path.join(tmpdir(), `difftest-b4p-${process.pid}.txt`) });
try {
  await k.runTo(point.addresses, { maxIcount: 4e9 });
  const snap = await snapshotMachine(k);
  const emulator = new EmulatorTarget({ ramBytes: 512 << 20 });
  await transplant(snap, emulator);
  const lockstep = process.env.CHANNEL === "block" ? new BlockLockstep(k, emulator, new DeviceLog(emulator)) : new LogLockstep(k, emulator, new DeviceLog(emulator));
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) => new Promise<unknown>((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
  if (profileFile) {
    await post('Profiler.enable');
    await post('Profiler.start');
  }
  const qemuCpu = () => {
    const f = readFileSync(`/proc/${k.target.qemu.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, ms (100 Hz ticks)
  };
  const q0 = qemuCpu();
  const u0 = process.cpuUsage();
  const r = await lockstep.run({ maxSteps: steps, checkpointEvery: 0 });
  if (profileFile) {
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    writeFileSync(profileFile, JSON.stringify(profile));
  }
  const u1 = process.cpuUsage(u0);
  const qms = qemuCpu() - q0;
  // the final checkpoint's cost, measured again and taken off
  const u2 = process.cpuUsage();
  await compareCheckpoint(k, emulator, lockstep.history, r.compared);
  const uc = process.cpuUsage(u2);
  const u = { user: u1.user - uc.user, system: u1.system - uc.system };
  const cp = r.checkpoints.reduce((s, c) => s + c.ms, 0) / 1000;
  console.log(`${r.end}${r.error ? ` (${r.error})` : ''} ${r.compared} compared in ${(r.seconds - cp).toFixed(2)} s: ${(r.compared / (r.seconds - cp)).toFixed(0)}/s; node CPU ${(((u.user + u.system) / 1000) / r.compared * 1000).toFixed(2)} us/instr (user ${(u.user / r.compared).toFixed(2)}, sys ${(u.system / r.compared).toFixed(2)})`);
  if (r.stream) console.log(`pipe ${(lockstep as unknown as {x?: number}).x ?? ""}waiting for QEMU ${(r.stream.waitedMs / 1000).toFixed(2)} s, parsing ${(r.stream.parseMs / 1000).toFixed(2)} s, ${(r.stream.bytes / r.compared).toFixed(0)} bytes/instr; checkpoints ${cp.toFixed(2)} s; node CPU to the stop ${(r.stream.cpuMs * 1000 / r.compared).toFixed(2)} us/instr; QEMU CPU ${(qms * 1000 / r.compared).toFixed(2)} us/instr (checkpoint included)`);
} finally {
  await k.close();
}
