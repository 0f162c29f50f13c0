import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Test-only: assemble code with the host's nasm (an encoder independent of our decoder), 64-bit
 * unless `bits` says otherwise. `org` sets the address the code is assembled for (RIP-relative
 * and branch targets).
 */
export function nasm(source: string, org = 0x10000, bits: 16 | 32 | 64 = 64): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'emu-nasm-'));
  try {
    const src = join(dir, 'a.asm');
    const out = join(dir, 'a.bin');
    writeFileSync(src, `bits ${bits}\n${bits === 64 ? 'default rel\n' : ''}org 0x${org.toString(16)}\n${source}\n`);
    execFileSync('nasm', ['-f', 'bin', '-o', out, src], { stdio: ['ignore', 'ignore', 'pipe'] });
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
