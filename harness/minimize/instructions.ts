/**
 * A case's code as a list of instructions that can be dropped or rewritten one at a time and
 * laid out again. Moving an instruction changes what its IP-relative fields mean, so each
 * instruction remembers the absolute address its RIP-relative operand reads and the instruction
 * its relative branch lands on, and `layoutCode` re-aims both at the new addresses.
 */
import { Decoder, DecoderOptions, Instruction, OpKind } from 'iced-x86';
import { caseCodeAddress, caseCodeBits, type Case } from '../../corpus/case-schema.js';
import { LAYOUT } from '../../contracts/test-machine.js';
import { describe } from '../asm/decode.js';

/** A relative field inside an instruction's bytes that must be rewritten when the instruction moves. */
export interface RelativeField {
  /** Absolute address the field points at (the RIP-relative operand, or the branch target). */
  readonly target: bigint;
  /** Byte offset of the field inside the instruction. */
  readonly offset: number;
  /** Field width in bytes (RIP-relative displacements are always 4; branches 1, 2 or 4). */
  readonly size: 1 | 2 | 4;
}

export interface CodeInstruction {
  /** Where the instruction sat in the code it was decoded from. */
  readonly address: bigint;
  readonly bytes: Uint8Array;
  /** nasm-like text as decoded at `address`. */
  readonly text: string;
  readonly mnemonic: string;
  readonly invalid: boolean;
  /** The code width it was decoded in (the case's mode: 64, 32 or 16). */
  readonly bits: CodeBits;
  /** RIP-relative memory operand (disp32) and where it reads or writes. */
  readonly ripRelative?: RelativeField;
  /** Relative near branch (jmp/jcc/call/loop/jrcxz) and where it goes. */
  readonly branch?: RelativeField;
}

const NEAR_BRANCH_KINDS = new Set<OpKind>([OpKind.NearBranch16, OpKind.NearBranch32, OpKind.NearBranch64]);

export type CodeBits = 16 | 32 | 64;

/** Addresses inside the code page starting at `start`: branch targets there follow the instructions they hit. */
function inCodePage(addr: bigint, start: bigint): boolean {
  return addr >= start && addr < start + BigInt(LAYOUT.codeSize);
}

/** A case's code as instructions, decoded in the case's mode at its first RIP. */
export function caseInstructions(c: Pick<Case, 'code' | 'mode'>): CodeInstruction[] {
  return splitCode(c.code, caseCodeAddress(c), caseCodeBits(c));
}

/** Decode `code` placed at `address` into instructions (undecodable bytes become 1-byte invalid entries). */
export function splitCode(code: Uint8Array, address: bigint = LAYOUT.code, bits: CodeBits = 64): CodeInstruction[] {
  const out: CodeInstruction[] = [];
  const decoder = new Decoder(bits, code, DecoderOptions.None);
  const ins = new Instruction();
  try {
    decoder.ip = address;
    let offset = 0;
    while (decoder.canDecode) {
      decoder.decodeOut(ins);
      out.push(fromIced(decoder, ins, code, offset, bits));
      offset += ins.length;
    }
  } finally {
    ins.free();
    decoder.free();
  }
  return out;
}

function fromIced(decoder: Decoder, ins: Instruction, code: Uint8Array, offset: number, bits: CodeBits): CodeInstruction {
  const d = describe(ins, code, offset);
  const base = { address: ins.ip, bytes: d.bytes, text: d.text, mnemonic: d.mnemonic, invalid: d.invalid, bits };
  if (d.invalid) return base;
  const offsets = decoder.getConstantOffsets(ins);
  try {
    if (ins.isIpRelMemoryOperand && offsets.hasDisplacement && offsets.displacementSize === 4) {
      return { ...base, ripRelative: { target: ins.ipRelMemoryAddress, offset: offsets.displacementOffset, size: 4 } };
    }
    const size = offsets.immediateSize;
    if (NEAR_BRANCH_KINDS.has(ins.op0Kind) && offsets.hasImmediate && (size === 1 || size === 2 || size === 4)) {
      return { ...base, branch: { target: ins.nearBranchTarget, offset: offsets.immediateOffset, size } };
    }
    return base;
  } finally {
    offsets.free();
  }
}

/** Decode one instruction's bytes on their own; undefined unless they form exactly one valid instruction. */
export function decodeSingle(bytes: Uint8Array, address: bigint, bits: CodeBits = 64): CodeInstruction | undefined {
  const list = splitCode(bytes, address, bits);
  return list.length === 1 && !list[0]!.invalid && list[0]!.bytes.length === bytes.length ? list[0] : undefined;
}

/**
 * `old` with new bytes (a prefix dropped, an operand rewritten…). The relative fields keep the
 * absolute targets of `old`: the new bytes are decoded at `old.address`, where their own
 * displacement may point elsewhere (the length changed), and layout re-aims them anyway.
 */
export function rewriteInstruction(old: CodeInstruction, bytes: Uint8Array): CodeInstruction | undefined {
  const fresh = decodeSingle(bytes, old.address, old.bits);
  if (!fresh) return undefined;
  const ripRelative = fresh.ripRelative && old.ripRelative ? { ...fresh.ripRelative, target: old.ripRelative.target } : fresh.ripRelative;
  const branch = fresh.branch && old.branch ? { ...fresh.branch, target: old.branch.target } : fresh.branch;
  return { ...fresh, ripRelative, branch };
}

function writeSigned(bytes: Uint8Array, field: RelativeField, value: bigint): boolean {
  const bits = BigInt(field.size * 8);
  const min = -(1n << (bits - 1n));
  if (value < min || value >= -min) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (field.size === 1) view.setInt8(field.offset, Number(value));
  else if (field.size === 2) view.setInt16(field.offset, Number(value), true);
  else view.setInt32(field.offset, Number(value), true);
  return true;
}

/**
 * Lay `instructions` out back to back from `address`, re-aiming relative fields:
 * RIP-relative operands keep their absolute target; a branch into the code follows the
 * instruction it hit (or, if that one was dropped, the next kept one, or the end of the code).
 * Undefined when a displacement no longer fits its field.
 */
export function layoutCode(instructions: readonly CodeInstruction[], address: bigint = LAYOUT.code): Uint8Array | undefined {
  const newAddress: bigint[] = [];
  let at = address;
  for (const ins of instructions) {
    newAddress.push(at);
    at += BigInt(ins.bytes.length);
  }
  const end = at;
  const relocate = (target: bigint): bigint => {
    if (!inCodePage(target, address)) return target;
    const i = instructions.findIndex((ins) => ins.address >= target);
    return i < 0 ? end : newAddress[i]!;
  };
  const out = new Uint8Array(Number(end - address));
  for (let i = 0; i < instructions.length; i++) {
    const ins = instructions[i]!;
    const bytes = Uint8Array.from(ins.bytes);
    const nextIp = newAddress[i]! + BigInt(bytes.length);
    if (ins.ripRelative && !writeSigned(bytes, ins.ripRelative, ins.ripRelative.target - nextIp)) return undefined;
    if (ins.branch && !writeSigned(bytes, ins.branch, relocate(ins.branch.target) - nextIp)) return undefined;
    out.set(bytes, Number(newAddress[i]! - address));
  }
  return out;
}

/** One line of disassembly per instruction (for the case's informational `asm`). */
export function disassemble(code: Uint8Array, address: bigint = LAYOUT.code, bits: CodeBits = 64): string[] {
  return splitCode(code, address, bits).map((i) => i.text);
}

/** `c` running exactly `instructions` (laid out at the code address); undefined if they cannot be laid out. */
export function withInstructions(c: Case, instructions: readonly CodeInstruction[]): Case | undefined {
  const code = layoutCode(instructions, caseCodeAddress(c));
  return code ? withCode(c, code) : undefined;
}

export function withCode(c: Case, code: Uint8Array): Case {
  return { ...c, code, asm: disassemble(code, caseCodeAddress(c), caseCodeBits(c)) };
}

/** Index of the instruction that contains `rip`, or -1. */
export function instructionIndexAt(instructions: readonly CodeInstruction[], rip: bigint): number {
  return instructions.findIndex((ins) => rip >= ins.address && rip < ins.address + BigInt(ins.bytes.length));
}

/** `c` cut to end right after the instruction at `rip` (what follows the first divergence cannot matter). */
export function truncateAfter(c: Case, rip: bigint): Case | undefined {
  const instructions = caseInstructions(c);
  const i = instructionIndexAt(instructions, rip);
  if (i < 0 || i === instructions.length - 1) return undefined;
  return withInstructions(c, instructions.slice(0, i + 1));
}
