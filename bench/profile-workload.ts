/**
 * Run one B3 workload repeatedly on the emulator, for profiling:
 *   node --import tsx --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile-workload.ts [arith|copy|fib] [rounds]
 *   npx tsx bench/cpuprofile-top.ts /tmp/prof/<file>.cpuprofile
 * Prints MIPS per round (the first rounds include JIT warm-up).
 */
import { nasm, runOnce, WORKLOADS } from './emulator-mips.js';

const NAMES: Record<string, string> = { arith: 'integer arithmetic loop', copy: 'rep movsb + byte-loop copy', fib: 'call/ret recursion (fib 22)' };

const which = process.argv[2] ?? 'arith';
const rounds = Number(process.argv[3] ?? 20);
const name = NAMES[which];
if (name === undefined) throw new Error(`workload must be one of ${Object.keys(NAMES).join(', ')}`);
const code = nasm(WORKLOADS[name]!);
const rates: number[] = [];
const cpuRates: number[] = [];
for (let i = 0; i < rounds; i++) {
  const u0 = process.cpuUsage();
  const r = await runOnce(code);
  const u = process.cpuUsage(u0);
  rates.push(r.instructions / r.ms / 1000);
  cpuRates.push(r.instructions / ((u.user + u.system) / 1000) / 1000);
}
const cpuSorted = [...cpuRates].sort((a, b) => a - b);
const sorted = [...rates].sort((a, b) => a - b);
console.log(`${name}: median ${sorted[sorted.length >> 1]!.toFixed(1)} MIPS over ${rounds} rounds (${rates.map((x) => x.toFixed(0)).join(' ')}); by process CPU time ${cpuSorted[cpuSorted.length >> 1]!.toFixed(1)}`);
