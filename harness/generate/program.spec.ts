import fc from 'fast-check';
import { InstructionInfoFactory, Mnemonic, OpAccess, OpKind, Register, RegisterExt, type Instruction } from 'iced-x86';
import { beforeAll, describe, expect, it } from 'vitest';
import { initAssembler } from '../asm/assembler.js';
import { forEachInstruction } from '../asm/decode.js';
import { GPR_BY_ENCODING } from '../../contracts/machine-state.js';
import { LAYOUT } from '../../contracts/test-machine.js';
import { CaseSchema, type Case } from '../../corpus/case-schema.js';
import { fastProgramArbitrary, programArbitrary, type GeneratedProgram } from './program.js';
import { formatInstruction, sourceInstruction } from './instruction.js';
import { parseInstruction } from '../asm/operands.js';
import { familyOf, FAMILIES, parseFamilies } from './row-catalog.js';
import { assembleProgram, encodeRawProgram } from './to-case.js';

beforeAll(async () => {
  await initAssembler();
});

const WRITES = new Set([OpAccess.Write, OpAccess.CondWrite, OpAccess.ReadWrite, OpAccess.ReadCondWrite]);
const gprNumber = (r: Register): number => RegisterExt.fullRegister(r) - Register.RAX;

/**
 * Walk the code with iced (independently of the generator): for every explicit memory operand
 * whose registers still hold their initial value, compute the effective address from the case's
 * initial registers; it must lie inside the memory the case provides and compares.
 */
function checkAddresses(c: Case): string[] {
  const problems: string[] = [];
  const written = new Set<number>();
  const factory = new InstructionInfoFactory();
  const regs = (n: number): bigint => c.regs[GPR_BY_ENCODING[n]!] ?? 0n;
  const inCompared = (a: bigint): boolean => (c.compare ?? []).some((r) => a >= r.addr && a < r.addr + BigInt(r.length));
  try {
    forEachInstruction(c.code, LAYOUT.code, 64, (ins: Instruction) => {
      const text = ins.toString();
      const info = factory.info(ins);
      // LEA, the hint NOPs and prefetches name an address without accessing it (iced: NoMemAccess)
      const accessed = info.usedMemory().some((m) => {
        const yes = m.access !== OpAccess.NoMemAccess;
        m.free();
        return yes;
      });
      for (let i = 0; i < ins.opCount; i++) {
        if (ins.opKind(i) !== OpKind.Memory || !accessed) continue;
        const base = ins.memoryBase;
        // XLATB's index is AL (any byte): check [rbx] and [rbx + 255]
        const xlat = ins.memoryIndex === Register.AL;
        const index = xlat ? Register.None : ins.memoryIndex;
        const used = [base, index].filter((r) => r !== Register.None && r !== Register.RIP && r !== Register.EIP).map(gprNumber);
        const clobbered = used.filter((n) => written.has(n));
        if (clobbered.length > 0) {
          problems.push(`${text}: address register ${clobbered.map((n) => GPR_BY_ENCODING[n]).join(',')} written earlier`);
          continue;
        }
        const bits = RegisterExt.size(base !== Register.None ? base : index) === 4 ? 32 : 64;
        let ea = ins.memoryDisplacement;
        if (base !== Register.None && base !== Register.RIP) ea += regs(gprNumber(base));
        if (index !== Register.None) ea += regs(gprNumber(index)) * BigInt(ins.memoryIndexScale);
        // BT/BTS/BTR/BTC m, r: the signed offset picks the unit (operand-sized) it accesses (SDM "Bit(BitBase, BitOffset)")
        const bitOffset = [Mnemonic.Bt, Mnemonic.Bts, Mnemonic.Btr, Mnemonic.Btc].includes(ins.mnemonic) && ins.opKind(1) === OpKind.Register;
        const unit = bitOffset ? BigInt(RegisterExt.size(ins.op1Register)) : 1n;
        if (bitOffset) {
          const reg = gprNumber(ins.op1Register);
          if (written.has(reg)) {
            problems.push(`${text}: bit offset register written earlier`);
            continue;
          }
          const off = BigInt.asIntN(Number(unit) * 8, regs(reg));
          const k = off >= 0n ? off / (unit * 8n) : -((-off + unit * 8n - 1n) / (unit * 8n));
          ea += k * unit;
        }
        ea = BigInt.asUintN(bits, ea);
        // an FS/GS override adds the segment base after the address-size truncation
        const seg = ins.memorySegment;
        if (seg === Register.FS || seg === Register.GS) ea = BigInt.asUintN(64, ea + ((seg === Register.FS ? c.fsBase : c.gsBase) ?? 0n));
        if (xlat && !inCompared(ea + 255n)) problems.push(`${text}: table end outside the compared scratch memory`);
        if (!inCompared(ea)) problems.push(`${text}: address 0x${ea.toString(16)} outside the compared scratch memory`);
        if (bitOffset && !inCompared(ea + unit - 1n)) problems.push(`${text}: bit string unit end 0x${(ea + unit - 1n).toString(16)} outside the compared scratch memory`);
      }
      // string instructions whose pointers (and REP count) still hold their initial values: all they
      // can touch, either direction, is [p - n*size, p + n*size)
      const pointers = [STRING_SOURCES.has(ins.mnemonic) ? 6 : -1, STRING_DESTINATIONS.has(ins.mnemonic) ? 7 : -1].filter((r) => r >= 0);
      if (pointers.length && !pointers.some((r) => written.has(r)) && !(ins.hasRepPrefix || ins.hasRepnePrefix ? written.has(1) : false)) {
        const size = BigInt(stringElementSize(ins));
        const n = ins.hasRepPrefix || ins.hasRepnePrefix ? regs(1) : 1n;
        for (const r of pointers) {
          const p0 = regs(r);
          if (n > 0n && (!inCompared(p0 - n * size) || !inCompared(p0 + n * size - 1n))) problems.push(`${text}: ${GPR_BY_ENCODING[r]}=0x${p0.toString(16)} count ${n} reaches outside the compared scratch memory`);
        }
      }
      for (const u of info.usedRegisters()) {
        if (WRITES.has(u.access) && RegisterExt.isGPR(u.register)) written.add(gprNumber(u.register));
        u.free();
      }
      info.free();
    });
  } finally {
    factory.free();
  }
  return problems;
}

const STRING_SOURCES = new Set([Mnemonic.Movsb, Mnemonic.Movsw, Mnemonic.Movsd, Mnemonic.Movsq, Mnemonic.Lodsb, Mnemonic.Lodsw, Mnemonic.Lodsd, Mnemonic.Lodsq, Mnemonic.Cmpsb, Mnemonic.Cmpsw, Mnemonic.Cmpsd, Mnemonic.Cmpsq]);
const STRING_DESTINATIONS = new Set([Mnemonic.Movsb, Mnemonic.Movsw, Mnemonic.Movsd, Mnemonic.Movsq, Mnemonic.Stosb, Mnemonic.Stosw, Mnemonic.Stosd, Mnemonic.Stosq, Mnemonic.Cmpsb, Mnemonic.Cmpsw, Mnemonic.Cmpsd, Mnemonic.Cmpsq, Mnemonic.Scasb, Mnemonic.Scasw, Mnemonic.Scasd, Mnemonic.Scasq]);
/** Element size of a string instruction, from its mnemonic's suffix. */
function stringElementSize(ins: Instruction): number {
  const name = Mnemonic[ins.mnemonic]!;
  return ({ b: 1, w: 2, d: 4, q: 8 } as Record<string, number>)[name.slice(-1)]!;
}

function sample(encoder: 'keystone' | 'raw', n: number, seed: number, length: [number, number] = [1, 12]): GeneratedProgram[] {
  return fc.sample(programArbitrary({ length, encoder }), { seed, numRuns: n });
}

describe('generated programs', () => {
  it('assemble (or name why not), decode to the same instructions, and validate as cases', () => {
    for (const [i, p] of sample('keystone', 150, 11).entries()) {
      const r = assembleProgram(p, `t:${i}`);
      for (const rej of r.rejects) expect(rej.reason).not.toBe('');
      if (!r.ok) continue;
      expect(() => CaseSchema.encode(r.case)).not.toThrow();
      let length = 0;
      let count = 0;
      forEachInstruction(r.case.code, LAYOUT.code, 64, (ins) => {
        expect(ins.isInvalid).toBe(false);
        length += ins.length;
        count++;
      });
      expect(length).toBe(r.case.code.length);
      expect(count).toBe(r.case.asm!.length);
    }
  });

  it('keep every memory access inside the compared scratch memory (checked with iced, from the initial registers)', () => {
    for (const encoder of ['keystone', 'raw'] as const) {
      for (const [i, p] of sample(encoder, Number(process.env.GENERATE_SPEC_RUNS ?? 150), Number(process.env.GENERATE_SPEC_SEED ?? 12), [5, 20]).entries()) {
        const r = encoder === 'raw' ? encodeRawProgram(p, `t:${i}`) : assembleProgram(p, `t:${i}`);
        if (!r.ok) continue;
        expect(checkAddresses(r.case), r.case.asm!.join('\n')).toEqual([]);
      }
    }
  });

  it('raw mode: every encoding passes the iced check', () => {
    let rejects = 0;
    let total = 0;
    for (const [i, p] of sample('raw', 300, 13).entries()) {
      const r = encodeRawProgram(p, `t:${i}`);
      rejects += r.rejects.length;
      total += p.instructions.length;
    }
    expect(rejects / total).toBeLessThan(0.01);
  });

  it('name all 16 GPRs in every width, high-byte registers without REX, and RIP-relative add into R8–R15', () => {
    const names = new Set<string>();
    let ripAddHighReg = false;
    for (const p of fc.sample(programArbitrary({ length: [10, 10], families: ['alu'] }), { seed: 14, numRuns: 400 })) {
      for (const l of p.lines) {
        for (const m of l.matchAll(/\b([re]?[abcd]x|[abcd][lh]|[re]?(?:si|di|sp|bp)l?|r\d+[dwb]?)\b/g)) names.add(m[1]!);
        if (/^add r(8|9|1[0-5]), qword ptr (fs:|gs:)?\[rip [+-]/.test(l)) ripAddHighReg = true;
      }
    }
    const expected = ['rax', 'eax', 'ax', 'al', 'ah', 'spl', 'bpl', 'sil', 'dil', 'rsp', 'esp', 'sp', 'rbp', 'r8', 'r8d', 'r8w', 'r8b', 'r15', 'r15d', 'r15w', 'r15b', 'bh', 'ch', 'dh'];
    for (let i = 8; i < 16; i++) expected.push(`r${i}`, `r${i}d`, `r${i}w`, `r${i}b`);
    for (const n of expected) expect(names, n).toContain(n);
    expect(ripAddHighReg).toBe(true);
  });

  it('honour the families filter and reject unknown families with the valid list', () => {
    for (const p of fc.sample(programArbitrary({ length: [5, 5], families: ['string', 'shift'] }), { seed: 15, numRuns: 50 })) {
      for (const g of p.instructions) expect(['string', 'shift']).toContain(familyOf(g.row));
    }
    expect(() => parseFamilies(['alu', 'nope'])).toThrow(FAMILIES.join(', '));
  });

  it('are deterministic for a fixed seed', () => {
    const a = sample('keystone', 20, 99);
    const b = sample('keystone', 20, 99);
    expect(a.map((p) => [p.lines, p.regs, p.rflags])).toEqual(b.map((p) => [p.lines, p.regs, p.rflags]));
  });
});

describe('sourceOf: what the checked assembler would parse, without parsing', () => {
  it('equals parsing every generated line, whatever the RIP displacement', () => {
    let lines = 0;
    for (const encoder of ['keystone', 'raw'] as const) {
      for (const p of fc.sample(fastProgramArbitrary({ length: [1, 10], encoder }), { seed: 21, numRuns: 400 })) {
        p.lines.forEach((line, i) => {
          lines++;
          expect(p.sourceOf(i), line).toEqual(parseInstruction(line));
          const g = p.instructions[i]!;
          for (const d of [0n, 1n, -1n, 0x7fffffffn, -0x80000000n]) expect(sourceInstruction(g, d)).toEqual(parseInstruction(formatInstruction(g, d)));
        });
      }
    }
    expect(lines).toBeGreaterThan(3000);
  });

  it('is undefined once a line has been changed', () => {
    const [p] = fc.sample(fastProgramArbitrary({ length: [3, 3] }), { seed: 2, numRuns: 1 });
    p!.lines[1] = 'nop';
    expect(p!.sourceOf(1)).toBeUndefined();
    expect(p!.sourceOf(0)).toEqual(parseInstruction(p!.lines[0]!));
  });
});
