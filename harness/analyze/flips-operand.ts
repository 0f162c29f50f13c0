/**
 * Operand features: a memory operand (→ a register holding the same value), a register r/m
 * operand (→ memory at [that register] holding its value), RIP-relative addressing (→ a base
 * register with the same effective address), which side the memory operand is on (→ the
 * opposite-direction row), a negative sign-extended immediate (→ its sign bit cleared) and a
 * shift count above the operand's mask (→ the count masked, the shift the CPU performs).
 */
import { GPR_BY_ENCODING, type GprName } from '../../contracts/machine-state.js';
import { ALL_ROWS } from '../../emulator/isa/table.js';
import { modrmOf, readSigned, rexOf, splice, withByte, writeField } from './encoding.js';
import { expectOperandReplaced, expectSameOperands, expectSwapped } from './expectations.js';
import { NEEDS_ISOLATION, type FeatureDefinition } from './feature.js';
import { operandSize, usesRegister, type InstructionView, type OperandView } from './instruction-view.js';
import { caseMemoryAt, effectiveAddress, freeRegister, gprValue, littleEndian, scratchAddress, toLittleEndian, type Subject } from './subject.js';
import type { Plans } from './variant.js';

const M64 = (1n << 64n) - 1n;
const reg = (n: number): GprName => GPR_BY_ENCODING[n]!;
const hasHighByteRegister = (s: Subject): boolean => s.view.operands.some((o) => o.kind === 'register' && /^[abcd]h$/.test(o.name));

/** The explicit ModRM memory operand, if the instruction has one. */
function modrmMemory(s: Subject): { index: number; operand: Extract<OperandView, { kind: 'memory' }> } | undefined {
  const m = s.layout && modrmOf(s.layout);
  const operand = s.view.operands[s.view.memoryOperand];
  if (!m || m.mod === 3 || operand?.kind !== 'memory') return undefined;
  return { index: s.view.memoryOperand, operand };
}

// ── memory operand → register ───────────────────────────────────────────────────────────────

export const MEMORY_FEATURE: FeatureDefinition = {
  kind: 'encoding',
  instances: (s) => (modrmMemory(s) ? [{ name: 'memory operand', text: 'an operand is in memory' }] : []),
  plans: (s) => memoryToRegister(s),
};

function memoryToRegister(s: Subject): Plans {
  const l = s.layout!;
  const { index, operand } = modrmMemory(s)!;
  const size = operand.size;
  if (![1, 2, 4, 8].includes(size)) return `a ${size}-byte memory operand has no general-register form`;
  // a REX prefix may be added for SPL–DIL, unless an AH–BH operand forbids one; REX.B stays as it
  // was (a register from r8–r15 if it was set), so that this flip changes one feature only
  const rexAllowed = !hasHighByteRegister(s);
  const n = freeRegister(s.view, { rexAllowed, byteOperand: size === 1, extended: (rexOf(l) & 0x1) !== 0 });
  if (n === undefined) return 'no register is free';
  const m = modrmOf(l)!;
  const modrm = 0xc0 | (m.reg << 3) | (n & 7);
  const cut = 1 + (l.sib !== undefined ? 1 : 0) + (l.disp?.size ?? 0);
  let bytes = splice(l.bytes, l.modrm!, cut, modrm);
  const needRex = n >= 8 || (size === 1 && n >= 4);
  const rex = ((rexOf(l) | (l.rex !== undefined || needRex ? 0x40 : 0)) & ~0x3) | (n >= 8 ? 0x1 : 0);
  if (l.rex !== undefined) bytes = withByte(bytes, l.rex, rex);
  else if (needRex) bytes = splice(bytes, l.prefixes.length, 0, rex);
  const expect = expectOperandReplaced(index, { kind: 'register', name: '', gpr: n, size });
  const change = `memory operand → ${reg(n)}`;
  if (!s.isolated) return [{ change: `${change} (value as it is: no 1-instruction case)`, bytes, expect }];
  const ea = effectiveAddress(operand.memory, s.before);
  const value = ea === undefined ? undefined : caseMemoryAt(s.isolated, ea, size);
  if (!value) return [{ change: `${change} (memory contents unknown: value as it is)`, bytes, expect }];
  return [{ change: `${change} holding the memory operand's value`, bytes, regs: { [reg(n)]: littleEndian(value) }, expect }];
}

// ── register r/m operand → memory ───────────────────────────────────────────────────────────

export const REGISTER_FEATURE: FeatureDefinition = {
  kind: 'encoding',
  instances: (s) => {
    const m = s.layout && modrmOf(s.layout);
    const eForm = s.view.row?.forms.split(',').some((f) => f.startsWith('E'));
    return m && m.mod === 3 && eForm ? [{ name: 'register operand', text: 'the r/m operand is a register' }] : [];
  },
  plans: (s) => registerToMemory(s),
};

function registerToMemory(s: Subject): Plans {
  if (!s.isolated) return NEEDS_ISOLATION;
  const l = s.layout!;
  const m = modrmOf(l)!;
  const n = m.rm | (rexOf(l) & 0x1 ? 8 : 0);
  const rmOperands = s.view.operands.map((o, i) => ({ o, i })).filter(({ o }) => o.kind === 'register' && o.gpr === n);
  if (rmOperands.length !== 1 || s.view.addressRegisters.has(n)) return `${reg(n)} is used by more than the r/m operand`;
  const { o, i } = rmOperands[0]!;
  if (o.kind !== 'register' || /^[abcd]h$/.test(o.name)) return 'AH–BH have no base-register twin';
  if (n === 4) return 'RSP cannot be repointed';
  if (n === 12) return '[r12] needs a SIB byte, which moves REX.B from ModRM.rm to the SIB base';
  const scratch = scratchAddress(s.isolated, 16);
  if (scratch === undefined) return 'no free memory in the data page';
  // [reg]: rm 101 with mod 00 would be RIP-relative, so [rbp]/[r13] is [reg+0] with a disp8
  const modrmAt = l.modrm!;
  const tail = m.rm === 5 ? [0x40 | (m.reg << 3) | 5, 0x00] : [(m.reg << 3) | m.rm];
  let bytes = splice(l.bytes, modrmAt, 1, ...tail);
  if (l.rex !== undefined) bytes = withByte(bytes, l.rex, rexOf(l) & ~0x2);
  const value = toLittleEndian(gprValue(s.before, n), 16);
  return [{
    change: `${o.name} → memory at [${reg(n)}] holding its value`,
    bytes,
    regs: { [reg(n)]: scratch },
    memory: [{ addr: scratch, bytes: value.map((b, k) => (k < o.size ? b : 0)) }],
    compare: [{ addr: scratch, length: 16 }],
    expect: expectOperandReplaced(i, { kind: 'memory', size: o.size, memory: { base: n, scale: 1, disp: 0n, addressSize: 64 } }),
  }];
}

// ── RIP-relative → base register ────────────────────────────────────────────────────────────

export const RIP_RELATIVE_FEATURE: FeatureDefinition = {
  kind: 'encoding',
  instances: (s) => (modrmMemory(s)?.operand.memory.base === 'rip' ? [{ name: 'RIP-relative', text: 'the memory operand is RIP-relative' }] : []),
  plans: (s) => ripToBase(s),
};

/** mod 00 rm 101 disp32 → mod 10 rm BASE disp32 (same length) with BASE = target − disp. */
function ripToBase(s: Subject): Plans {
  if (!s.isolated) return NEEDS_ISOLATION;
  const l = s.layout!;
  const { index, operand } = modrmMemory(s)!;
  const base = [3, 1, 2, 6, 7, 0].find((n) => !usesRegister(s.view, n));
  if (base === undefined || !l.disp) return 'no base register is free';
  const m = modrmOf(l)!;
  let bytes = withByte(l.bytes, l.modrm!, 0x80 | (m.reg << 3) | base);
  if (l.rex !== undefined) bytes = withByte(bytes, l.rex, rexOf(l) & ~0x1);
  const disp = readSigned(l.bytes, l.disp);
  const target = operand.memory.ripTarget!;
  const value = (target - disp) & (operand.memory.addressSize === 32 ? 0xffffffffn : M64);
  return [{
    change: `RIP-relative → [${reg(base)}+disp] with ${reg(base)} set to the same effective address`,
    bytes,
    regs: { [reg(base)]: value },
    expect: expectOperandReplaced(index, { ...operand, memory: { base, scale: 1, disp, segment: operand.memory.segment, addressSize: operand.memory.addressSize } }),
  }];
}

// ── which side the memory operand is on ─────────────────────────────────────────────────────

export const DIRECTION_FEATURE: FeatureDefinition = {
  kind: 'encoding',
  instances: (s) => {
    const mem = modrmMemory(s);
    if (!mem || s.view.operands.length !== 2 || !mirrorRow(s)) return [];
    return mem.index === 0
      ? [{ name: 'memory destination', text: 'the memory operand is the first (destination) operand' }]
      : [{ name: 'memory source', text: 'the memory operand is the source' }];
  },
  plans: (s) => {
    const mirror = mirrorRow(s)!;
    return [{ change: 'operands swapped (opposite-direction opcode)', bytes: withByte(s.layout!.bytes, s.layout!.opcode, mirror.opcode), expect: expectSwapped() }];
  },
};

/** The row of the same mnemonic with the operands the other way round (ADD Ev,Gv ↔ ADD Gv,Ev). */
function mirrorRow(s: Subject) {
  const row = s.view.row;
  if (!row || row.ext !== undefined) return undefined;
  const reversed = row.forms.split(',').reverse().join(',');
  return ALL_ROWS.find((r) => r.map === row.map && r.mnemonic === row.mnemonic && r.ext === undefined && r.forms === reversed && r.opcode !== row.opcode);
}

// ── negative immediate ──────────────────────────────────────────────────────────────────────

export const NEGATIVE_IMMEDIATE_FEATURE: FeatureDefinition = {
  kind: 'encoding',
  instances: (s) =>
    s.view.operands.some((o) => o.kind === 'immediate' && o.signExtended && o.value < 0n)
      ? [{ name: 'negative immediate', text: 'the immediate is negative (sign-extended)' }]
      : [],
  plans: (s) => {
    const l = s.layout!;
    const index = s.view.operands.findIndex((o) => o.kind === 'immediate' && o.signExtended);
    const o = s.view.operands[index]!;
    if (o.kind !== 'immediate' || !l.imm || l.imm.size !== o.size) return 'cannot find the immediate in the bytes';
    const flipped = o.value + (1n << BigInt(o.size * 8 - 1));
    return [{ change: 'immediate sign bit cleared', bytes: writeField(l.bytes, l.imm, flipped), expect: expectOperandReplaced(index, { ...o, value: flipped }) }];
  },
};

// ── shift count above the mask ──────────────────────────────────────────────────────────────

const SHIFTS = new Set(['ROL', 'ROR', 'RCL', 'RCR', 'SHL', 'SAL', 'SHR', 'SAR', 'SHLD', 'SHRD']);

/** A shift or rotate counted by CL: RCX is then a state feature's input, not plain data. */
export function countsByCl(view: InstructionView): boolean {
  const last = view.operands[view.operands.length - 1];
  return SHIFTS.has(view.mnemonic) && last?.kind === 'register' && last.name === 'cl';
}

/** The count operand of a shift or rotate, its value before the instruction, and the operand's mask. */
function shiftCount(s: Subject): { index: number; count: number; mask: number } | undefined {
  if (!SHIFTS.has(s.view.mnemonic)) return undefined;
  const index = s.view.operands.length - 1;
  const o = s.view.operands[index];
  const mask = operandSize(s.view) === 8 ? 0x3f : 0x1f;
  if (o?.kind === 'immediate' && index > 0) return { index, count: Number(o.value & 0xffn), mask };
  if (o?.kind === 'register' && o.name === 'cl') return { index, count: Number(s.before.gpr.rcx & 0xffn), mask };
  return undefined;
}

export const SHIFT_COUNT_FEATURE: FeatureDefinition = {
  kind: 'state',
  instances: (s) => {
    const c = shiftCount(s);
    return c && c.count > c.mask
      ? [{ name: 'count above the mask', text: "the shift count is above the operand's mask (0x1f; 0x3f for 64-bit operands)" }]
      : [];
  },
  plans: (s) => {
    const { index, count, mask } = shiftCount(s)!;
    const o = s.view.operands[index]!;
    const masked = count & mask;
    const change = `count 0x${count.toString(16)} → 0x${masked.toString(16)} (the count the CPU uses)`;
    if (o.kind === 'immediate') {
      const l = s.layout;
      if (!l?.imm) return 'cannot find the immediate in the bytes';
      return [{ change, bytes: writeField(l.bytes, l.imm, BigInt(masked)), expect: expectOperandReplaced(index, { ...o, value: BigInt(masked) }) }];
    }
    if (!s.isolated) return NEEDS_ISOLATION;
    return [{ change: `CL ${change}`, regs: { rcx: (s.before.gpr.rcx & ~0xffn) | BigInt(masked) }, hold: [1], expect: expectSameOperands() }];
  },
};

// ── count in an imm8 rather than CL ─────────────────────────────────────────────────────────

/** The CL-counted twin of each imm8-counted shift opcode (C0/C1 → D2/D3, SHLD/SHRD 0F A4/AC → A5/AD). */
const CL_TWIN: Readonly<Record<string, number>> = { 'one:c0': 0xd2, 'one:c1': 0xd3, '0f:a4': 0xa5, '0f:ac': 0xad };

export const IMMEDIATE_COUNT_FEATURE: FeatureDefinition = {
  kind: 'encoding',
  instances: (s) => {
    const l = s.layout;
    const twin = l && CL_TWIN[`${l.map}:${l.bytes[l.opcode]!.toString(16)}`];
    return twin !== undefined && l?.imm ? [{ name: 'imm8 count', text: 'the count is an imm8 (not CL)' }] : [];
  },
  /** The same count in CL: the CL row of the same mnemonic, the imm8 byte gone. */
  plans: (s) => {
    if (!s.isolated) return NEEDS_ISOLATION;
    const l = s.layout!;
    const twin = CL_TWIN[`${l.map}:${l.bytes[l.opcode]!.toString(16)}`]!;
    if (usesRegister(s.view, 1)) return 'RCX is used by the instruction already';
    const count = BigInt(l.bytes[l.imm!.offset]!);
    const bytes = splice(withByte(l.bytes, l.opcode, twin), l.imm!.offset, l.imm!.size);
    const index = s.view.operands.length - 1;
    return [{
      change: `imm8 count → CL = 0x${count.toString(16)}`,
      bytes,
      regs: { rcx: (s.before.gpr.rcx & ~0xffn) | count },
      hold: [1],
      expect: expectOperandReplaced(index, { kind: 'register', name: 'cl', gpr: 1, size: 1 }),
    }];
  },
};
