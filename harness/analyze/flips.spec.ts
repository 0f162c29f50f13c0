import { describe, expect, it } from 'vitest';
import type { Case } from '../../corpus/case-schema.js';
import type { GprName } from '../../contracts/machine-state.js';
import { LAYOUT } from '../../contracts/test-machine.js';
import { decodeOne } from '../asm/decode.js';
import { machineForCase } from '../lockstep.js';
import { makeCase, qword } from '../minimize/test-fixtures.js';
import { presentFeatures } from './features.js';
import { subjectOf } from './subject.js';
import { buildVariant } from './variant.js';

/**
 * Each flip must build the instruction it means: the variant's bytes are decoded again by
 * iced-x86 (decodeOne, independent of the flip code) and compared with the text written here by
 * hand, and the state edits that keep values and addresses the same are checked too.
 */
const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

interface Flip {
  /** False when the variant could not be built; `text` then says why. */
  readonly built: boolean;
  readonly text: string;
  readonly change: string;
  readonly regs: Partial<Record<GprName, bigint>>;
  readonly rflags?: bigint;
  readonly memory: Case['memory'];
}

function caseOf(hex: string, state: Partial<Pick<Case, 'regs' | 'rflags' | 'memory' | 'fsBase'>> = {}): Case {
  return { ...makeCase({ code: bytes(hex), regs: state.regs, rflags: state.rflags, memory: state.memory }), fsBase: state.fsBase };
}

/** The features present in a 1-instruction case. */
function featureNames(hex: string, state: Parameters<typeof caseOf>[1] = {}): string[] {
  const c = caseOf(hex, state);
  return presentFeatures(subjectOf(c.code, LAYOUT.code, machineForCase(c).state, c)!).map((f) => f.name);
}

/** Every variant that removes `feature`, decoded again (a variant that cannot be built says why in `text`); a string when there are none. */
function flips(hex: string, feature: string, state: Parameters<typeof caseOf>[1] = {}): Flip[] | string {
  const c = caseOf(hex, state);
  const s = subjectOf(c.code, LAYOUT.code, machineForCase(c).state, c)!;
  const f = presentFeatures(s).find((x) => x.name === feature);
  if (!f) return `feature ${feature} not present (present: ${presentFeatures(s).map((x) => x.name).join(', ')})`;
  const plans = f.definition.plans(s, f);
  if (typeof plans === 'string') return plans;
  const out: Flip[] = [];
  for (const plan of plans) {
    const v = buildVariant({ case: c, index: 0, view: s.view, isolated: true }, plan);
    if (typeof v === 'string') {
      out.push({ built: false, text: v, change: plan.change, regs: {}, memory: [] });
      continue;
    }
    const regs = Object.fromEntries(Object.entries(v.case.regs).filter(([k, x]) => c.regs[k as GprName] !== x));
    out.push({ built: true, text: decodeOne(v.case.code, LAYOUT.code).text, change: plan.change, regs, rflags: v.case.rflags, memory: v.case.memory.slice(c.memory.length) });
  }
  return out;
}

const one = (x: Flip[] | string): Flip => {
  if (typeof x === 'string') throw new Error(x);
  expect(x).toHaveLength(1);
  if (!x[0]!.built) throw new Error(x[0]!.text);
  return x[0]!;
};

describe('REX bits', () => {
  it('REX.B on a register r/m: add r9, rax → add rcx, rax, with rcx = r9', () => {
    const f = one(flips('49 01 c1', 'REX.B', { regs: { r9: 0x1234n, rcx: 7n } }));
    expect(f.text).toBe('add rcx, rax');
    expect(f.regs).toEqual({ rcx: 0x1234n });
  });

  it('REX.B where the freed register is another operand: that operand moves aside with its value', () => {
    const f = one(flips('49 01 c9', 'REX.B', { regs: { r9: 0x99n, rcx: 0x11n } })); // add r9, rcx
    expect(f.text).toBe('add rcx, rdx');
    expect(f.regs).toEqual({ rcx: 0x99n, rdx: 0x11n });
    expect(one(flips('41 38 c0', 'REX.B', { regs: { r8: 0x80n, rax: 0x7fn } })).text).toBe('cmp al, cl'); // cmp r8b, al
    // MUL's RAX is implicit: no operand to move, values stay as they are
    expect(one(flips('49 f7 e0', 'REX.B')).change).toMatch(/values as they are/); // mul r8
  });

  it('REX.B on a SIB base: mov rax, [r12] → mov rax, [rsp], rsp = r12 (the same address)', () => {
    const f = one(flips('49 8b 04 24', 'REX.B', { regs: { r12: 0x20010n } }));
    expect(f.text).toBe('mov rax, [rsp]');
    expect(f.regs).toEqual({ rsp: 0x20010n });
  });

  it('REX.B on an opcode register: push r9 → push rcx', () => {
    expect(one(flips('41 51', 'REX.B', { regs: { r9: 5n } })).text).toBe('push rcx');
  });

  it('REX.B without effect (RIP-relative) is not a feature', () => {
    expect(featureNames('49 8b 05 10 00 00 00')).not.toContain('REX.B');
    expect(featureNames('49 8b 05 10 00 00 00')).toContain('REX.W');
  });

  it('REX.W: add rax, rcx → add eax, ecx; movsx rax, r9b → movsx eax, r9b', () => {
    expect(one(flips('48 01 c8', 'REX.W')).text).toBe('add eax, ecx');
    expect(one(flips('49 0f be c1', 'REX.W')).text).toBe('movsx eax, r9b');
  });

  it('REX.R: add rax, r9 → add rax, rcx; REX.X: mov rax, [rax+r9] → mov rax, [rax+rcx]', () => {
    expect(one(flips('4c 01 c8', 'REX.R')).text).toBe('add rax, rcx');
    const x = one(flips('4a 8b 04 08', 'REX.X', { regs: { r9: 0x20n, rax: 0x20000n } }));
    expect(x.text).toBe('mov rax, [rax+rcx]');
    expect(x.regs).toEqual({ rcx: 0x20n });
  });

  it('a register the instruction only writes gets no value (mov r14, [rax+0x10] → mov rsi, [rax+0x10])', () => {
    const f = one(flips('4c 8b 70 10', 'REX.R', { regs: { rax: 0x20000n, r14: 5n } }));
    expect(f.text).toBe('mov rsi, [rax+0x10]');
    expect(f.regs).toEqual({});
  });

  it('REX.W cannot be cleared where the length would change (mov r13, imm64)', () => {
    const [f] = flips('49 bd 11 11 11 11 11 11 11 11', 'REX.W') as Flip[];
    expect(f!.built).toBe(false);
    expect(f!.text).toMatch(/not one valid instruction|not the intended/);
  });
});

describe('legacy prefixes', () => {
  it('0x66: sbb ax, bx → sbb eax, ebx; an operand-sized immediate grows, sign-extended', () => {
    expect(one(flips('66 19 d8', '0x66')).text).toBe('sbb eax, ebx');
    expect(one(flips('66 1d 34 12', '0x66')).text).toBe('sbb eax, 0x1234');
    expect(one(flips('66 81 db 00 80', '0x66')).text).toBe('sbb ebx, 0xffff8000');
    expect(one(flips('66 83 db ff', '0x66')).text).toBe('sbb ebx, 0xffffffff');
  });

  it('a mandatory 0x66 (movdqa) is not the operand-size feature', () => {
    expect(featureNames('66 0f 6f c1')).not.toContain('0x66');
  });

  it('0x67: mov eax, [ebx] → mov eax, [rbx] with rbx cut to the same 32-bit address', () => {
    const f = one(flips('67 8b 03', '0x67', { regs: { rbx: 0xdead00020010n } }));
    expect(f.text).toBe('mov eax, [rbx]');
    expect(f.regs).toEqual({ rbx: 0x20010n });
  });

  it('0x67 with base, index and a negative displacement keeps the address', () => {
    // mov eax, [ebx+ecx*4-0x10]: 0x1_0002_0000 + 4·0x8 − 0x10 wraps to 0x20010 in 32 bits
    const f = one(flips('67 8b 44 8b f0', '0x67', { regs: { rbx: 0x100020000n, rcx: 0xffff00000008n } }));
    expect(f.text).toBe('mov eax, [rbx+rcx*4-0x10]');
    expect((f.regs.rbx! + f.regs.rcx! * 4n - 0x10n) & 0xffffffffffffffffn).toBe(0x20010n);
  });

  it('FS override dropped; the base register carries the FS base', () => {
    const f = one(flips('64 48 8b 03', 'FS override', { regs: { rbx: 0x20000n }, fsBase: 0x1000n }));
    expect(f.text).toBe('mov rax, [rbx]');
    expect(f.regs).toEqual({ rbx: 0x21000n });
  });

  it('LOCK and REP dropped', () => {
    expect(one(flips('f0 48 01 03', 'LOCK')).text).toBe('add [rbx], rax');
    expect(one(flips('f3 48 ab', 'REP')).text).toBe('stosq');
  });
});

describe('operand forms', () => {
  const memory = [{ addr: 0x20000n, bytes: qword(0x1122334455667788n) }];

  it('memory operand → a free register holding the memory value', () => {
    const f = one(flips('48 03 03', 'memory operand', { regs: { rbx: 0x20000n }, memory }));
    expect(f.text).toBe('add rax, rcx');
    expect(f.regs).toEqual({ rcx: 0x1122334455667788n });
    expect(one(flips('02 03', 'memory operand', { regs: { rbx: 0x20000n }, memory })).text).toBe('add al, cl');
    // AH forbids a REX prefix: the register comes from AL–BL
    expect(one(flips('02 23', 'memory operand', { regs: { rbx: 0x20000n }, memory })).text).toBe('add ah, cl');
  });

  it('memory operand → register keeps REX.B set when it was (test byte [r10] → test r9b: REX.B is another feature)', () => {
    expect(one(flips('41 f6 02 a6', 'memory operand', { regs: { r10: 0x20000n }, memory })).text).toBe('test r9b, 0xa6');
  });

  it('a RIP-relative memory operand → register (REX.X/B cleared, REX.R kept)', () => {
    expect(one(flips('4c 03 2d 10 00 00 00', 'memory operand')).text).toBe('add r13, rcx');
  });

  it('register r/m operand → memory at [that register] holding its value', () => {
    const f = one(flips('49 01 c1', 'register operand', { regs: { r9: 0xabcdn } }));
    expect(f.text).toBe('add [r9], rax');
    const scratch = f.regs.r9!;
    expect(f.memory).toEqual([{ addr: scratch, bytes: Uint8Array.from([0xcd, 0xab, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) }]);
    expect(flips('49 01 c4', 'register operand')).toMatch(/SIB/); // [r12] would move REX.B from ModRM.rm to the SIB base
    expect(one(flips('49 01 c5', 'register operand')).text).toBe('add [r13], rax'); // disp8 0 needed
  });

  it('RIP-relative → a base register with the same effective address', () => {
    const f = one(flips('4c 03 2d 10 00 00 00', 'RIP-relative'));
    expect(f.text).toBe('add r13, [rbx+0x10]');
    expect(f.regs.rbx! + 0x10n).toBe(LAYOUT.code + 7n + 0x10n);
  });

  it('memory source ↔ destination: add rax, [rbx] → add [rbx], rax', () => {
    expect(featureNames('48 03 03')).toContain('memory source');
    expect(one(flips('48 03 03', 'memory source')).text).toBe('add [rbx], rax');
    expect(one(flips('48 01 03', 'memory destination')).text).toBe('add rax, [rbx]');
  });

  it('negative immediate: push -5 → push 0x7ffffffb; add rax, -1 → add rax, 0x7f', () => {
    expect(one(flips('68 fb ff ff ff', 'negative immediate')).text).toBe('push 0x7ffffffb');
    expect(one(flips('48 83 c0 ff', 'negative immediate')).text).toBe('add rax, 0x7f');
    expect(featureNames('68 05 00 00 00')).not.toContain('negative immediate');
  });

  it('shift count above the mask: imm8 and CL both masked', () => {
    expect(one(flips('c1 e0 25', 'count above the mask')).text).toBe('shl eax, 5');
    expect(one(flips('48 c1 e0 45', 'count above the mask')).text).toBe('shl rax, 5');
    expect(featureNames('48 c1 e0 25')).not.toContain('count above the mask'); // 0x25 ≤ 0x3f for 64-bit
    const cl = one(flips('d3 e0', 'count above the mask', { regs: { rcx: 0x1225n } }));
    expect(cl.text).toBe('shl eax, cl');
    expect(cl.regs).toEqual({ rcx: 0x1205n });
  });
});

describe('count source', () => {
  it('an imm8 count moves to CL (the CL row of the same mnemonic)', () => {
    const shl = one(flips('c1 e0 05', 'imm8 count', { regs: { rcx: 0x1200n } }));
    expect(shl.text).toBe('shl eax, cl');
    expect(shl.regs).toEqual({ rcx: 0x1205n });
    // one byte shorter: the displacement grows by one so that the operand stays where it was
    expect(one(flips('0f a4 05 10 00 00 00 09', 'imm8 count')).text).toBe('shld [rip+0x11], eax, cl');
    expect(featureNames('d3 e0')).not.toContain('imm8 count');
    expect(flips('48 0f a4 c8 05', 'imm8 count')).toMatch(/RCX is used/); // shld rax, rcx, 5
  });
});

describe('input flags', () => {
  it('CF into SBB is a feature, flipped in the initial RFLAGS', () => {
    expect(featureNames('66 19 d8', { rflags: 0x3n })).toContain('CF in = 1');
    expect(featureNames('66 19 d8', { rflags: 0x2n })).toContain('CF in = 0');
    expect(featureNames('66 01 d8', { rflags: 0x3n }).some((n) => n.startsWith('CF'))).toBe(false); // ADD reads no flag
    expect(one(flips('66 19 d8', 'CF in = 1', { rflags: 0x3n })).rflags).toBe(0x2n);
  });
});

describe('value classes', () => {
  it("the upper half of a 64-bit operand read is cleared (a register, or the memory operand's bytes 4–7)", () => {
    const memory = [{ addr: 0x20000n, bytes: qword(0x1122334455667788n) }];
    const regs = { rbx: 0x20000n, rax: 0xabcd00000001n };
    expect(featureNames('48 03 03', { regs, memory })).toEqual(expect.arrayContaining(['rax upper half ≠ 0', 'the memory operand upper half ≠ 0']));
    expect(one(flips('48 03 03', 'rax upper half ≠ 0', { regs, memory })).regs).toEqual({ rax: 1n });
    const m = one(flips('48 03 03', 'the memory operand upper half ≠ 0', { regs, memory }));
    expect(m.memory).toEqual([{ addr: 0x20000n, bytes: qword(0x55667788n) }]);
    // a 32-bit operand, or a register only written, has no such class
    expect(featureNames('03 03', { regs, memory }).some((n) => n.includes('upper half'))).toBe(false);
    expect(featureNames('48 8b 03', { regs, memory })).not.toContain('rax upper half ≠ 0');
  });
});

describe('mnemonic siblings', () => {
  /** Siblings whose form matches on paper but not in iced's reading (83 /0 ADD Ev,Ib for SHL Ev,Ib: a sign-extended immediate) are left out. */
  const built = (hex: string, feature: string): string[] => {
    const x = flips(hex, feature);
    return typeof x === 'string' ? [x] : x.filter((f) => f.built).map((f) => f.text);
  };

  it('ADD → the other ALU rows of the same form', () => {
    const t = built('48 03 03', 'ADD');
    expect(t.slice(0, 7)).toEqual(['or rax, [rbx]', 'adc rax, [rbx]', 'sbb rax, [rbx]', 'and rax, [rbx]', 'sub rax, [rbx]', 'xor rax, [rbx]', 'cmp rax, [rbx]']);
    expect(t).toContain('mov rax, [rbx]');
  });

  it('SHLD → SHRD, SHL → the other shifts and rotates, INC → DEC and group 3', () => {
    expect(built('0f a4 c3 05', 'SHLD')).toEqual(['shrd ebx, eax, 5']);
    expect(built('c1 e0 05', 'SHL')).toEqual(expect.arrayContaining(['rol eax, 5', 'shr eax, 5', 'sar eax, 5']));
    expect(built('ff c0', 'INC')).toEqual(expect.arrayContaining(['dec eax', 'neg eax', 'not eax']));
  });

  it('LEA and MOV Gv,Ev are siblings (LEA computes the address MOV reads)', () => {
    expect(built('8d 03', 'LEA')).toContain('mov eax, [rbx]');
  });

  it('string operations of one size are siblings of each other', () => {
    expect(built('f3 a4', 'MOVSB')).toEqual(['repe cmpsb', 'rep stosb', 'rep lodsb', 'repe scasb']);
    expect(built('48 ab', 'STOSQ')).toEqual(['movsq', 'cmpsq', 'lodsq', 'scasq']);
  });

  it('PUSH imm32 has no sibling', () => {
    expect(flips('68 fb ff ff ff', 'PUSH')).toEqual([]);
  });
});
