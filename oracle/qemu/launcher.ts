import { execa, type ResultPromise } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { childLogger } from '../../util/log.js';
import { RspClient } from '../rsp/client.js';
import { ensureQemu, SetupError, type QemuBinary } from './install.js';
import { QmpClient } from './qmp.js';
import { reapOrphanedQemu } from './orphans.js';
import { SharedRam } from './shared-ram.js';

export interface QemuLaunchOptions {
  /** Guest RAM in MiB (default 32). */
  readonly memoryMiB?: number;
  /** `-cpu` model (default qemu64). Recorded in every result. */
  readonly cpuModel?: string;
  /** Extra QEMU arguments (arrays only; nothing goes through a shell). */
  readonly extraArgs?: readonly string[];
  /** Per-request gdb timeout in ms. */
  readonly timeoutMs?: number;
  /** Back guest RAM with a file difftest holds open too (shared-ram.ts). Default false; QemuTarget turns it on. */
  readonly sharedRam?: boolean;
}

/** Marks every QEMU we start, so test teardown can find and kill leftovers of this run. */
export function qemuRunTag(): string {
  return `difftest-${process.env.DIFFTEST_RUN_ID ?? String(process.pid)}`;
}

const log = childLogger('qemu');
const live = new Set<QemuProcess>();
let reaped = false;

function killAllSync(): void {
  for (const q of live) q.killNow();
}
process.once('exit', killAllSync);

async function retryRefused<T>(connect: () => Promise<T>, deadline: number, exited: () => string | undefined): Promise<T> {
  for (;;) {
    try {
      return await connect();
    } catch (err) {
      if (exited() || Date.now() > deadline || !/ECONNREFUSED|ENOENT/.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

/** A running QEMU with its gdb stub and QMP on unix sockets in a private temp dir. */
export class QemuProcess {
  private stderrTail = '';
  private exited: string | undefined;

  private constructor(
    readonly binary: QemuBinary,
    readonly cpuModel: string,
    readonly memoryMiB: number,
    readonly dir: string,
    private readonly child: ResultPromise,
    readonly rsp: RspClient,
    readonly qmp: QmpClient,
    /** Guest RAM as a file, when launched with `sharedRam`. */
    readonly ram: SharedRam | undefined,
  ) {}

  static async launch(options: QemuLaunchOptions = {}): Promise<QemuProcess> {
    const binary = await ensureQemu();
    if (!reaped) {
      reaped = true;
      const orphans = reapOrphanedQemu();
      if (orphans.length) log.warn({ pids: orphans }, 'killed QEMU processes left by a difftest that was killed');
      SharedRam.reapStale();
    }
    const cpuModel = options.cpuModel ?? 'qemu64';
    const memoryMiB = options.memoryMiB ?? 32;
    if (!Number.isInteger(memoryMiB) || memoryMiB < 2 || memoryMiB > 2048) {
      throw new SetupError(`memory size ${memoryMiB} MiB is out of range; use a whole number of MiB from 2 to 2048`);
    }
    const dir = await mkdtemp(path.join(tmpdir(), 'difftest-qemu-'));
    const gdbPath = path.join(dir, 'gdb.sock');
    const qmpPath = path.join(dir, 'qmp.sock');
    const ramFile = options.sharedRam ? SharedRam.placeFile(dir) : undefined;
    const args = [
      '-name', qemuRunTag(),
      '-S',
      '-gdb', `unix:${gdbPath},server=on,wait=off`,
      '-qmp', `unix:${qmpPath},server=on,wait=off`,
      '-display', 'none',
      '-nodefaults',
      '-no-user-config',
      ...(ramFile ? SharedRam.qemuArgs(ramFile, memoryMiB) : ['-machine', 'pc']),
      '-accel', 'tcg',
      '-cpu', cpuModel,
      '-m', String(memoryMiB),
      // A triple fault must be observable, not a silent reset.
      '-action', 'reboot=shutdown,shutdown=pause',
      ...(options.extraArgs ?? []),
    ];
    log.debug({ qemu: binary.path, args }, 'starting QEMU');
    const child = execa(binary.path, args, { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', reject: false, cleanup: true });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    let exitNote: string | undefined;
    void child.then((r) => {
      exitNote = `QEMU exited (${r.signal ? `signal ${r.signal}` : `code ${r.exitCode}`})`;
    });
    // wait for both sockets to appear (QEMU creates them before entering its main loop)
    const deadline = Date.now() + 10_000;
    while (!(existsSync(gdbPath) && existsSync(qmpPath))) {
      if (exitNote || Date.now() > deadline) {
        child.kill('SIGKILL');
        await rm(dir, { recursive: true, force: true });
        if (ramFile) SharedRam.discard(ramFile);
        const why = exitNote ?? 'QEMU did not open its sockets within 10 s';
        throw new SetupError(`${why}: ${stderr.trim().split('\n').slice(-3).join(' | ') || 'no output'} (command: ${binary.path} ${args.join(' ')})`);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    let proc: QemuProcess | undefined;
    let ram: SharedRam | undefined;
    const closeDetail = () => {
      const tail = (proc ? proc.stderrTail : stderr).trim().split('\n').slice(-3).join(' | ');
      const status = proc?.exited ?? exitNote;
      return [status, tail ? `QEMU stderr: ${tail}` : ''].filter(Boolean).join('; ');
    };
    try {
      // The socket file exists a moment before QEMU listens on it: retry refused connects.
      const rsp = await retryRefused(() => RspClient.connect({ path: gdbPath }, { timeoutMs: options.timeoutMs, closeDetail }), deadline, () => exitNote);
      const qmp = await retryRefused(() => QmpClient.connect(qmpPath), deadline, () => exitNote);
      // QEMU created and mapped the file before opening its sockets
      if (ramFile) ram = SharedRam.open(ramFile, memoryMiB);
      proc = new QemuProcess(binary, cpuModel, memoryMiB, dir, child, rsp, qmp, ram);
    } catch (err) {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      ram?.close();
      if (ramFile) SharedRam.discard(ramFile);
      throw err;
    }
    const p = proc;
    p.stderrTail = stderr;
    child.stderr?.on('data', (d: Buffer) => {
      p.stderrTail = (p.stderrTail + d.toString()).slice(-4000);
    });
    void child.then((r) => {
      p.exited = `QEMU exited (${r.signal ? `signal ${r.signal}` : `code ${r.exitCode}`})`;
      live.delete(p);
    });
    live.add(p);
    return p;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get hasExited(): boolean {
    return this.exited !== undefined;
  }

  /** Synchronous kill for process-exit paths. */
  killNow(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  async close(): Promise<void> {
    live.delete(this);
    await this.rsp.close().catch(() => undefined);
    this.qmp.close();
    this.ram?.close();
    if (!this.exited) {
      this.child.kill('SIGKILL');
      await Promise.race([this.child, new Promise((r) => setTimeout(r, 2000))]);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
