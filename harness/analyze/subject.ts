/**
 * What a feature looks at: the divergent instruction (iced's view and its byte layout), the
 * reference's state just before it, and — when the analysis has a 1-instruction case — the
 * case's memory, so that a flip can keep the operand values and the effective address the same
 * while it changes the encoding ("set a base register so the address stays the same").
 */
import type { Case } from '../../corpus/case-schema.js';
import { GPR_BY_ENCODING, type MachineState } from '../../contracts/machine-state.js';
import { LAYOUT } from '../../contracts/test-machine.js';
import { comparedRegions } from '../lockstep.js';
import { parseLayout, type EncodingLayout } from './encoding.js';
import { usesRegister, viewInstruction, type InstructionView, type MemoryOperandView } from './instruction-view.js';
import type { CodeBits } from '../minimize/instructions.js';

export interface Subject {
  readonly view: InstructionView;
  /** Undefined when the encoding could not be parsed (every encoding flip is then not applicable). */
  readonly layout?: EncodingLayout;
  /** The reference's state before the instruction. */
  readonly before: MachineState;
  /**
   * The 1-instruction case the experiments run on, whose initial state is `before`: flips may
   * then edit registers, flags and memory. Undefined when the divergence could not be isolated
   * (the flips that need a state edit are then not applicable).
   */
  readonly isolated?: Case;
}

/** A subject from an instruction's bytes and address (a report's divergent instruction). */
export function subjectOf(bytes: Uint8Array, address: bigint, before: MachineState, isolated?: Case, bits: CodeBits = 64): Subject | undefined {
  const view = viewInstruction(bytes, address, bits);
  if (!view) return undefined;
  return { view, layout: parseLayout(view.decoded.bytes, bits), before, isolated };
}

const M64 = (1n << 64n) - 1n;

export function gprValue(s: MachineState, n: number): bigint {
  return s.gpr[GPR_BY_ENCODING[n]!];
}

/** Linear address of a memory operand in `state` (segment base included), or undefined. */
export function effectiveAddress(m: MemoryOperandView, state: MachineState): bigint | undefined {
  let ea: bigint;
  if (m.base === 'rip') {
    if (m.ripTarget === undefined) return undefined;
    ea = m.ripTarget;
  } else {
    ea = m.disp;
    if (m.base !== undefined) ea += gprValue(state, m.base);
    if (m.index !== undefined) ea += gprValue(state, m.index) * BigInt(m.scale);
    ea &= m.addressSize === 32 ? 0xffffffffn : m.addressSize === 16 ? 0xffffn : M64;
  }
  // 16-bit addressing here is real16's: the segment's base is its selector · 16 (SS for BP/SP bases)
  if (m.addressSize === 16 || state.cr0 % 2n === 0n) {
    const name = m.segment ?? (m.base === 4 || m.base === 5 ? 'ss' : 'ds');
    return ea + BigInt(state.seg[name].selector) * 16n;
  }
  if (m.segment === 'fs') ea += state.fsBase;
  if (m.segment === 'gs') ea += state.gsBase;
  return ea & M64;
}

/**
 * `length` bytes of the case's initial memory at `addr`: from its memory regions (later ones
 * win), zeros where only a compared region covers them; undefined where neither does.
 */
export function caseMemoryAt(c: Case, addr: bigint, length: number): Uint8Array | undefined {
  const out = new Uint8Array(length);
  for (let k = 0; k < length; k++) {
    const a = addr + BigInt(k);
    let found = comparedRegions(c).some((r) => a >= r.addr && a < r.addr + BigInt(r.length));
    for (const m of c.memory) {
      if (a >= m.addr && a < m.addr + BigInt(m.bytes.length)) {
        out[k] = m.bytes[Number(a - m.addr)]!;
        found = true;
      }
    }
    if (!found) return undefined;
  }
  return out;
}

export function littleEndian(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let k = bytes.length - 1; k >= 0; k--) v = (v << 8n) | BigInt(bytes[k]!);
  return v;
}

export function toLittleEndian(value: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let v = BigInt.asUintN(length * 8, value);
  for (let k = 0; k < length; k++) {
    out[k] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/**
 * A 16-byte-aligned spot of `length` bytes in the data page that no memory region or compared
 * region of `c` touches (a flip that turns a register operand into memory puts it there).
 */
export function scratchAddress(c: Case, length: number): bigint | undefined {
  const taken = [...c.memory.map((m) => ({ addr: m.addr, length: m.bytes.length })), ...comparedRegions(c)];
  for (let a = LAYOUT.data + BigInt(LAYOUT.dataSize) - 0x40n; a >= LAYOUT.data; a -= 0x40n) {
    const end = a + BigInt(length);
    if (!taken.some((r) => a < r.addr + BigInt(r.length) && r.addr < end)) return a;
  }
  return undefined;
}

/**
 * A GPR the instruction does not use, for a flip that needs a register of its own: one of r8–r15
 * when `extended` (so that a REX.B the encoding had stays set), else of RAX–RDI. Without a REX
 * prefix only RAX–RDI can be named (and, for byte operands, only AL–BL: 4–7 would be AH–BH).
 */
export function freeRegister(view: InstructionView, options: { rexAllowed: boolean; byteOperand: boolean; extended?: boolean }): number | undefined {
  const order = options.extended ? [9, 10, 11, 8, 14, 15, 13, 12] : [1, 2, 3, 0, 6, 7, 5];
  return order.find((n) => {
    if (usesRegister(view, n)) return false;
    if (n >= 8 && !options.rexAllowed) return false;
    if (options.byteOperand && !options.rexAllowed && n >= 4) return false;
    return true;
  });
}
