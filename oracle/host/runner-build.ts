import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SetupError } from '../qemu/install.js';

const run = promisify(execFile);

/** The runner's C source, committed; the binary is never committed, only built into the cache. */
export const RUNNER_SOURCE = fileURLToPath(new URL('./host-runner.c', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Git-ignored (.cache/). */
export const RUNNER_CACHE = path.join(REPO_ROOT, '.cache', 'host-runner');
const CFLAGS = ['-O2', '-Wall', '-fno-stack-protector', '-fno-strict-aliasing'];

/** Why the host cannot be a third opinion here (one line), or undefined when it can. */
export function hostUnsupported(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return `the host is ${process.platform}/${process.arch}; the host runner needs x86-64 Linux to run x86-64 cases natively`;
  }
  return undefined;
}

function findCompiler(): string | undefined {
  const cc = process.env.CC?.trim();
  if (cc) return cc;
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && existsSync(path.join(dir, 'cc'))) return path.join(dir, 'cc');
  return undefined;
}

let building: Promise<string> | undefined;

/**
 * The host runner's binary, compiled on first use with the system's `cc` into
 * `.cache/host-runner/<hash of source and flags>/`; later calls (and later runs) reuse it.
 * Fails with a SetupError in one line: not x86-64 Linux, no `cc`, or a compile error.
 */
export function hostRunnerBinary(): Promise<string> {
  building ??= build().catch((err: unknown) => {
    building = undefined;
    throw err;
  });
  return building;
}

async function build(): Promise<string> {
  const unsupported = hostUnsupported();
  if (unsupported) throw new SetupError(unsupported);
  const source = await readFile(RUNNER_SOURCE);
  const hash = createHash('sha256').update(source).update(CFLAGS.join(' ')).digest('hex').slice(0, 16);
  const dir = path.join(RUNNER_CACHE, hash);
  const binary = path.join(dir, 'host-runner');
  if (existsSync(binary)) return binary;
  const cc = findCompiler();
  if (!cc) throw new SetupError('no C compiler: the host runner is compiled on first use with `cc`; install one (apt-get install gcc) or set CC');
  await mkdir(dir, { recursive: true });
  // built under a temporary name and renamed, so that a parallel build never runs a half-written file
  const tmp = `${binary}.${process.pid}.tmp`;
  try {
    await run(cc, [...CFLAGS, '-o', tmp, RUNNER_SOURCE], { timeout: 60_000 });
    await rename(tmp, binary);
  } catch (err) {
    await rm(tmp, { force: true });
    const e = err as { stderr?: string; message: string };
    const first = (e.stderr ?? e.message).split('\n').find((l) => /error/i.test(l)) ?? e.message.split('\n')[0];
    throw new SetupError(`cannot compile the host runner with ${cc}: ${first?.trim()}`);
  }
  return binary;
}

/** Why host runs cannot happen on this machine (for tests to skip with), or undefined when they can. */
export function hostRunsUnavailable(): string | undefined {
  return hostUnsupported() ?? (findCompiler() ? undefined : 'no C compiler (`cc`) to build the host runner');
}
