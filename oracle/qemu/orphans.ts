import { readdirSync, readFileSync } from 'node:fs';

/** PIDs of QEMU processes started with `-name <tag>` (Linux /proc scan; empty elsewhere). */
export function findTaggedQemu(tag: string): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'latin1').split('\0');
      const i = argv.indexOf('-name');
      if (i >= 0 && argv[i + 1] === tag && argv[0]?.includes('qemu')) pids.push(Number(e));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

export function killTaggedQemu(tag: string): number[] {
  const pids = findTaggedQemu(tag);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
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
  const killed: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return killed;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'latin1').split('\0');
      const i = argv.indexOf('-name');
      const owner = i >= 0 && argv[0]?.includes('qemu') ? /^difftest-(?:test-)?(\d+)$/.exec(argv[i + 1] ?? '') : null;
      if (owner && !alive(Number(owner[1]))) {
        process.kill(Number(e), 'SIGKILL');
        killed.push(Number(e));
      }
    } catch {
      // the process ended while we looked
    }
  }
  return killed;
}
