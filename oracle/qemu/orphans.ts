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
