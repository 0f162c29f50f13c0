/**
 * Print a few generated programs with their bytes and disassembly:
 *   npx tsx harness/generate/sample.ts --seed 42 --count 5 [--length 10] [--family alu,string] [--raw]
 */
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { initAssembler } from '../asm/assembler.js';
import { decodeAll } from '../asm/decode.js';
import { toHex } from '../../contracts/hex.js';
import { programArbitrary } from './program.js';
import { parseFamilies } from './row-catalog.js';
import { assembleProgram, encodeRawProgram } from './to-case.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '42' },
    count: { type: 'string', default: '5' },
    length: { type: 'string', default: '10' },
    family: { type: 'string' },
    raw: { type: 'boolean', default: false },
  },
});
let families;
try {
  families = values.family ? parseFamilies(values.family.split(',')) : undefined;
} catch (e) {
  console.error((e as Error).message);
  process.exit(2);
}
const seed = Number(values.seed);
const length = Number(values.length);
await initAssembler();
const programs = fc.sample(programArbitrary({ families, length: [length, length], encoder: values.raw ? 'raw' : 'keystone' }), { seed, numRuns: Number(values.count) });
programs.forEach((p, n) => {
  const caseSeed = `${seed}:${n}`;
  const r = values.raw ? encodeRawProgram(p, caseSeed) : assembleProgram(p, caseSeed);
  console.log(`# program ${n} (seed ${caseSeed}), window ${toHex(p.window.start, 5)}+${p.window.length}, dropped ${p.dropped}`);
  for (const [name, v] of Object.entries(p.regs)) process.stdout.write(`${name}=${toHex(v)} `);
  console.log(`rflags=${toHex(p.rflags, 4)}`);
  for (const rej of r.rejects) console.log(`  rejected: ${rej.source}: ${rej.reason}`);
  if (!r.ok) return;
  for (const d of decodeAll(r.case.code, 0x10000n)) {
    console.log(`  ${d.address.toString(16)}  ${Buffer.from(d.bytes).toString('hex').padEnd(30)} ${d.text}`);
  }
});
