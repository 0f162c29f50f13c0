/**
 * A hash of everything the case source yields for the first N cases of a few configurations
 * (seeds, raw and keystone, the SIMD/x87 families, protected32, real16), drawn as a worker draws
 * them (96 at a time) and one by one. Run it before and after a change to the generator that
 * must not change what is generated: the lines must be identical.
 *   npx tsx bench/generation-fingerprint.ts [cases=2000]
 */
import { createHash } from 'node:crypto';
import { createCaseSource } from '../harness/campaign/case-source.js';
import type { GeneratedCase } from '../harness/campaign/protocol.js';

const cases = Number(process.argv[2] ?? 2000);
const BATCH = 96;

interface Config {
  readonly name: string;
  readonly seed: number;
  readonly raw: boolean;
  readonly length: readonly [number, number];
  readonly families?: readonly string[];
  readonly cpuModel?: string;
  /** Draw one case at a time (no shared keystone passes) instead of 96 at once. */
  readonly alone?: boolean;
}

const CONFIGS: readonly Config[] = [
  { name: 'seed 101, 10 instructions', seed: 101, raw: false, length: [10, 10] },
  { name: 'seed 104, 10 instructions', seed: 104, raw: false, length: [10, 10] },
  { name: 'seed 7, 1-10 instructions, alone', seed: 7, raw: false, length: [1, 10], alone: true },
  { name: 'seed 3, raw, 1-20', seed: 3, raw: true, length: [1, 20] },
  { name: 'seed 5, sse+x87, 1-10', seed: 5, raw: false, length: [1, 10], families: ['sse', 'x87'] },
  { name: 'seed 9, --cpu with bmi1/movbe', seed: 9, raw: false, length: [1, 10], cpuModel: 'qemu64,+movbe,+bmi1,+abm' },
  { name: 'seed 11, protected32', seed: 11, raw: false, length: [1, 10], families: ['protected32'] },
  { name: 'seed 13, real16', seed: 13, raw: false, length: [1, 10], families: ['real16'] },
];

/** A canonical text for a value: bigints and byte arrays spelled out, keys in order. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'bigint') return `${x}n`;
    if (x instanceof Uint8Array) return `bytes:${Buffer.from(x).toString('hex')}`;
    return x;
  });
}

for (const c of CONFIGS) {
  const source = createCaseSource({ seed: c.seed, length: c.length, raw: c.raw, families: c.families, cpuModel: c.cpuModel });
  const hash = createHash('sha256');
  const n = c.families?.some((f) => f === 'protected32' || f === 'real16') ? Math.ceil(cases / 4) : cases;
  let made = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i += c.alone ? 1 : BATCH) {
    const count = c.alone ? 1 : Math.min(BATCH, n - i);
    const group: GeneratedCase[] = await Promise.all(Array.from({ length: count }, (_, k) => source(i + k)));
    for (const g of group) {
      hash.update(canonical(g));
      hash.update('\n');
      if (g.case) made++;
    }
  }
  const ms = performance.now() - t0;
  console.log(`${c.name.padEnd(36)} ${n} indexes, ${made} cases  ${hash.digest('hex').slice(0, 32)}  (${(ms / n).toFixed(3)} ms/case)`);
}
