import { describe, expect, it } from 'vitest';
import { buildTestMachine, LAYOUT } from '../contracts/test-machine.js';
import type { StopReason } from '../contracts/execution-target.js';
import { EmulatorTarget } from './emulator-target.js';
import { nasm } from './test-support/nasm.js';
import { sequences } from './test-support/sequences.js';

/**
 * Compiled blocks (exec/block-compiler.ts, run by Machine.burst) against the reference: step()
 * one instruction at a time with the generic handlers (whose results the differential suite
 * checks against QEMU). With the compile threshold at 1 every entry point is compiled at once,
 * so even straight-line code runs as blocks. Final state (flags materialized), memory, the
 * retired-instruction count, the last row and the stop reason must agree exactly.
 */
async function reference(t: EmulatorTarget, stops: readonly bigint[], max: number): Promise<StopReason> {
  t.internals.specialiseHandlers = false;
  const set = new Set(stops);
  for (let i = 0; i < max; i++) {
    const rip = BigInt.asUintN(64, BigInt(t.internals.cpu.rip));
    if (i > 0 && set.has(rip)) return { kind: 'breakpoint', rip };
    const r = await t.step();
    if (r.kind !== 'step') return r;
  }
  const rip = BigInt.asUintN(64, BigInt(t.internals.cpu.rip));
  return set.has(rip) ? { kind: 'breakpoint', rip } : { kind: 'limit' };
}

const blockTarget = new EmulatorTarget();
const refTarget = new EmulatorTarget();

async function expectSame(src: string, opts: { max?: number; stops?: bigint[]; threshold?: number; runs?: number } = {}) {
  const code = nasm(src);
  const tm = buildTestMachine({
    code,
    memory: [
      { addr: LAYOUT.stackBase, bytes: new Uint8Array(Number(LAYOUT.stackTop - LAYOUT.stackBase)) },
      { addr: LAYOUT.data, bytes: new Uint8Array(LAYOUT.dataSize) },
    ],
  });
  const stops = [tm.endAddress, ...tm.exceptionStops, ...(opts.stops ?? [])];
  const max = opts.max ?? 100_000;
  const out = [];
  for (const compiled of [true, false]) {
    const t = compiled ? blockTarget : refTarget;
    await t.reset(tm.state, tm.memory);
    if (compiled) t.internals.blockThreshold = opts.threshold ?? 1;
    // Several runs in a row (as the harness continues from a stop): later runs find blocks compiled.
    let stop: StopReason = { kind: 'limit' };
    for (let i = 0; i < (opts.runs ?? 1); i++) stop = compiled ? await t.runUntil(stops, max) : await reference(t, stops, max);
    out.push({
      stop,
      state: await t.readState({ system: true }),
      icount: t.internals.cpu.icount,
      lastRow: t.internals.lastRow,
      stack: await t.readMemory(LAYOUT.stackBase, Number(LAYOUT.stackTop - LAYOUT.stackBase), 'phys'),
      data: await t.readMemory(LAYOUT.data, LAYOUT.dataSize, 'phys'),
    });
  }
  const [fast, ref] = out;
  expect(fast!.stop).toEqual(ref!.stop);
  expect(fast!.state).toEqual(ref!.state);
  expect(fast!.icount).toBe(ref!.icount);
  expect(fast!.lastRow).toBe(ref!.lastRow);
  expect(Buffer.from(fast!.stack).equals(Buffer.from(ref!.stack))).toBe(true);
  expect(Buffer.from(fast!.data).equals(Buffer.from(ref!.data))).toBe(true);
  return fast!;
}

/** Deterministic PRNG (mulberry32) so a failing program can be reproduced from its seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const R64 = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14'];
const R32 = ['eax', 'ebx', 'ecx', 'edx', 'esi', 'edi', 'ebp', 'r8d', 'r9d', 'r10d', 'r11d', 'r12d', 'r13d', 'r14d'];
const IMMS = ['0', '1', '-1', '0x7fffffff', '-0x80000000', '0x80', '-2', '0x1234567'];

/**
 * A random register-only program (plus ALU reads from the stack): the forms the block compiler emits, mixed with instructions
 * that read the flags mid-block (SETcc, ADC, PUSHF, Jcc to the next line) and so end blocks.
 * R15 counts the loop around it; RSP is left alone.
 */
function randomProgram(seed: number, length: number): string {
  const r = rng(seed);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const lines: string[] = [];
  for (let i = 0; i < R64.length; i++) lines.push(`mov ${R64[i]}, 0x${Math.floor(r() * 2 ** 32).toString(16)}${Math.floor(r() * 2 ** 32).toString(16).padStart(8, '0')}`);
  lines.push('mov r15d, 5', 'top:');
  for (let i = 0; i < length; i++) {
    const wide = r() < 0.6;
    const regs = wide ? R64 : R32;
    const x = pick(regs);
    // Equal operands now and then: CF/ZF edge cases (a - a, a ^ a) then INC/DEC keeping CF.
    const y = r() < 0.2 ? x : pick(regs);
    const k = r();
    if (k < 0.35) {
      const op = pick(['add', 'sub', 'and', 'or', 'xor', 'cmp', 'test']);
      lines.push(r() < 0.5 ? `${op} ${x}, ${y}` : `${op} ${x}, ${pick(IMMS)}`);
    } else if (k < 0.4) {
      // ALU with a memory source: the stack below RSP (PUSHFQ leaves flags there)
      lines.push(`${pick(['add', 'sub', 'and', 'or', 'xor', 'cmp'])} ${x}, ${wide ? 'qword' : 'dword'} [rsp - ${pick([0, 8, 16, 12, 64])}]`);
    } else if (k < 0.45) {
      // constant shifts, counts at and beyond the mask included (those are not compiled)
      lines.push(`${pick(['shl', 'shr', 'sar', 'sal'])} ${x}, ${pick([0, 1, 2, 7, 31, 32, 33, 63, 64, 200])}`);
    } else if (k < 0.6) lines.push(`${pick(['inc', 'dec'])} ${x}`);
    else if (k < 0.7) lines.push(r() < 0.5 ? `mov ${x}, ${y}` : `mov ${x}, ${pick(IMMS)}`);
    else if (k < 0.8) lines.push(`lea ${x}, [${pick(R64)} + ${pick(R64)}*${pick([1, 2, 4, 8])} + ${pick(IMMS)}]`);
    else if (k < 0.85) lines.push(`set${pick(['c', 'z', 'o', 's', 'p', 'a', 'l', 'g'])} al`);
    else if (k < 0.9) lines.push(`adc ${x}, ${y}`);
    else if (k < 0.95) lines.push('pushfq', `pop ${pick(R64)}`);
    else lines.push(`j${pick(['c', 'nc', 'z', 'nz', 'o', 's', 'be', 'l', 'ge'])} l${i}`, `l${i}:`);
  }
  lines.push('dec r15d', 'jnz top');
  return lines.join('\n');
}

describe('compiled blocks agree with step() and the generic handlers', () => {
  it('on every differential sequence, compiled at first entry', async () => {
    for (const seq of sequences()) {
      try {
        await expectSame(seq.asm);
      } catch (e) {
        throw new Error(`${seq.name}: ${(e as Error).message}`);
      }
    }
  }, 120_000);

  it('on random register-only programs (flags read inside and after blocks)', async () => {
    for (let seed = 1; seed <= 100; seed++) {
      const src = randomProgram(seed, 40);
      try {
        await expectSame(src);
      } catch (e) {
        throw new Error(`seed ${seed}: ${(e as Error).message}\n${src}`);
      }
    }
  }, 120_000);

  it('with the default threshold on a hot loop, and at the B3 workloads', async () => {
    await expectSame('mov ecx, 500\nxor eax, eax\nl: add rax, rcx\nxor rdx, rax\nlea rbx, [rbx+rax*2+3]\nsub rbx, 3\ndec rcx\njnz l', { threshold: 64 });
    await expectSame('mov edi, 12\ncall fib\njmp done\nfib: cmp edi, 2\njb base\npush rdi\ndec edi\ncall fib\npop rdi\npush rax\nsub edi, 2\ncall fib\npop rcx\nadd rax, rcx\nret\nbase: mov eax, edi\nret\ndone: nop', { threshold: 8 });
  });

  it('stops at an instruction limit and at stop addresses inside a block', async () => {
    const loop = 'mov ecx, 50\nl: inc eax\nadd ebx, eax\nxor edx, ebx\ndec ecx\njnz l';
    for (const max of [1, 2, 3, 7, 11, 50, 123]) await expectSame(loop, { max });
    // 'add ebx, eax' is at code + 5 + 2 (mov ecx, imm32 is 5 bytes, inc eax 2)
    await expectSame(loop, { stops: [LAYOUT.code + 7n] });
    // A loop starting at a stop (the run's first instruction runs even so): one round, then stop.
    await expectSame('l: inc eax\nadd ebx, eax\ncmp eax, 50\njne l', { stops: [LAYOUT.code], runs: 5 });
    await expectSame('l: inc eax\nadd ebx, eax\ncmp eax, 50\njne l', { stops: [LAYOUT.code + 2n], runs: 5 });
    await expectSame('l: inc eax\nadd ebx, eax\ncmp eax, 50\njne l', { max: 9, runs: 5 });
    await expectSame(loop, { stops: [LAYOUT.code + 7n, LAYOUT.code + 9n] });
  });

  it('re-decodes code the block’s last instruction overwrites', async () => {
    await expectSame(`
      mov ecx, 4
      l: mov eax, 1
      add ebx, eax
      inc edx
      mov byte [rel l+1], 2
      dec ecx
      jnz l`);
  });

  it('delivers a fault in the block’s last instruction with the state before it', async () => {
    await expectSame('mov ecx, 3\nl: add eax, ecx\ninc ebx\nmov rdx, [0x40000]\ndec ecx\njnz l');
    await expectSame('mov ecx, 3\nl: add eax, ecx\nsub ebx, 7\nud2\ndec ecx\njnz l');
  });

  it('faults in a compiled load, store or push with the state before it', async () => {
    // 0x40000 is not mapped; 0x2000 (the PML4) is mapped read-only.
    await expectSame('mov ecx, 3\nmov rsi, 0x20000\nl: add eax, ecx\ninc ebx\nmov rdx, [rsi]\nsub esi, -0x10000\ndec ecx\njnz l');
    await expectSame('mov ecx, 3\nmov rdi, 0x2000\nl: add eax, ecx\ncmp ebx, eax\nmov [rdi], eax\ndec ecx\njnz l');
    await expectSame('mov ecx, 3\nmov rsp, 0x8010\nl: add eax, ecx\npush rax\nxor ebx, eax\npush rbx\npush rcx\ndec ecx\njnz l');
  });

  it('stops a block after a compiled store into its own code, and runs the new code', async () => {
    await expectSame(`
      mov ecx, 4
      lea rdi, [rel patch]
      mov dl, 0xc6
      l: add eax, 1
      mov [rdi+1], dl
      patch: add ebx, 1
      inc edx
      dec ecx
      jnz l`);
    await expectSame(`
      mov ecx, 4
      lea rdi, [rel patch]
      mov rsi, 0x20000
      l: mov rax, [rdi]
      mov [rsi], rax
      mov [rdi], rax
      patch: add ebx, 1
      inc edx
      dec ecx
      jnz l`);
  });

  it('runs loads, stores, PUSH and POP in blocks like single steps', async () => {
    await expectSame(`
      mov rsi, 0x20000
      mov rdi, 0x21000
      mov ecx, 300
      l: mov al, [rsi]
      mov [rdi], al
      mov r8, [rsi+8]
      mov [rdi+16], r8
      mov r9d, [rsi+3]
      mov [rdi+40], r9d
      push r8
      push rcx
      pop rdx
      pop r10
      inc rsi
      inc rdi
      dec ecx
      jnz l`, { threshold: 4 });
  });

  it('computes memory addresses as linearOf does: wrap-around, index scaling, FS base, non-canonical', async () => {
    const body = (setup: string, access: string) => `
      mov ecx, 5
      ${setup}
      l: add r8, rcx
      ${access}
      inc r9
      dec ecx
      jnz l`;
    await expectSame(body('mov rbx, -1', 'mov al, [rbx + 0x20001]\nmov [rbx + 0x20011], al'));
    await expectSame(body('mov rbx, 0x20000\nmov rdx, -8', 'mov r10, [rbx + rdx*8 + 0x100]\nmov [rbx + rdx*4 + 0x200], r10d'));
    await expectSame(body('mov rbx, 0xffff800000000000\nmov rdx, 0x7fff80000002', 'mov r10, [rbx + rdx*2 + 0x1fffc]'));
    await expectSame(body('mov eax, 0x20000\nxor edx, edx\nmov ecx, 0xc0000100\nwrmsr\nmov ecx, 5\nmov rsi, 0x40', 'mov r11, [fs:rsi]\nmov [fs:rsi+8], r11'));
    await expectSame(body('mov rsi, 0x800000000000', 'mov r11, [rsi]'));
    await expectSame(body('mov rsi, 0x7ffffffffff8\nmov rdi, 0x10', 'mov r11, [rsi + rdi]'));
  });

  it('runs REP iterations as single steps: at a limit, at a stop, overwriting themselves', async () => {
    const rep = 'mov rdi, 0x20000\nmov ecx, 100\nmov al, 7\nrp: rep stosb\nmov rsi, 0x20000\nmov ecx, 30\nrep lodsb\nnop';
    for (const max of [3, 4, 5, 50, 103, 104, 150]) await expectSame(rep, { max });
    // the first REP instruction starts at code + 12 (5 + 5 + 2 bytes before it)
    await expectSame(rep, { stops: [LAYOUT.code + 12n] });
    await expectSame('lea rdi, [rel rp]\nmov ecx, 3\nmov al, 0x90\nrp: rep stosb\nnop\nnop');
    await expectSame('mov rdi, 0x2ffc\nmov ecx, 10\nrep stosb\nnop');
  });

  it('runs REP MOVS/STOS in bulk exactly as iteration by iteration (string-ops.ts repBulk)', async () => {
    // a pattern in the data pages first, so that copies move something
    const pattern = 'mov rdi, 0x20000\nmov ecx, 1024\nmov rax, 0x0102030405060708\nfl: mov [rdi], rax\nadd rax, rcx\nrol rax, 7\nadd rdi, 8\ndec ecx\njnz fl\n';
    const programs = [
      'mov rdi, 0x20008\nmov ecx, 700\nmov rax, 0x1122334455667788\nrep stosq', // crosses into the next page
      'mov rdi, 0x20ffd\nmov ecx, 40\nmov eax, 0xdeadbeef\nrep stosd', // first element straddles a page
      'mov rdi, 0x20001\nmov ecx, 5000\nmov al, 0x5a\nrep stosb',
      'mov rdi, 0x20002\nmov ecx, 900\nmov ax, 0x1234\nrep stosw',
      'mov rsi, 0x20000\nmov rdi, 0x22800\nmov ecx, 700\nrep movsq', // disjoint
      'mov rsi, 0x20010\nmov rdi, 0x20000\nmov ecx, 300\nrep movsq', // overlapping, destination below
      'mov rsi, 0x20000\nmov rdi, 0x20008\nmov ecx, 300\nrep movsq', // overlapping, destination above: iterations see earlier stores
      'mov rsi, 0x20003\nmov rdi, 0x20001\nmov ecx, 3000\nrep movsb',
      'mov rsi, 0x20000\nmov rdi, 0x20000\nmov ecx, 64\nrep movsd',
      'std\nmov rsi, 0x20800\nmov rdi, 0x21800\nmov ecx, 100\nrep movsq\ncld', // DF set: not in bulk
      'mov rsi, 0x21000\nmov rdi, 0x24000\nmov ecx, 50\nfs rep movsq', // FS base 0
      'mov esi, 0x20000\nmov edi, 0x23000\nmov ecx, 100\na32 rep movsd', // 32-bit addressing: not in bulk
      'mov rdi, 0x2f000\nmov rcx, 0x100000002\nxor eax, eax\nrep stosq', // runs into the unmapped page and faults
      'mov rdi, 0x20000\nxor ecx, ecx\nrep stosq', // count 0
    ];
    for (const p of programs) {
      for (const max of [undefined, 1030 * 5 + 10, 1030 * 5 + 300, 1030 * 5 + 2000]) {
        try {
          await expectSame(`${pattern}${p}\nnop`, { max });
        } catch (e) {
          throw new Error(`${p} (max ${max}): ${(e as Error).message}`);
        }
      }
    }
  });

  it('reads the instruction count mid-block (RDTSC as a block’s last instruction)', async () => {
    await expectSame('mov ecx, 3\nl: add r8, rcx\ninc r9\nrdtsc\nmov r10, rax\ndec ecx\njnz l');
  });
});
