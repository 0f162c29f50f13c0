/**
 * Prefix features: the REX bits, operand size (0x66), address size (0x67), segment overrides,
 * LOCK and REP/REPNE. Each flip removes the prefix (or clears the bit) and, where that would
 * change what the instruction reads, edits the state so that only the encoding differs: a
 * register that REX.B/R/X no longer names gets the old register's value, addresses stay the same.
 */
import { GPR_BY_ENCODING, type GprName } from '../../contracts/machine-state.js';
import { modrmOf, readSigned, rexOf, SEGMENT_PREFIXES, splice, withByte, writeField, type EncodingLayout } from './encoding.js';
import {
  expectAddressSize64, expectRegisterRenamed, expectRegistersRenamed, expectResized, expectSameOperands, expectSegmentDropped, operandKey,
} from './expectations.js';
import { NEEDS_ISOLATION, type FeatureDefinition, type FeatureInstance } from './feature.js';
import { usesRegister, viewInstruction } from './instruction-view.js';
import { effectiveAddress, freeRegister, gprValue, type Subject } from './subject.js';
import type { Plans, VariantPlan } from './variant.js';

const M64 = (1n << 64n) - 1n;
const reg = (n: number): GprName => GPR_BY_ENCODING[n]!;

function withoutPrefix(l: EncodingLayout, byte: number): Uint8Array {
  let bytes = l.bytes;
  for (const at of [...l.prefixes].reverse()) if (l.bytes[at] === byte) bytes = splice(bytes, at, 1);
  return bytes;
}

const hasPrefix = (l: EncodingLayout | undefined, byte: number): boolean => !!l && l.prefixes.some((at) => l.bytes[at] === byte);

const accessesMemory = (s: Subject): boolean => s.view.memoryOperand >= 0 || s.view.addressRegisters.size > 0;

/** Is GPR `n` an explicit register operand too (so that moving it to keep an address would change a value)? */
const isDataOperand = (s: Subject, n: number): boolean => s.view.operands.some((o) => o.kind === 'register' && o.gpr === n);

// ── REX bits ────────────────────────────────────────────────────────────────────────────────

const REX_BITS = [
  { bit: 0x8, name: 'REX.W', text: 'REX.W is set (64-bit operand size)' },
  { bit: 0x4, name: 'REX.R', text: 'REX.R is set (ModRM.reg names r8–r15)' },
  { bit: 0x2, name: 'REX.X', text: 'REX.X is set (the SIB index is r8–r15)' },
  { bit: 0x1, name: 'REX.B', text: 'REX.B is set' },
] as const;

function clearedRex(l: EncodingLayout, bit: number): Uint8Array {
  return withByte(l.bytes, l.rex!, rexOf(l) & ~bit);
}

/** The register number a REX bit extends in this encoding (8–15), or undefined. */
function extendedRegister(l: EncodingLayout, bit: number): number | undefined {
  const m = modrmOf(l);
  if (bit === 0x4) return m ? 8 + m.reg : undefined;
  if (bit === 0x2) return l.sib !== undefined ? 8 + ((l.bytes[l.sib]! >> 3) & 7) : undefined;
  if (bit === 0x1) {
    if (!m) return 8 + (l.bytes[l.opcode]! & 7); // opcode register (PUSH r, BSWAP, XCHG, MOV r, imm)
    if (m.mod === 3 || l.sib === undefined) return 8 + m.rm;
    return 8 + (l.bytes[l.sib]! & 7);
  }
  return undefined;
}

/** What REX.B extends here: one key ("REX.B") whatever the place, but the hypothesis says where it was seen. */
function rexBPlace(l: EncodingLayout): string {
  const m = modrmOf(l);
  if (!m) return 'the opcode register is r8–r15';
  if (m.mod === 3) return 'the ModRM.rm register is r8–r15';
  return l.sib === undefined ? 'the ModRM.rm base is r8–r15' : 'the SIB base is r8–r15';
}

export const REX_FEATURE: FeatureDefinition = {
  kind: 'encoding',
  instances: (s) => {
    const l = s.layout;
    if (!l || l.rex === undefined) return [];
    return REX_BITS.filter(({ bit }) => {
      if (!(rexOf(l) & bit)) return false;
      // set but without effect (REX.B of a RIP-relative operand, say): not a feature of this instruction
      const cleared = viewInstruction(clearedRex(l, bit), s.view.decoded.address, s.view.bits);
      return !cleared || cleared.decoded.text !== s.view.decoded.text;
    }).map(({ bit, name, text }) => ({ name, text: bit === 0x1 ? `${text} (${rexBPlace(l)})` : text }));
  },
  plans: (s, f) => {
    const l = s.layout!;
    const { bit } = REX_BITS.find((b) => b.name === f.name)!;
    const bytes = clearedRex(l, bit);
    if (bit === 0x8) return [{ change: 'REX.W cleared', bytes, expect: expectResized(8, 4) }];
    const from = extendedRegister(l, bit);
    if (from === undefined) return `cannot tell which register ${f.name} extends`;
    const to = from - 8;
    const plan: VariantPlan = { change: `${f.name} cleared`, bytes, expect: expectRegisterRenamed(from, to) };
    if (!s.isolated) return [{ ...plan, change: `${plan.change} (values as they are: no 1-instruction case)` }];
    const read = renamedSlotIsRead(s, bytes);
    if (usesRegister(s.view, to)) return [moveAside(s, bit, from, to, read) ?? { ...plan, change: `${plan.change} (${reg(to)} is used by the instruction too: values as they are)` }];
    // A register only written needs no value; carrying one anyway could hand a bug that reads it
    // by mistake (REX.B ignored elsewhere in the instruction) the right value by coincidence.
    if (!read) return [{ ...plan, change: `${plan.change} (${reg(to)} is only written: no value to carry)` }];
    return [{ ...plan, change: `${plan.change}, ${reg(to)} = ${reg(from)}'s value`, regs: { [reg(to)]: gprValue(s.before, from) } }];
  },
};

/** Does the instruction read the operand the cleared REX bit renames (an address register always is)? */
function renamedSlotIsRead(s: Subject, cleared: Uint8Array): boolean {
  const variant = viewInstruction(cleared, s.view.decoded.address, s.view.bits);
  if (!variant) return true;
  const i = s.view.operands.findIndex((o, k) => variant.operands[k] === undefined || operandKey(o) !== operandKey(variant.operands[k]!));
  return i < 0 || s.view.operands[i]!.kind !== 'register' || s.view.operandRead[i]!;
}

/**
 * REX.B cleared where the register it now names is another operand too (add r9, rcx → add rcx,
 * rcx would change the computation): that other operand, when it is the ModRM field the bit does
 * not touch and the instruction uses the register nowhere else, moves to a free register holding
 * its value, and the freed register takes the extended one's (add r9, rcx → add rcx, rdx).
 */
function moveAside(s: Subject, bit: number, from: number, to: number, read: boolean): VariantPlan | undefined {
  const l = s.layout!;
  const m = modrmOf(l);
  if (!m || (bit !== 0x4 && m.reg !== to) || (bit === 0x4 && (m.mod !== 3 || m.rm !== to || rexOf(l) & 0x1))) return undefined;
  const explicit = s.view.operands.filter((o) => o.kind === 'register' && o.gpr === to).length;
  const anywhere = s.view.operands.filter((o) => o.kind === 'memory' && (o.memory.base === to || o.memory.index === to)).length;
  // exactly one explicit use, in that field (an instruction that also uses it implicitly, like
  // CMPXCHG's RAX, is not told apart here: its variant changes the accumulator too)
  if (explicit !== 1 || anywhere || s.view.addressRegisters.has(to)) return undefined;
  const free = freeRegister(s.view, { rexAllowed: true, byteOperand: false });
  if (free === undefined) return undefined;
  const modrm = bit === 0x4 ? (m.mod << 6) | (m.reg << 3) | free : (m.mod << 6) | (free << 3) | m.rm;
  const name = bit === 0x4 ? 'REX.R' : bit === 0x2 ? 'REX.X' : 'REX.B';
  return {
    change: `${name} cleared${read ? `, ${reg(to)} = ${reg(from)}'s value` : ''}, the other ${reg(to)} operand moved to ${reg(free)} with its value`,
    bytes: withByte(clearedRex(l, bit), l.modrm!, modrm),
    regs: { ...(read ? { [reg(to)]: gprValue(s.before, from) } : {}), [reg(free)]: gprValue(s.before, to) },
    expect: expectRegistersRenamed([[from, to], [to, free]]),
  };
}


// ── operand size ────────────────────────────────────────────────────────────────────────────

export const OPERAND_SIZE_FEATURE: FeatureDefinition = {
  kind: 'encoding',
  instances: (s) => {
    if (!hasPrefix(s.layout, 0x66)) return [];
    // a mandatory 0x66 (part of the opcode) is not an operand-size feature
    const without = viewInstruction(withoutPrefix(s.layout!, 0x66), s.view.decoded.address, s.view.bits);
    if (without && without.mnemonic !== s.view.mnemonic) return [];
    return [{ name: '0x66', text: 'the operand-size prefix 0x66 is present (16-bit operand size)' }];
  },
  plans: (s) => {
    const l = s.layout!;
    let bytes = withoutPrefix(l, 0x66);
    // an operand-sized immediate (Iz, Iv) grows from 16 to 32 bits: sign-extended, same low half
    const immForm = s.view.row?.forms.split(',').some((f) => f === 'Iz' || f === 'Iv');
    if (l.imm && l.imm.size === 2 && immForm) {
      const removed = l.bytes.length - bytes.length;
      const at = l.imm.offset - removed;
      const value = readSigned(l.bytes, l.imm);
      bytes = writeField(splice(bytes, at, 2, 0, 0, 0, 0), { offset: at, size: 4 }, value);
    }
    return [{ change: 'operand-size prefix 0x66 dropped', bytes, expect: expectResized(2, 4) }];
  },
};

// ── address size ────────────────────────────────────────────────────────────────────────────

export const ADDRESS_SIZE_FEATURE: FeatureDefinition = {
  kind: 'encoding',
  // the plans rewrite 32-bit addresses as 64-bit ones: 64-bit code only
  instances: (s) => (s.view.bits === 64 && hasPrefix(s.layout, 0x67) && accessesMemory(s) ? [{ name: '0x67', text: 'the address-size prefix 0x67 is present (32-bit addressing)' }] : []),
  plans: (s) => addressSizePlans(s),
};

/**
 * Drop 0x67 and keep every address the same: address registers are cut to their low 32 bits
 * (the CPU ignored the rest) and, for a ModRM operand, the base is set so that base + index·scale
 * + displacement is the old 32-bit address (a displacement is sign-extended in 64-bit addressing).
 */
function addressSizePlans(s: Subject): Plans {
  const l = s.layout!;
  const bytes = withoutPrefix(l, 0x67);
  const change = 'address-size prefix 0x67 dropped';
  const expect = expectAddressSize64();
  const regs: Partial<Record<GprName, bigint>> = {};
  for (const n of s.view.addressRegisters) regs[reg(n)] = gprValue(s.before, n) & 0xffffffffn;
  if (s.view.hasRep || s.view.hasRepne) regs.rcx = s.before.gpr.rcx & 0xffffffffn; // ECX → RCX count
  const mem = s.view.memoryOperand >= 0 ? s.view.operands[s.view.memoryOperand] : undefined;
  if (mem?.kind === 'memory' && mem.memory.base !== 'rip') {
    const m = mem.memory;
    const base = typeof m.base === 'number' ? m.base : undefined;
    const ea32 = effectiveAddress({ ...m, segment: undefined }, s.before)!;
    if (base !== undefined) {
      if (base === m.index) return 'base and index are the same register';
      if (isDataOperand(s, base)) return 'the base register is also a data operand';
      const index = m.index === undefined ? 0n : gprValue(s.before, m.index) & 0xffffffffn;
      regs[reg(base)] = (ea32 - index * BigInt(m.scale) - m.disp) & M64;
    } else if (m.index !== undefined) {
      const rest = ea32 - m.disp;
      if (rest % BigInt(m.scale) !== 0n) return 'no index value gives the same address';
      regs[reg(m.index)] = (rest / BigInt(m.scale)) & M64;
    } else if (m.disp < 0n) {
      return 'a negative absolute displacement names another address with 64-bit addressing';
    }
  }
  if (Object.keys(regs).length === 0) return [{ change, bytes, expect }];
  if (!s.isolated) return NEEDS_ISOLATION;
  return [{ change: `${change}, address registers set so that the address stays the same`, bytes, regs, expect }];
}

// ── segment overrides ───────────────────────────────────────────────────────────────────────

export const SEGMENT_FEATURE: FeatureDefinition = {
  kind: 'encoding',
  instances: (s) => {
    const l = s.layout;
    if (!l || !accessesMemory(s)) return [];
    const seen = new Set<string>();
    for (const at of l.prefixes) {
      const seg = SEGMENT_PREFIXES[l.bytes[at]!];
      if (seg) seen.add(seg);
    }
    return [...seen].map((seg) => ({ name: `${seg.toUpperCase()} override`, text: `a ${seg.toUpperCase()} segment override is present` }));
  },
  plans: (s, f) => segmentPlans(s, f),
};

/** Drop the override; an FS/GS base is added to the base register (or the RIP-relative target) so the linear address stays. */
function segmentPlans(s: Subject, f: FeatureInstance): Plans {
  const l = s.layout!;
  const seg = f.name.slice(0, 2).toLowerCase();
  const byte = Number(Object.entries(SEGMENT_PREFIXES).find(([, n]) => n === seg)![0]);
  const bytes = withoutPrefix(l, byte);
  const expect = s.view.memoryOperand >= 0 ? expectSegmentDropped() : expectSameOperands();
  const change = `${f.name} dropped`;
  const segBase = seg === 'fs' ? s.before.fsBase : seg === 'gs' ? s.before.gsBase : 0n;
  if (segBase === 0n) return [{ change, bytes, expect }];
  const mem = s.view.operands[s.view.memoryOperand];
  if (mem?.kind === 'memory' && mem.memory.base === 'rip') {
    const ripTarget = mem.memory.ripTarget! + segBase;
    return [{ change: `${change}, RIP-relative target moved by the ${seg} base`, bytes, ripTarget, expect: expectSegmentDropped(segBase) }];
  }
  if (!s.isolated) return NEEDS_ISOLATION;
  const base = mem?.kind === 'memory' ? mem.memory.base : s.view.addressRegisters.has(6) ? 6 : undefined;
  if (typeof base !== 'number') return 'no base register to carry the segment base';
  if (isDataOperand(s, base)) return 'the base register is also a data operand';
  return [{ change: `${change}, ${reg(base)} += the ${seg} base`, bytes, regs: { [reg(base)]: (gprValue(s.before, base) + segBase) & M64 }, expect }];
}

// ── LOCK, REP ───────────────────────────────────────────────────────────────────────────────

export const LOCK_FEATURE: FeatureDefinition = {
  kind: 'encoding',
  instances: (s) => (s.view.hasLock && hasPrefix(s.layout, 0xf0) ? [{ name: 'LOCK', text: 'a LOCK prefix is present' }] : []),
  plans: (s) => [{ change: 'LOCK dropped', bytes: withoutPrefix(s.layout!, 0xf0), expect: expectSameOperands({ lock: false }) }],
};

export const REP_FEATURE: FeatureDefinition = {
  kind: 'encoding',
  instances: (s) => {
    const out: FeatureInstance[] = [];
    if (s.view.hasRep && hasPrefix(s.layout, 0xf3)) out.push({ name: 'REP', text: 'a REP/REPE prefix (F3) is present' });
    if (s.view.hasRepne && hasPrefix(s.layout, 0xf2)) out.push({ name: 'REPNE', text: 'a REPNE prefix (F2) is present' });
    return out;
  },
  plans: (s, f) => [{ change: `${f.name} dropped`, bytes: withoutPrefix(s.layout!, f.name === 'REP' ? 0xf3 : 0xf2), expect: expectSameOperands({ rep: false }) }],
};
