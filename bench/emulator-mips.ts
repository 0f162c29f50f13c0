/**
 * B3 (emulator part): emulator MIPS on three fixed workloads, run on the test machine.
 *   npx tsx bench/emulator-mips.ts            (add --profile-friendly: runs the arith loop only, longer)
 * QEMU's speed on the same code is measured by the cli's `bench` (oracle side); this file only
 * reports the emulator's own numbers, medians of 5 runs.
 *
 * First measurements (Node 20.20, this 2-core machine):
 *   plain interpreter (decode every instruction)        3.5 / 3.2 / 3.2 MIPS
 *   + decode cache keyed by physical address            12.5 / 8.5 / 9.2 MIPS
 *   + last-code-page translation fast path              15.2 / 11.8 / 12.3 MIPS
 * Profile of the arithmetic loop then (node --cpu-prof, self time): fetch/decode-cache lookup 23%,
 * alu handler 20%, step loop 14%, generic operand reads (readOp) 11%, dec 5%, EA 3%, jcc 3%.
 *
 * Second round, measured on the same machine while it was shared and loaded (load average ~4 on
 * 2 cores, so all of these are below idle-machine numbers); before and after run alternately in
 * one session, three rounds each, the range of the medians:
 *   before (step() per instruction, generic handlers)   15.2–16.4 / 6.9–11.1 / 3.4–9.9 MIPS
 *   + Machine.run: bursts on the current code page,     23.4–34.7 / 14.8–17.7 / 15.3–17.9 MIPS
 *     operand-form-specialised handlers (exec/fast.ts), no closures/arrays in string ops
 * Process CPU time instead of wall time, same session: 10–14 → 31–40 / 7–11 → 14–20 / 6–9 → 12–18.
 * The arithmetic loop compiled with tsc and run on plain node at a quieter moment: 43 MIPS.
 * Profile of the arithmetic loop after (self time): the burst loop (page-local fetch, stop/TF
 * checks, the indirect handler call) 45% + run 9%; handlers lea 8%, sub r,imm 7%, dec 6%, add 6%,
 * jnz 6%, xor 5%. The loop itself is now the cost: next steps toward 50 MIPS are chaining the
 * decoded instructions of a block (one validity check per block, not per instruction), fewer
 * per-step stores (lastRow, icount), and a cheaper memory path (linearOf/translate for simple EAs).
 *
 * Third round (bench/emulator-profile.md has the profiles): removing the per-step bookkeeping
 * alone gained nothing measurable; the cost was the indirect handler call and the handler bodies.
 * Hot straight-line code is now compiled into one JS function per block (exec/block-compiler.ts),
 * with page-level data translation caches in Cpu and REP iterations repeated in place. Old and
 * new builds interleaved in one process (bench/emulator-ab.ts, load average 4–7 on 2 cores),
 * median MIPS: 40.8 → 169 (arith), 14.9 → 28.1 (copy), fib about even (15–20 both).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmulatorTarget } from '../emulator/emulator-target.js';
import { buildTestMachine, LAYOUT } from '../contracts/test-machine.js';

export function nasm(src: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'bench-nasm-'));
  writeFileSync(join(dir, 'a.asm'), `bits 64\ndefault rel\norg 0x${LAYOUT.code.toString(16)}\n${src}\n`);
  execFileSync('nasm', ['-f', 'bin', '-o', join(dir, 'a.bin'), join(dir, 'a.asm')]);
  return new Uint8Array(readFileSync(join(dir, 'a.bin')));
}

export const WORKLOADS: Record<string, string> = {
  'integer arithmetic loop': `
    mov ecx, 2000000
    xor eax, eax
    l: add rax, rcx
    xor rdx, rax
    lea rbx, [rbx+rax*2+3]
    sub rbx, 3
    dec rcx
    jnz l`,
  'rep movsb + byte-loop copy': `
    mov r8d, 20
    outer:
    mov rsi, 0x20000
    mov rdi, 0x28000
    mov ecx, 0x4000
    rep movsb
    mov rsi, 0x20000
    mov rdi, 0x28000
    mov ecx, 0x4000
    l: mov al, [rsi]
    mov [rdi], al
    inc rsi
    inc rdi
    dec ecx
    jnz l
    dec r8d
    jnz outer`,
  'call/ret recursion (fib 22)': `
    mov edi, 22
    call fib
    jmp done
    fib: cmp edi, 2
    jb base
    push rdi
    dec edi
    call fib
    pop rdi
    push rax
    sub edi, 2
    call fib
    pop rcx
    add rax, rcx
    ret
    base: mov eax, edi
    ret
    done: nop`,
};

export async function runOnce(code: Uint8Array): Promise<{ instructions: number; ms: number }> {
  const tm = buildTestMachine({ code });
  const t = new EmulatorTarget();
  await t.reset(tm.state, tm.memory);
  const m = t.internals;
  const end = Number(tm.endAddress);
  const stops = new Set([end]);
  const t0 = performance.now();
  const r = m.run(Infinity, stops);
  const ms = performance.now() - t0;
  if (r.kind !== 'breakpoint') throw new Error(`workload stopped: ${JSON.stringify(r)} at 0x${m.cpu.rip.toString(16)}`);
  return { instructions: m.executed, ms };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const only = process.argv.includes('--profile-friendly');
  for (const [name, src] of Object.entries(WORKLOADS)) {
    if (only && !name.startsWith('integer')) continue;
    const code = nasm(src);
    await runOnce(code); // warm-up
    const rates: number[] = [];
    let count = 0;
    for (let i = 0; i < (only ? 10 : 5); i++) {
      const r = await runOnce(code);
      count = r.instructions;
      rates.push(r.instructions / r.ms / 1000);
    }
    console.log(`${name.padEnd(30)} ${median(rates).toFixed(2).padStart(7)} MIPS  (${count} instructions, median of ${rates.length})`);
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) await main();
