/**
 * Assembler throughput: `npx tsx harness/asm/bench-asm.ts`.
 * Prints instructions/s (median of 5 runs) for
 *   - batched: one assembleChecked call per 100-instruction program (keystone + iced check),
 *   - batched raw: one keystone call per 100-instruction program, no check,
 *   - per-instruction raw: one keystone call per instruction,
 *   - per-instruction checked: one assembleChecked call per instruction.
 */
import { assembleChecked, initAssembler } from './assembler.js';

const REGS64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const REGS32 = ['eax', 'ecx', 'edx', 'ebx', 'esi', 'edi', 'r8d', 'r9d', 'r12d', 'r13d'];
const REGS8 = ['al', 'cl', 'dl', 'bl', 'sil', 'dil', 'r8b', 'r11b'];
const ALU = ['add', 'sub', 'and', 'or', 'xor', 'cmp', 'adc', 'sbb'];

let seed = 12345;
function rnd(n: number): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
}
const pick = <T>(a: readonly T[]): T => a[rnd(a.length)]!;

function randomInstruction(): string {
  switch (rnd(10)) {
    case 0:
      return `${pick(ALU)} ${pick(REGS64)}, ${pick(REGS64)}`;
    case 1:
      return `${pick(ALU)} ${pick(REGS32)}, 0x${rnd(0x7fffffff).toString(16)}`;
    case 2:
      return `${pick(ALU)} ${pick(REGS8)}, ${rnd(256)}`;
    case 3:
      return `mov ${pick(REGS64)}, [${pick(REGS64)}+${pick(['rax', 'rbx', 'r13', 'r12'])}*${pick([1, 2, 4, 8])}+0x${rnd(0x10000).toString(16)}]`;
    case 4:
      return `add ${pick(REGS64)}, [rip+0x${rnd(0x1000000).toString(16)}]`;
    case 5:
      return `mov ${pick(REGS64)}, 0x${rnd(0x7fffffff).toString(16)}${rnd(0x7fffffff).toString(16).padStart(8, '0')}`;
    case 6:
      return `${pick(['shl', 'shr', 'sar', 'rol'])} ${pick(REGS32)}, ${1 + rnd(31)}`;
    case 7:
      return `lea ${pick(REGS64)}, [${pick(REGS64)}+${rnd(120)}]`;
    case 8:
      return `${pick(['inc', 'dec', 'neg', 'not'])} qword ptr [${pick(REGS64)}]`;
    default:
      return `mov ${pick(['ah', 'bh', 'ch', 'dh'])}, ${pick(['al', 'bl', 'cl', 'dl'])}`;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function measure(label: string, nInstr: number, fn: () => void): void {
  fn(); // warm-up
  const rates: number[] = [];
  for (let run = 0; run < 5; run++) {
    const t0 = performance.now();
    fn();
    const dt = (performance.now() - t0) / 1000;
    rates.push(nInstr / dt);
  }
  console.log(`${label.padEnd(44)} ${Math.round(median(rates)).toLocaleString('en-US').padStart(10)} instr/s  (median of 5)`);
}

const ks = await initAssembler();
const PROGRAMS = 50;
const programs: string[][] = [];
for (let p = 0; p < PROGRAMS; p++) programs.push(Array.from({ length: 100 }, randomInstruction));
const flat = programs.flat();

// sanity: every generated program must pass the check
for (const p of programs) {
  const r = assembleChecked(p, 0x1000n, ks);
  if (!r.ok) throw new Error(`bench program rejected: line ${r.line} '${r.source}': ${r.reason}`);
}

measure('batched 100-insn programs, checked', flat.length, () => {
  for (const p of programs) if (!assembleChecked(p, 0x1000n, ks).ok) throw new Error('rejected');
});
measure('batched 100-insn programs, raw keystone', flat.length, () => {
  for (const p of programs) ks.assemble(p.join('\n'), 0x1000n);
});
const single = flat.slice(0, 1000);
measure('per-instruction, raw keystone', single.length, () => {
  for (const l of single) ks.assemble(l, 0x1000n);
});
measure('per-instruction, checked', single.length, () => {
  for (const l of single) if (!assembleChecked([l], 0x1000n, ks).ok) throw new Error('rejected');
});
console.log('keystone stats', ks.stats);
ks.close();
