/**
 * Test helper: assemble the same Intel-syntax text with nasm (`-f bin`, `bits 64`), as an
 * independent reference for keystone. Translates the few syntax differences: `ptr` is dropped,
 * `movabs` becomes `mov`, and `[rip+D]` becomes `[rel .Ln+D]` with a label `.Ln` placed right
 * after the instruction (nasm has no `rip` register syntax; `rel` is relative to the next one).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const NASM = '/usr/bin/nasm';

/** Translate one keystone-style Intel line to nasm; returns the lines to emit. */
export function toNasm(line: string, n: number): string[] {
  let t = line.replace(/\bptr\b/gi, '').replace(/\bmovabs\b/i, 'mov');
  let rip = false;
  t = t.replace(/\[\s*rip\s*([+-][^\]]*)?\]/i, (_m, d: string | undefined) => {
    rip = true;
    return `[rel .L${n}${d ?? ''}]`;
  });
  return rip ? [t, `.L${n}:`] : [t];
}

/** Assemble `lines` with nasm at `org address`; throws with nasm's message on error. */
export function nasmAssemble(lines: readonly string[], address = 0n): Uint8Array {
  const dir = mkdtempSync(path.join(tmpdir(), 'nasm-ref-'));
  try {
    const src = path.join(dir, 'in.asm');
    const out = path.join(dir, 'out.bin');
    const body = ['bits 64', `org 0x${address.toString(16)}`, 'x:', ...lines.flatMap((l, i) => toNasm(l, i))];
    writeFileSync(src, body.join('\n') + '\n');
    execFileSync(NASM, ['-f', 'bin', '-w-all', '-o', out, src], { stdio: ['ignore', 'pipe', 'pipe'] });
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
