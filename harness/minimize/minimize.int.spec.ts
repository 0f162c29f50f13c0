import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASE_FORMAT, type Case } from '../../corpus/case-schema.js';
import { QemuTarget } from '../../oracle/qemu/qemu-target.js';
import { LAYOUT } from '../../contracts/test-machine.js';
import { asm } from '../asm/assembler.js';
import { LockstepRunner, type Divergence } from '../lockstep.js';
import { splitCode } from './instructions.js';
import { minimizeCase } from './minimize.js';
import { qword } from './test-fixtures.js';
import { seedNotesBug } from '../testing/corrupting-target.js';

/**
 * Real QEMU as the reference; a second QEMU with a planted bug as the system under test: after
 * any `add r13, [rip+…]` (FS override or not) it drops R13's upper 32 bits (the seed notes' bug). A 12-instruction
 * case around that add must minimize to at most 3 instructions that still diverge on R13.
 */

/** Same instruction form (iced Code, memory or register operand) and the same set of differing fields. */
function signature(d: Divergence): string {
  const form = `${d.instruction?.code ?? '?'}${d.instruction?.text.includes('[') ? '/mem' : '/reg'}`;
  return `${form}|${d.diffs.map((x) => x.path).sort().join(',')}|${d.memoryDiffs.length ? 'memory' : ''}`;
}

const DATA = LAYOUT.data;
/** Lines with `DISP` get the displacement that makes their RIP-relative operand reach `target`. */
const PROGRAM: ReadonlyArray<{ text: string; target?: bigint }> = [
  { text: 'mov rax, 0x123456789' },
  { text: 'xor ecx, ecx' },
  { text: 'lea rdx, [rip+DISP]', target: DATA + 0x100n },
  { text: 'mov rbx, [rip+DISP]', target: DATA + 8n },
  { text: 'add rbx, rax' },
  { text: 'imul rsi, rdi' },
  // FS base is 0 on the test machine: same address, one prefix more for the minimizer to drop
  { text: 'add r13, fs:[rip+DISP]', target: DATA },
  { text: 'mov rdi, r13' },
  { text: 'sub rcx, 1' },
  { text: 'mov [rsp-8], rdi' },
  { text: 'inc r8' },
  { text: 'or r9, rbx' },
];

/** Assemble twice: once to learn where each instruction ends, once with the real displacements. */
async function assembleProgram(): Promise<Uint8Array> {
  const draft = await asm(PROGRAM.map((l) => l.text.replace('DISP', '0x0')).join('\n'), LAYOUT.code);
  const ends = splitCode(draft).map((i) => i.address + BigInt(i.bytes.length));
  const lines = PROGRAM.map((l, i) => (l.target === undefined ? l.text : l.text.replace('DISP', `0x${(l.target - ends[i]!).toString(16)}`)));
  return asm(lines.join('\n'), LAYOUT.code);
}

async function startingCase(): Promise<Case> {
  const data = new Uint8Array(64).map((_, i) => (i * 29 + 5) & 0xff);
  data.set(qword(0xdeadbeefcafebaben), 0);
  return {
    format: CASE_FORMAT,
    id: 'planted-add-r13',
    code: await assembleProgram(),
    regs: {
      rax: 0x0123456789abcdefn, rbx: 0xfedcba9876543210n, rcx: 7n, rdx: 0x20000n, rsi: 0x8000000000000000n,
      rdi: 3n, r8: 0xffffffffffffffffn, r9: 0x5555n, r13: 0x1111111111111111n,
    },
    rflags: 0x8d7n,
    memory: [{ addr: DATA, bytes: data }],
    maxSteps: 100,
    provenance: { generator: 'hand', note: 'minimizer integration test' },
  };
}

let reference: QemuTarget;
let buggy: QemuTarget;
beforeAll(async () => {
  [reference, buggy] = await Promise.all([QemuTarget.launch(), QemuTarget.launch()]);
});
afterAll(async () => {
  await Promise.all([reference?.close(), buggy?.close()]);
});

describe('minimizeCase against QEMU with a planted bug', () => {
  it('shrinks a 12-instruction case to the RIP-relative add, diverging on R13 only, with unrelated registers zeroed', async () => {
    const runner = new LockstepRunner(reference, seedNotesBug(buggy));
    const start = await startingCase();
    expect(splitCode(start.code)).toHaveLength(12);
    const first = await runner.run(start, { mode: 'block' });
    expect(first.outcome).toBe('divergence');
    const wanted = signature(first.divergence!);
    expect(wanted).toBe('Add_r64_rm64/mem|gpr.r13|');

    const stillFails = async (c: Case) => {
      const r = await runner.run(c, { mode: 'block' });
      return r.outcome === 'divergence' && signature(r.divergence!) === wanted;
    };
    const result = await minimizeCase(start, stillFails, { divergenceRip: first.divergence!.rip, budget: 500 });
    const min = result.case;
    const instructions = splitCode(min.code);
    console.log(
      `minimized 12 → ${instructions.length} instruction(s) in ${result.seconds.toFixed(2)} s, ${result.calls} predicate calls\n  ` +
        [...result.steps, ...instructions.map((i) => `result: ${i.text}`), `regs: ${JSON.stringify(min.regs, (_, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}`,
          `memory: ${min.memory.map((m) => `0x${m.addr.toString(16)}: ${Buffer.from(m.bytes).toString('hex')}`).join(', ')}`].join('\n  '),
    );

    expect(result.budgetExhausted).toBe(false);
    expect(instructions.length).toBeLessThanOrEqual(3);
    const add = instructions.find((i) => /^add r13, \[rip\+/.test(i.text));
    expect(add?.ripRelative?.target).toBe(DATA);
    expect(Buffer.from(add!.bytes.subarray(0, 3)).toString('hex')).toBe('4c032d'); // the FS override is gone
    const again = await runner.run(min, { mode: 'step' });
    expect(again.outcome).toBe('divergence');
    expect(again.divergence!.diffs.map((d) => d.path)).toEqual(['gpr.r13']);
    // Nothing but R13 (the add's destination) may keep an initial value.
    for (const [name, value] of Object.entries(min.regs)) if (name !== 'r13') expect(value ?? 0n).toBe(0n);
    expect(min.rflags ?? 0x2n).toBe(0x2n);
  });
});
