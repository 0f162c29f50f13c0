/**
 * Case-generation speed: `createCaseSource({ seed: 5, length: [10, 10], raw })` over 500 indexes
 * after 50 warm-up, median of 3 runs, in raw and keystone modes.
 *   npx tsx harness/generate/bench-gen.ts
 */
import { createCaseSource } from '../campaign/case-source.js';

const WARMUP = 50;
const CASES = 500;
const RUNS = 3;

for (const raw of [true, false]) {
  const source = createCaseSource({ seed: 5, length: [10, 10], raw });
  for (let i = 0; i < WARMUP; i++) await source(i);
  const times: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const t0 = performance.now();
    for (let i = WARMUP; i < WARMUP + CASES; i++) await source(i);
    times.push((performance.now() - t0) / CASES);
  }
  times.sort((a, b) => a - b);
  console.log(`${raw ? 'raw     ' : 'keystone'}: ${times[1]!.toFixed(3)} ms/case (runs: ${times.map((t) => t.toFixed(3)).join(', ')})`);
}
