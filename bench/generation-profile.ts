/**
 * Case generation as a campaign worker asks for it (96 cases at a time, 10-instruction cases),
 * for profiling and A/B loops of the generator alone:
 *   node --import tsx [--cpu-prof --cpu-prof-dir=/tmp/prof] bench/generation-profile.ts [cases=9600] [seed=104]
 *   npx tsx bench/cpuprofile-top.ts /tmp/prof/<file>.cpuprofile
 * Prints cases/s by wall and by process CPU time (which includes GC helper threads).
 * tsx transforms with minifyWhitespace, so a profile of it puts every function on line 1; for
 * line-level ticks profile a bundle made as tsx makes it but with its lines kept:
 *   npx esbuild bench/generation-profile.ts --bundle --platform=node --format=esm --keep-names --packages=external --outfile=.gen-bundle.mjs
 * A change meant to make generation cheaper must not change what is generated:
 * bench/generation-fingerprint.ts prints hashes to compare before and after.
 */
import { createCaseSource } from '../harness/campaign/case-source.js';

const BATCH = 96;
const cases = Number(process.argv[2] ?? 9600);
const seed = Number(process.argv[3] ?? 104);
const source = createCaseSource({ seed, length: [10, 10], raw: false });
await source(0);
const rounds: number[] = [];
const cpu: number[] = [];
const ROUND = 960;
for (let start = 1; start <= cases; start += ROUND) {
  const t0 = performance.now();
  const u0 = process.cpuUsage();
  for (let i = start; i < start + ROUND; i += BATCH) await Promise.all(Array.from({ length: BATCH }, (_, k) => source(i + k)));
  const u = process.cpuUsage(u0);
  rounds.push(ROUND / ((performance.now() - t0) / 1000));
  cpu.push(ROUND / ((u.user + u.system) / 1e6));
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(`generation: median ${med(rounds).toFixed(0)} cases/s wall, ${med(cpu).toFixed(0)} cases/s by process CPU (rounds ${rounds.map((r) => r.toFixed(0)).join(' ')})`);
