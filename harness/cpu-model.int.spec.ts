import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASE_FORMAT, type Case, decodeCase } from '../corpus/case-schema.js';
import { LAYOUT } from '../contracts/test-machine.js';
import { nasmAssemble } from './asm/nasm-ref.js';
import { LockstepSession } from './session.js';

/**
 * `--cpu` configures both sides: QEMU gets the model and the emulator models the same CPU. Under
 * `qemu64,+movbe,+bmi1,+abm` MOVBE, TZCNT and LZCNT run on both (with the emulator's default
 * qemu64 model they were #UD on one side only: false divergences), and CPUID reads the same bits.
 */
const CPU = 'qemu64,+movbe,+bmi1,+abm';

let session: LockstepSession;
beforeAll(async () => {
  session = await LockstepSession.open({ kind: 'emulator', inject: [] }, CPU);
}, 60_000);
afterAll(async () => {
  await session?.close();
});

function handCase(id: string, lines: string[], regs: Record<string, string> = {}): Case {
  return decodeCase({
    format: CASE_FORMAT,
    id,
    code: Buffer.from(nasmAssemble(lines, LAYOUT.code)).toString('hex'),
    asm: lines,
    regs,
    memory: [{ addr: `0x${LAYOUT.data.toString(16)}`, bytes: '0123456789abcdef00ff00ff00ff00ff' }],
    provenance: { generator: 'hand' },
  });
}

const data = `0x${LAYOUT.data.toString(16)}`;

describe(`--cpu ${CPU} on both sides`, () => {
  const cases: Array<[string, string[], Record<string, string>?]> = [
    ['movbe', [`mov rsi, ${data}`, 'movbe rax, [rsi]', 'movbe [rsi+8], eax', 'movbe cx, [rsi+2]'], {}],
    ['tzcnt', ['tzcnt rax, rbx', 'tzcnt ecx, edx', 'tzcnt si, di'], { rbx: '0x100', rdx: '0x0', rdi: '0x8000' }],
    ['lzcnt', ['lzcnt rax, rbx', 'lzcnt ecx, edx', 'lzcnt si, di'], { rbx: '0x100', rdx: '0x0', rdi: '0x1' }],
    ['cpuid', ['mov eax, 1', 'cpuid', 'mov r8, rcx', 'mov eax, 7', 'xor ecx, ecx', 'cpuid', 'mov r9, rbx', 'mov eax, 0x80000001', 'cpuid'], {}],
  ];
  for (const [name, lines, regs] of cases) {
    it(`${name}: no divergence`, async () => {
      const r = await session.runner.run(handCase(name, lines, regs), { mode: 'step' });
      expect(r.divergence?.diffs ?? []).toEqual([]);
      expect(r.outcome).toBe('match');
      expect(r.end).toBe('completed'); // ran to the end on QEMU: nothing was #UD
    });
  }
});
