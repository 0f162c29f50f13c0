import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LAYOUT } from '../../contracts/test-machine.js';
import { AF, OF } from '../isa/flags.js';
import { runBytes } from '../test-support/run.js';

/**
 * testdata/host-shld-rip.json was recorded on the host x86-64 CPU (testdata/host-shld-rip.c):
 * SHLD/SHRD m, r, imm8 with a RIP-relative operand and with [rdi+0x10], the same bytes at the
 * test machine's addresses. The host applies the RIP-relative form to the operand its
 * displacement names from the end of the instruction (after the imm8), exactly as the base
 * form; QEMU 7.2 does not (differential.int.spec.ts). The emulator must match the host.
 */
interface HostCase {
  readonly insn: string;
  readonly code: string;
  readonly rsi: string;
  readonly rdi: string;
  readonly data: string;
  readonly flags: number;
}
const cases: HostCase[] = JSON.parse(readFileSync(new URL('../testdata/host-shld-rip.json', import.meta.url), 'utf8'));
const ramp = () => Uint8Array.from({ length: 64 }, (_, i) => (0x11 * i + 1) & 0xff);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('SHLD/SHRD m, r, imm8 (RIP-relative and base forms) match the host CPU', () => {
  it('the host data covers both forms, 3 widths, both directions', () => {
    expect(cases.length).toBe(36);
    // the host's own verdict: the RIP-relative form changes the same bytes as [rdi+0x10]
    for (const c of cases.filter((x) => x.insn.includes(' rip '))) {
      const base = cases.find((x) => x.insn === c.insn.replace(' rip ', ' base '))!;
      expect([c.data, c.flags], c.insn).toEqual([base.data, base.flags]);
      expect(c.data, c.insn).not.toBe(hex(ramp()));
    }
  });

  for (const c of cases) {
    it(c.insn, async () => {
      const count = Number(c.insn.split(' ')[3]);
      const code = Uint8Array.from([...Buffer.from(c.code, 'hex'), 0x9c, 0x58]); // pushfq; pop rax
      const r = await runBytes(code, {
        regs: { rsi: BigInt(`0x${c.rsi}`), rdi: BigInt(`0x${c.rdi}`) },
        memory: [{ addr: LAYOUT.data, bytes: ramp() }],
      });
      expect(r.stop.kind).toBe('breakpoint');
      expect(hex(await r.target.readMemory(LAYOUT.data, 64, 'phys'))).toBe(c.data);
      // AF is undefined for SHLD/SHRD with a nonzero count, OF for counts above 1 (SDM)
      const mask = 0x8d5 & ~AF & ~(count > 1 ? OF : 0);
      expect(Number(r.state.gpr.rax) & mask).toBe(c.flags & mask);
    });
  }
});
