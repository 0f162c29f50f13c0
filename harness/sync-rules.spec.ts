import { describe, expect, it } from 'vitest';
import { initialState } from '../contracts/test-machine.js';
import { followOracle, registerField } from './sync-rules.js';

/** Pure checks of which bits a result rule takes from the oracle (the QEMU-backed test is sync-rules.int.spec.ts). */
describe('followOracle', () => {
  const oracle = initialState({ rax: 0x11112222n, rdx: 0x33334444n, rcx: 0x55556666n, r9: 0xaaaabbbbccccddddn }, 0x3n);
  const dut = initialState({ rax: 0xffffffff00000000n, rdx: 0x7n, rcx: 0x8n, r9: 0x1111222233334444n }, 0x2n);

  it('takes EAX/EDX (not their upper halves) after RDTSC, and nothing else', () => {
    const f = followOracle({ mnemonic: 'rdtsc', text: 'rdtsc' }, oracle, dut)!;
    expect(f.rule).toBe('rdtsc');
    expect(f.state.gpr.rax).toBe(0xffffffff11112222n);
    expect(f.state.gpr.rdx).toBe(0x33334444n);
    expect(f.state.gpr.rcx).toBe(0x8n);
    expect(f.state.rflags).toBe(0x2n);
  });

  it('adds ECX after RDTSCP', () => {
    expect(followOracle({ mnemonic: 'rdtscp', text: 'rdtscp' }, oracle, dut)!.state.gpr.rcx).toBe(0x55556666n);
  });

  it('takes the destination at its operand size and CF after RDRAND', () => {
    const f = followOracle({ mnemonic: 'rdrand', text: 'rdrand r9w' }, oracle, dut)!;
    expect(f.state.gpr.r9).toBe(0x111122223333ddddn);
    expect(f.state.gpr.rax).toBe(dut.gpr.rax);
    expect(f.state.rflags).toBe(0x3n);
  });

  it('leaves other instructions, and agreeing results, alone', () => {
    expect(followOracle({ mnemonic: 'add', text: 'add rax, rbx' }, oracle, dut)).toBeUndefined();
    expect(followOracle({ mnemonic: 'rdtsc', text: 'rdtsc' }, oracle, oracle)).toBeUndefined();
    expect(followOracle(undefined, oracle, dut)).toBeUndefined();
  });

  it('names registers as iced-x86 prints them', () => {
    expect(registerField('r9d')).toEqual({ gpr: 'r9', bits: 32 });
    expect(registerField('ax')).toEqual({ gpr: 'rax', bits: 16 });
    expect(registerField('rsp')).toEqual({ gpr: 'rsp', bits: 64 });
    expect(registerField('xmm0')).toBeUndefined();
  });
});
