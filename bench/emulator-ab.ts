/**
 * A/B of two builds of the emulator on one B3 workload, in one process with interleaved rounds,
 * so both see the same machine load (on a shared machine a round's speed swings 2–3×):
 *   npx tsc -p . --noEmit false --outDir scratch/jsA    (at the old commit)
 *   npx tsc -p . --noEmit false --outDir scratch/jsB    (at the new one)
 *   node scratch/jsB/bench/emulator-ab.js scratch/jsA scratch/jsB arith 30
 * Prints each build's median and best MIPS and the median of the paired new/old ratios.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { median } from './stats.js';

interface Build {
  nasm(src: string): Uint8Array;
  runOnce(code: Uint8Array): Promise<{ instructions: number; ms: number }>;
  WORKLOADS: Record<string, string>;
}

const NAMES: Record<string, string> = { arith: 'integer arithmetic loop', copy: 'rep movsb + byte-loop copy', fib: 'call/ret recursion (fib 22)' };

async function load(dir: string): Promise<Build> {
  return (await import(pathToFileURL(resolve(dir, 'bench/emulator-mips.js')).href)) as Build;
}

const [dirA, dirB, which = 'arith', roundsArg = '20'] = process.argv.slice(2);
if (!dirA || !dirB || !NAMES[which]) throw new Error('usage: emulator-ab.js <old build dir> <new build dir> [arith|copy|fib] [rounds]');
const A = await load(dirA);
const B = await load(dirB);
const name = NAMES[which]!;
const codeA = A.nasm(A.WORKLOADS[name]!);
const codeB = B.nasm(B.WORKLOADS[name]!);
for (let i = 0; i < 3; i++) {
  await A.runOnce(codeA);
  await B.runOnce(codeB);
}
const mips = (r: { instructions: number; ms: number }) => r.instructions / r.ms / 1000;
const ra: number[] = [];
const rb: number[] = [];
const ratio: number[] = [];
for (let i = 0; i < Number(roundsArg); i++) {
  // alternate which build goes first
  const a1 = i % 2 === 0 ? mips(await A.runOnce(codeA)) : NaN;
  const b = mips(await B.runOnce(codeB));
  const a = i % 2 === 0 ? a1 : mips(await A.runOnce(codeA));
  ra.push(a);
  rb.push(b);
  ratio.push(b / a);
}
const f = (x: number) => x.toFixed(1);
console.log(`${which}: old median ${f(median(ra))} best ${f(Math.max(...ra))} | new median ${f(median(rb))} best ${f(Math.max(...rb))} | new/old paired median ${median(ratio).toFixed(2)}`);
