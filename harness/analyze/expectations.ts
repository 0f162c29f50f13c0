/**
 * What a variant must decode to. Every flip states the instruction it means to build as a change
 * to the original's operands (iced's reading of both), and a variant whose bytes decode to
 * anything else is not run: it is `not-applicable`, with the reason.
 */
import type { InstructionView, MemoryOperandView, OperandView } from './instruction-view.js';

/** Why `variant` is not what the flip meant, or undefined when it is. */
export type Expectation = (original: InstructionView, variant: InstructionView) => string | undefined;

/** A canonical string for an operand: equal keys mean the same operand. */
export function operandKey(o: OperandView): string {
  switch (o.kind) {
    case 'register':
      return `r:${o.gpr ?? o.name}/${o.size}${/^[abcd]h$/.test(o.name) ? 'h' : ''}`;
    case 'immediate':
      return `i${o.size}${o.signExtended ? 'sx' : ''}:${o.value}`;
    case 'memory': {
      const m = o.memory;
      const where = m.base === 'rip' ? `rip→${m.ripTarget}` : `${m.base ?? '-'}+${m.index ?? '-'}*${m.scale}${m.disp >= 0n ? '+' : ''}${m.disp}`;
      return `m${o.size}[${m.segment ?? ''}:${where}]a${m.addressSize}`;
    }
    case 'other':
      return `o:${o.text}`;
  }
}

const keys = (v: InstructionView): string[] => v.operands.map(operandKey);

function describeKeys(v: InstructionView): string {
  return `${v.decoded.text} [${keys(v).join(', ')}]`;
}

/** The same mnemonic (or `mnemonic`) and exactly `operands` (each an alternative list of keys per operand). */
function matchOperands(variant: InstructionView, mnemonic: string, alternatives: ReadonlyArray<readonly string[]>): string | undefined {
  if (variant.mnemonic !== mnemonic) return `decodes as ${variant.decoded.text} (mnemonic ${variant.mnemonic}, meant ${mnemonic})`;
  const got = keys(variant);
  if (alternatives.some((a) => a.length === got.length && a.every((k, i) => k === got[i]))) return undefined;
  return `decodes as ${describeKeys(variant)}, meant ${alternatives.map((a) => `[${a.join(', ')}]`).join(' or ')}`;
}

/** Operands unchanged (a prefix that changes no operand dropped, a flag flipped, a sibling mnemonic). */
export function expectSameOperands(options: { mnemonic?: string; lock?: boolean; rep?: boolean } = {}): Expectation {
  return (original, variant) => {
    if (options.lock !== undefined && variant.hasLock !== options.lock) return `LOCK is ${variant.hasLock ? 'still' : 'not'} there: ${variant.decoded.text}`;
    if (options.rep !== undefined && (variant.hasRep || variant.hasRepne) !== options.rep) return `REP is ${options.rep ? 'missing' : 'still there'}: ${variant.decoded.text}`;
    return matchOperands(variant, options.mnemonic ?? original.mnemonic, [keys(original)]);
  };
}

/** Operand `index` replaced by `replacement`, everything else the same. */
export function expectOperandReplaced(index: number, replacement: OperandView, mnemonic?: string): Expectation {
  return (original, variant) => {
    const want = keys(original);
    want[index] = operandKey(replacement);
    return matchOperands(variant, mnemonic ?? original.mnemonic, [want]);
  };
}

/** Exactly one register field (a register operand, a base or an index) renamed from GPR `from` to `to`. */
export function expectRegisterRenamed(from: number, to: number): Expectation {
  return expectRegistersRenamed([[from, to]]);
}

type Slot = { readonly operand: number; readonly field: 'register' | 'base' | 'index'; readonly gpr: number };

function slotsOf(v: InstructionView): Slot[] {
  return v.operands.flatMap((o, operand): Slot[] => {
    if (o.kind === 'register' && o.gpr !== undefined) return [{ operand, field: 'register', gpr: o.gpr }];
    if (o.kind !== 'memory') return [];
    const out: Slot[] = [];
    if (typeof o.memory.base === 'number') out.push({ operand, field: 'base', gpr: o.memory.base });
    if (o.memory.index !== undefined) out.push({ operand, field: 'index', gpr: o.memory.index });
    return out;
  });
}

function renamed(o: OperandView, field: Slot['field'], to: number): OperandView {
  if (o.kind === 'register') return { ...o, gpr: to, name: '' };
  if (o.kind === 'memory') return { ...o, memory: field === 'base' ? { ...o.memory, base: to } : { ...o.memory, index: to } };
  return o;
}

/**
 * Each rename [from, to] applied to one register field that names `from` in the original (each
 * to a different field), nothing else changed: REX.B cleared with the register it freed renamed
 * away is [[9, 1], [1, 2]] (add r9, rcx → add rcx, rdx).
 */
export function expectRegistersRenamed(renames: ReadonlyArray<readonly [number, number]>): Expectation {
  return (original, variant) => {
    const slots = slotsOf(original);
    const alternatives: string[][] = [];
    const choose = (k: number, used: Slot[]): void => {
      if (k === renames.length) {
        const ops = [...original.operands];
        used.forEach((slot, i) => (ops[slot.operand] = renamed(ops[slot.operand]!, slot.field, renames[i]![1])));
        alternatives.push(ops.map(operandKey));
        return;
      }
      for (const slot of slots) if (slot.gpr === renames[k]![0] && !used.includes(slot)) choose(k + 1, [...used, slot]);
    };
    choose(0, []);
    if (alternatives.length === 0) return `the registers ${renames.map(([f]) => f).join(', ')} are not among the operands of ${original.decoded.text}`;
    return matchOperands(variant, original.mnemonic, alternatives);
  };
}

/**
 * Operand size narrowed (REX.W cleared: 8 → 4 bytes) or widened (0x66 dropped: 2 → 4): each
 * operand is unchanged or has size `from` → `to` (an immediate 16 → 32 keeps its value), and at
 * least one changed.
 */
export function expectResized(from: number, to: number): Expectation {
  return (original, variant) => {
    if (variant.mnemonic !== original.mnemonic) return `decodes as ${variant.decoded.text} (mnemonic ${variant.mnemonic})`;
    if (variant.operands.length !== original.operands.length) return `decodes as ${describeKeys(variant)}`;
    let changed = 0;
    for (let i = 0; i < original.operands.length; i++) {
      const o = original.operands[i]!;
      const v = variant.operands[i]!;
      if (operandKey(o) === operandKey(v)) continue;
      if (!('size' in o) || o.size !== from || operandKey(resized(o, to)) !== operandKey(v)) {
        return `operand ${i + 1} of ${describeKeys(variant)} is not ${operandKey(o)} resized to ${to} bytes`;
      }
      changed++;
    }
    return changed ? undefined : `no operand changed size: ${describeKeys(variant)}`;
  };
}

function resized(o: OperandView, size: number): OperandView {
  if (o.kind === 'register') return { ...o, size };
  if (o.kind === 'memory') return { ...o, size };
  if (o.kind === 'immediate' && !o.signExtended) return { ...o, size, value: BigInt.asUintN(size * 8, BigInt.asIntN(o.size * 8, o.value)) };
  return o;
}

/** Every memory operand now uses 64-bit addressing; registers, displacement and the rest unchanged. */
export function expectAddressSize64(): Expectation {
  return (original, variant) => {
    const want = original.operands.map((o) => {
      if (o.kind === 'memory') return operandKey({ ...o, memory: { ...o.memory, addressSize: 64 } });
      if (o.kind === 'other') return operandKey({ ...o, text: o.text.replace(/E(SI|DI)/g, 'R$1') });
      return operandKey(o);
    });
    return matchOperands(variant, original.mnemonic, [want]);
  };
}

/** The explicit memory operand without its segment override (a RIP-relative target moved by `ripShift`, the segment base). */
export function expectSegmentDropped(ripShift = 0n): Expectation {
  return (original, variant) => {
    const dropped = (m: MemoryOperandView): MemoryOperandView => ({ ...m, segment: undefined, ripTarget: m.ripTarget === undefined ? undefined : m.ripTarget + ripShift });
    const want = original.operands.map((o) => operandKey(o.kind === 'memory' ? { ...o, memory: dropped(o.memory) } : o));
    return matchOperands(variant, original.mnemonic, [want]);
  };
}

/** Operands 0 and 1 swapped (the opposite-direction row of the same mnemonic). */
export function expectSwapped(): Expectation {
  return (original, variant) => {
    const want = keys(original);
    [want[0], want[1]] = [want[1]!, want[0]!];
    return matchOperands(variant, original.mnemonic, [want]);
  };
}
