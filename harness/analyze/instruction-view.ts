/**
 * One decoded instruction as plain data for the experiments: its operands (registers by GPR
 * number, memory operands with base/index/scale/displacement, immediates with their kind), the
 * registers it uses and how, the flags it reads, and its opcode-table row. Built from iced-x86,
 * the independent decoder, so that a variant is checked against iced's reading of its bytes and
 * not against our own emulator's decoder.
 */
import { ConditionCode, Decoder, DecoderOptions, Instruction, InstructionInfoFactory, MemorySizeExt, OpAccess, OpKind, Register, RegisterExt } from 'iced-x86';
import type { IsaRow } from '../../emulator/isa/row.js';
import { ALL_ROWS } from '../../emulator/isa/table.js';
import { describe as describeIced, type DecodedInstruction } from '../asm/decode.js';
import { rowOfEncoding } from '../generate/row-of-encoding.js';
import { LEGACY_PREFIXES } from './encoding.js';
import type { CodeBits } from '../minimize/instructions.js';

export type SegmentName = 'cs' | 'ss' | 'ds' | 'es' | 'fs' | 'gs';

export interface MemoryOperandView {
  /** GPR number 0–15 of the base, or 'rip'. */
  readonly base?: number | 'rip';
  readonly index?: number;
  readonly scale: number;
  /** The displacement as encoded, sign-extended (for RIP-relative operands too). */
  readonly disp: bigint;
  /** RIP-relative: the address the operand names (before the segment base). */
  readonly ripTarget?: bigint;
  /** An explicit segment override prefix that applies to it. */
  readonly segment?: SegmentName;
  readonly addressSize: 16 | 32 | 64;
}

export type OperandView =
  | { readonly kind: 'register'; readonly name: string; readonly gpr?: number; readonly size: number }
  | { readonly kind: 'memory'; readonly size: number; readonly memory: MemoryOperandView }
  | { readonly kind: 'immediate'; readonly value: bigint; readonly size: number; readonly signExtended: boolean }
  | { readonly kind: 'other'; readonly text: string };

export interface RegisterUse {
  readonly gpr: number;
  readonly read: boolean;
  readonly written: boolean;
}

export interface InstructionView {
  readonly decoded: DecodedInstruction;
  /** The code width it was decoded in (the case's mode). */
  readonly bits: CodeBits;
  /** Upper-case mnemonic, e.g. `ADD`. */
  readonly mnemonic: string;
  readonly operands: readonly OperandView[];
  /** Index in `operands` of the explicit memory operand, or -1. */
  readonly memoryOperand: number;
  /** Per operand: does the instruction read it (a source, or a destination it also reads)? */
  readonly operandRead: readonly boolean[];
  /** Every GPR the instruction touches (explicit and implicit), by number. */
  readonly registers: readonly RegisterUse[];
  /** GPRs used to form an address (explicit or implicit memory operand: base, index, RSP, RSI…). */
  readonly addressRegisters: ReadonlySet<number>;
  readonly hasLock: boolean;
  /** Jcc, CMOVcc, SETcc, LOOPcc: the flags it reads are a condition, not an operand. */
  readonly conditional: boolean;
  readonly hasRep: boolean;
  readonly hasRepne: boolean;
  /** Our opcode table's row for it, when it has one. */
  readonly row?: IsaRow;
}

const SEGMENTS: ReadonlyMap<Register, SegmentName> = new Map([
  [Register.CS, 'cs'], [Register.SS, 'ss'], [Register.DS, 'ds'], [Register.ES, 'es'], [Register.FS, 'fs'], [Register.GS, 'gs'],
]);

/** GPR number 0–15 of a general register of any width, or undefined (AH–BH count as RAX–RBX). */
function gprNumber(r: Register): number | undefined {
  if (r === Register.None || !RegisterExt.isGPR(r)) return undefined;
  return RegisterExt.number(RegisterExt.fullRegister(r));
}

const SIGN_EXTENDED = new Set([OpKind.Immediate8to16, OpKind.Immediate8to32, OpKind.Immediate8to64, OpKind.Immediate32to64]);
const IMMEDIATE_SIZE: ReadonlyMap<OpKind, number> = new Map([
  [OpKind.Immediate8, 1], [OpKind.Immediate8_2nd, 1], [OpKind.Immediate16, 2], [OpKind.Immediate32, 4], [OpKind.Immediate64, 8],
  [OpKind.Immediate8to16, 1], [OpKind.Immediate8to32, 1], [OpKind.Immediate8to64, 1], [OpKind.Immediate32to64, 4],
]);

let infoFactory: InstructionInfoFactory | undefined;
const READS: readonly OpAccess[] = [OpAccess.Read, OpAccess.CondRead, OpAccess.ReadWrite, OpAccess.ReadCondWrite];

/** The view of the single instruction at the start of `bytes`, placed at `address`; undefined when invalid. */
export function viewInstruction(bytes: Uint8Array, address: bigint, bits: CodeBits = 64): InstructionView | undefined {
  const decoder = new Decoder(bits, bytes, DecoderOptions.None);
  const ins = new Instruction();
  try {
    decoder.ip = address;
    decoder.decodeOut(ins);
    if (ins.isInvalid) return undefined;
    const decoded = describeIced(ins, bytes, 0);
    const operands = Array.from({ length: ins.opCount }, (_, i) => operandOf(ins, i, decoded.bytes, bits));
    const info = (infoFactory ??= new InstructionInfoFactory()).info(ins);
    const registers = new Map<number, { read: boolean; written: boolean }>();
    const addressRegisters = new Set<number>();
    let operandRead: boolean[];
    try {
      operandRead = operands.map((_, i) => READS.includes(info.opAccess(i)));
      for (const u of info.usedRegisters()) {
        const n = gprNumber(u.register as Register);
        const access = u.access as OpAccess;
        u.free();
        if (n === undefined) continue;
        const r = registers.get(n) ?? { read: false, written: false };
        r.read ||= READS.includes(access);
        r.written ||= [OpAccess.Write, OpAccess.CondWrite, OpAccess.ReadWrite, OpAccess.ReadCondWrite].includes(access);
        registers.set(n, r);
      }
      for (const m of info.usedMemory()) {
        for (const reg of [m.base as Register, m.index as Register]) {
          const n = gprNumber(reg);
          if (n !== undefined) addressRegisters.add(n);
        }
        m.free();
      }
    } finally {
      info.free();
    }
    const rowId = rowOfEncoding(bytes.subarray(0, ins.length), bits === 64);
    return {
      decoded,
      bits,
      mnemonic: decoded.mnemonic.toUpperCase(),
      operands,
      memoryOperand: operands.findIndex((o) => o.kind === 'memory'),
      operandRead,
      registers: [...registers].map(([gpr, r]) => ({ gpr, ...r })),
      addressRegisters,
      hasLock: ins.hasLockPrefix,
      conditional: ins.conditionCode !== ConditionCode.None,
      hasRep: ins.hasRepPrefix,
      hasRepne: ins.hasRepnePrefix,
      row: rowId === undefined ? undefined : ALL_ROWS[rowId],
    };
  } finally {
    ins.free();
    decoder.free();
  }
}

function operandOf(ins: Instruction, i: number, bytes: Uint8Array, bits: CodeBits): OperandView {
  const kind = ins.opKind(i);
  if (kind === OpKind.Register) {
    const r = ins.opRegister(i);
    return { kind: 'register', name: (Register[r] ?? String(r)).toLowerCase(), gpr: gprNumber(r), size: RegisterExt.size(r) };
  }
  if (kind === OpKind.Memory) {
    const addressSize = addressSizeOf(bits, hasAddressSizePrefix(bytes));
    const ripRelative = ins.isIpRelMemoryOperand;
    const segment = ins.hasSegmentPrefix ? SEGMENTS.get(ins.segmentPrefix) : undefined;
    const dispBits = addressSize;
    const memory: MemoryOperandView = ripRelative
      ? { base: 'rip', scale: 1, disp: ripDisplacement(ins), ripTarget: ins.ipRelMemoryAddress, segment, addressSize }
      : {
          base: gprNumber(ins.memoryBase),
          index: gprNumber(ins.memoryIndex),
          scale: ins.memoryIndex === Register.None ? 1 : ins.memoryIndexScale,
          disp: BigInt.asIntN(dispBits, ins.memoryDisplacement),
          segment,
          addressSize,
        };
    return { kind: 'memory', size: MemorySizeExt.size(ins.memorySize), memory };
  }
  const size = IMMEDIATE_SIZE.get(kind);
  if (size !== undefined) {
    const signExtended = SIGN_EXTENDED.has(kind);
    const raw = ins.immediate(i);
    // sign-extended kinds are read as the signed value they stand for
    const value = signExtended ? BigInt.asIntN(size * 8, raw) : BigInt.asUintN(size * 8, raw);
    return { kind: 'immediate', value, size, signExtended };
  }
  return { kind: 'other', text: OpKind[kind] ?? String(kind) };
}

/** The address size of code of width `bits`, with or without 0x67 (SDM Vol. 1 §3.6, Table 3-4). */
export function addressSizeOf(bits: CodeBits, prefix67: boolean): 16 | 32 | 64 {
  if (bits === 64) return prefix67 ? 32 : 64;
  if (bits === 32) return prefix67 ? 16 : 32;
  return prefix67 ? 32 : 16;
}

function hasAddressSizePrefix(bytes: Uint8Array): boolean {
  for (const b of bytes) {
    if (b === 0x67) return true;
    if (!LEGACY_PREFIXES.has(b)) return false;
  }
  return false;
}

/** A RIP-relative displacement as encoded (iced reports the absolute target instead). */
function ripDisplacement(ins: Instruction): bigint {
  return BigInt.asIntN(64, ins.ipRelMemoryAddress - ins.nextIP);
}

/** Is GPR `n` used by the instruction in any way? */
export function usesRegister(v: InstructionView, n: number): boolean {
  return v.registers.some((r) => r.gpr === n) || v.addressRegisters.has(n);
}

/** Operand size of the instruction in bytes: the first register or memory operand's. */
export function operandSize(v: InstructionView): number | undefined {
  for (const o of v.operands) if (o.kind === 'register' || o.kind === 'memory') return o.size;
  return undefined;
}
