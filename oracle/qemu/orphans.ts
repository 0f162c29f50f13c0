import { readdirSync, readFileSync } from 'node:fs';

/** Running QEMU processes and their `-name` tag (Linux /proc scan; empty elsewhere). */
function taggedQemuProcesses(): Array<{ pid: number; tag: string | undefined }> {
  const out: Array<{ pid: number; tag: string | undefined }> = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'latin1').split('\0');
      if (!argv[0]?.includes('qemu')) continue;
      const i = argv.indexOf('-name');
      out.push({ pid: Number(e), tag: i >= 0 ? argv[i + 1] : undefined });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** PIDs of QEMU processes started with `-name <tag>`. */
export function findTaggedQemu(tag: string): number[] {
  return taggedQemuProcesses()
    .filter((p) => p.tag === tag)
    .map((p) => p.pid);
}

export function killTaggedQemu(tag: string): number[] {
  const pids = findTaggedQemu(tag);
  pids.forEach(kill);
  return pids;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Kill QEMUs whose difftest owner is gone (tags `difftest-<pid>` / `difftest-test-<pid>`): a
 * difftest process killed with SIGKILL cannot take its QEMUs down with it, so the next one does.
 */
export function reapOrphanedQemu(): number[] {
  const orphans = taggedQemuProcesses()
    .filter((p) => {
      const owner = /^difftest-(?:test-)?(\d+)$/.exec(p.tag ?? '');
      return owner !== null && !alive(Number(owner[1]));
    })
    .map((p) => p.pid);
  orphans.forEach(kill);
  return orphans;
}
