import { bitRangeTable, flagNames } from '../harness/compare.js';
import type { Divergence } from '../harness/lockstep.js';

const hex = (v: bigint, w = 16) => `0x${v.toString(16).padStart(w, '0')}`;

/**
 * A few terminal lines for one divergence: instruction, then each differing field. Instructions
 * are counted from 1 as in the reports (reports/format.ts instructionLabel); `d.index` counts
 * the instructions retired before this one.
 */
export function describeDivergence(d: Divergence, indent = 0): string {
  const pad = ' '.repeat(indent);
  const lines = [`instruction ${d.index + 1} executed, at ${hex(d.rip)}: ${d.instruction?.text ?? '(undecodable)'}  [${d.instruction ? Buffer.from(d.instruction.bytes).toString('hex') : ''}]`];
  for (const diff of d.diffs) {
    if (diff.path === 'rflags') {
      lines.push(`  rflags differ in ${flagNames(diff.expected ^ diff.actual) || 'other bits'}: expected ${hex(diff.expected, 4)}, got ${hex(diff.actual, 4)}`);
      continue;
    }
    lines.push(`  ${diff.path}: expected ${hex(diff.expected, diff.width / 4)}, got ${hex(diff.actual, diff.width / 4)}`);
    if (diff.width === 64) {
      for (const row of bitRangeTable(diff)) lines.push(`    bits ${row.bits.padEnd(7)} ${row.expected.padEnd(13)} ${row.actual.padEnd(13)} ${row.status}`);
    }
  }
  for (const m of d.memoryDiffs) {
    lines.push(`  memory ${hex(m.addr)}: expected ${Buffer.from(m.expected).toString('hex')}, got ${Buffer.from(m.actual).toString('hex')}`);
  }
  if (d.expectedException || d.actualException) {
    const e = (x: typeof d.expectedException) => (x ? `vector ${x.vector}${x.errorCode !== undefined ? ` error ${x.errorCode}` : ''}` : 'none');
    lines.push(`  exception: expected ${e(d.expectedException)}, got ${e(d.actualException)}`);
  }
  if (d.flagMask) lines.push(`  (undefined flags masked here: ${flagNames(d.flagMask)})`);
  return lines.map((l) => pad + l).join('\n');
}
