import { describe, expect, it } from 'vitest';
import { LAYOUT } from '../../contracts/test-machine.js';
import { splitCode } from './instructions.js';
import { encode, hexOf, makeCase } from './test-fixtures.js';
import { instructionCandidates, instructionRewrites, stateCandidates } from './x86-steps.js';

function rewrites(hex: string): Array<[string, string]> {
  const [ins] = splitCode(Buffer.from(hex.replace(/\s/g, ''), 'hex'));
  return instructionRewrites(ins!).map((r) => [r.step, hexOf(r.bytes)]);
}

describe('instructionRewrites', () => {
  it('drops legacy prefixes that leave the same instruction', () => {
    expect(rewrites('6648 01c0')).toContainEqual(['drop operand-size 0x66 prefix', '4801c0']);
    expect(rewrites('64488b00')).toContainEqual(['drop FS override prefix', '488b00']);
    expect(rewrites('f0480105 00000000')).toContainEqual(['drop LOCK prefix', '480105' + '00000000']);
    expect(rewrites('67 8b00')).toContainEqual(['drop address-size 0x67 prefix', '8b00']);
  });

  it('does not drop a prefix that is part of the opcode (66 0f 6f is movdqa, 0f 6f is movq)', () => {
    expect(rewrites('660f6fc1').map(([s]) => s)).not.toContain('drop operand-size 0x66 prefix');
  });

  it('clears REX bits one at a time (REX.W = narrow the operand size) and drops an empty REX', () => {
    const add = rewrites('4c032d10000000'); // add r13, [rip+0x10]
    expect(add).toContainEqual(['clear REX.W (narrow operand size 64 → 32)', '44032d10000000']);
    expect(add).toContainEqual(['clear REX.R (ModRM.reg r8–r15 → rax–rdi)', '48032d10000000']);
    // 40 88 c6 is mov sil, al; without REX it is mov dh, al: offered, the caller's signature check decides
    expect(rewrites('4088c6')).toContainEqual(['drop empty REX prefix', '88c6']);
    expect(rewrites('40 01c0')).toContainEqual(['drop empty REX prefix', '01c0']);
  });

  it('refuses REX.W drops that change the length (mov r13, imm64 has no 32-bit imm64 form)', () => {
    expect(rewrites('49bd1111111111111111').map(([s]) => s)).not.toContain('clear REX.W (narrow operand size 64 → 32)');
  });

  it('replaces a memory operand by a register (RIP-relative, SIB, disp8)', () => {
    expect(rewrites('4c032d10000000')).toContainEqual(['replace memory operand by register', '4c03e8']); // add r13, rax
    expect(rewrites('8b042500000200')).toContainEqual(['replace memory operand by register', '8bc0']); // mov eax, [0x20000]
    expect(rewrites('4b8b44ecf8')).toContainEqual(['replace memory operand by register', '488bc0']); // mov rax, [r12+r13*8-8]
    expect(rewrites('c7050000000078563412')).toContainEqual(['replace memory operand by register', 'c7c078563412']); // keeps the imm32
  });

  it('does not offer a register form where none exists (lea)', () => {
    expect(rewrites('488d0510000000').map(([s]) => s)).not.toContain('replace memory operand by register');
  });
});

describe('instructionCandidates', () => {
  it('keeps later RIP-relative operands on their address when a rewrite shortens an earlier instruction', () => {
    const code = encode(['664801c0', { hex: '4c032d00000000', ripTo: LAYOUT.data }]);
    const candidates = [...instructionCandidates(makeCase({ code }))];
    const dropped = candidates.find((c) => c.step.startsWith('drop operand-size'))!;
    expect(dropped.step).toBe('drop operand-size 0x66 prefix: add rax, rax (664801c0) → add rax, rax (4801c0)');
    const [first, second] = splitCode(dropped.case.code);
    expect(first!.bytes.length).toBe(3);
    expect(second!.ripRelative?.target).toBe(LAYOUT.data);
    expect(dropped.case.asm).toEqual(['add rax, rax', `add r13, [rip+0x${(LAYOUT.data - LAYOUT.code - 10n).toString(16)}]`]);
  });
});

describe('stateCandidates', () => {
  it('resets each register and RFLAGS', () => {
    const c = makeCase({ code: encode(['90']), regs: { rax: 5n, r13: 7n }, rflags: 0x8d7n });
    const steps = [...stateCandidates(c)];
    expect(steps.map((s) => s.step)).toEqual(['reset rax (was 0x5)', 'reset r13 (was 0x7)', 'rflags 0x8d7 → 0x2']);
    expect(steps[0]!.case.regs).toEqual({ r13: 7n });
    expect(steps[2]!.case.rflags).toBeUndefined();
  });
});
