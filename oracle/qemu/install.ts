import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { childLogger } from '../../util/log.js';

/** A problem the user must fix; the CLI prints `message` as one line, without a stack trace. */
export class SetupError extends Error {
  override readonly name = 'SetupError';
}

export const MIN_QEMU_VERSION: readonly [number, number] = [7, 2];

export interface QemuBinary {
  readonly path: string;
  readonly version: string;
}

const log = childLogger('qemu-install');

async function which(cmd: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(':')) {
    const p = `${dir || '.'}/${cmd}`;
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

export function parseQemuVersion(text: string): [number, number, number] | undefined {
  const m = /QEMU emulator version (\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

async function queryVersion(path: string): Promise<string> {
  const r = await execa(path, ['--version'], { reject: false, timeout: 10_000 });
  const v = parseQemuVersion(r.stdout);
  if (r.exitCode !== 0 || !v) {
    throw new SetupError(`${path} --version failed (${r.stderr.trim() || r.stdout.trim() || `exit ${r.exitCode}`}); reinstall QEMU: apt-get install --reinstall qemu-system-x86`);
  }
  if (v[0] < MIN_QEMU_VERSION[0] || (v[0] === MIN_QEMU_VERSION[0] && v[1] < MIN_QEMU_VERSION[1])) {
    throw new SetupError(
      `QEMU ${v.join('.')} at ${path} is older than ${MIN_QEMU_VERSION.join('.')}, whose gdbstub behaviour difftest relies on; install a newer qemu-system-x86 or point DIFFTEST_QEMU at one`,
    );
  }
  return v.join('.');
}

const APT_LOCK_WAIT_SECONDS = 300;

async function aptInstall(command: string, pkg: string): Promise<void> {
  // Visible on purpose: installing system packages should never be silent.
  process.stderr.write(`difftest: ${command} not found; installing Debian package ${pkg} (apt-get, no recommends)…\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // wait for another apt-get (a fresh machine's unattended upgrades, a parallel run) rather than fail on its lock
  const lockWait = ['-o', `DPkg::Lock::Timeout=${APT_LOCK_WAIT_SECONDS}`];
  const update = await execa('apt-get', [...lockWait, 'update', '-qq'], { reject: false, env, all: true });
  if (update.exitCode !== 0) log.warn({ output: update.all }, 'apt-get update failed; trying the install anyway');
  const install = await execa('apt-get', [...lockWait, 'install', '-y', '-qq', '--no-install-recommends', pkg], {
    reject: false,
    env,
    all: true,
  });
  if (install.exitCode !== 0) {
    const tail = (install.all ?? '').trim().split('\n').slice(-2).join(' | ');
    throw new SetupError(`apt-get install ${pkg} failed (${tail}); install it by hand: apt-get install ${pkg}`);
  }
  process.stderr.write(`difftest: ${pkg} installed.\n`);
}

/**
 * Find `command` on PATH; when missing and we are root with apt-get, install Debian's `pkg`;
 * otherwise a one-line SetupError naming the command to run.
 */
export async function ensureDebianTool(command: string, pkg: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  let path = await which(command, env);
  if (path) return path;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const apt = await which('apt-get', env);
  if (isRoot && apt) {
    await aptInstall(command, pkg);
    path = await which(command, env);
  }
  if (!path) {
    throw new SetupError(
      isRoot && apt
        ? `${command} still missing after installing ${pkg}; check the apt-get output above`
        : `${command} not found; install it with: ${isRoot ? '' : 'sudo '}apt-get install ${pkg}`,
    );
  }
  return path;
}

let cached: Promise<QemuBinary> | undefined;

/** ensureQemu(), memoized for the process. */
export function ensureQemu(): Promise<QemuBinary> {
  cached ??= locateQemu();
  cached.catch(() => {
    cached = undefined;
  });
  return cached;
}

/**
 * Find qemu-system-x86_64 (DIFFTEST_QEMU overrides the PATH lookup). When it is missing and we
 * are root on a machine with apt-get, install Debian's package; otherwise say what to run.
 */
export async function locateQemu(env: NodeJS.ProcessEnv = process.env): Promise<QemuBinary> {
  {
    const override = env.DIFFTEST_QEMU;
    if (override) {
      if (!existsSync(override)) throw new SetupError(`DIFFTEST_QEMU=${override} does not exist; unset it or point it at a qemu-system-x86_64 binary`);
      return { path: override, version: await queryVersion(override) };
    }
    const path = await ensureDebianTool('qemu-system-x86_64', 'qemu-system-x86', env);
    return { path, version: await queryVersion(path) };
  }
}
