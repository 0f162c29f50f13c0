/**
 * Where the parts of one x86-64 instruction sit in its bytes (legacy prefixes, REX, opcode map
 * and byte, ModRM, SIB, displacement, immediate), so that a feature flip can change exactly one
 * of them. The hand parse is checked against iced-x86 (displacement and immediate offsets, total
 * length); an encoding the two disagree on, or one this parser does not handle (VEX/EVEX, a REX
 * that a later prefix cancels), has no layout and every encoding flip on it is not applicable.
 */
import { Decoder, DecoderOptions } from 'iced-x86';
import type { OpMap } from '../../emulator/isa/row.js';
import { opcodeHasModrm } from '../../emulator/isa/table.js';

export const LEGACY_PREFIXES: ReadonlySet<number> = new Set([0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65]);

/** Segment override prefixes by name. */
export const SEGMENT_PREFIXES: Readonly<Record<number, 'cs' | 'ss' | 'ds' | 'es' | 'fs' | 'gs'>> = {
  0x2e: 'cs', 0x36: 'ss', 0x3e: 'ds', 0x26: 'es', 0x64: 'fs', 0x65: 'gs',
};

export interface Field {
  readonly offset: number;
  readonly size: number;
}

export interface EncodingLayout {
  readonly bytes: Uint8Array;
  /** Offsets of the legacy prefixes, in order. */
  readonly prefixes: readonly number[];
  /** Offset of the REX byte (directly before the opcode), if any. */
  readonly rex?: number;
  readonly map: OpMap;
  /** Offset of the opcode byte proper (after 0F / 0F 38 / 0F 3A). */
  readonly opcode: number;
  /** Offset of the ModRM byte, if the opcode takes one. */
  readonly modrm?: number;
  readonly sib?: number;
  readonly disp?: Field;
  readonly imm?: Field;
  /** A second immediate (ENTER's Ib). */
  readonly imm2?: Field;
}

export interface ModrmFields {
  readonly mod: number;
  readonly reg: number;
  readonly rm: number;
}

/**
 * The layout of the single instruction `bytes` in code of width `bits` (REX exists in 64-bit code
 * only; 16-bit addressing has no SIB and 16-bit displacements), or undefined when it cannot be
 * parsed reliably.
 */
export function parseLayout(bytes: Uint8Array, bits: 16 | 32 | 64 = 64): EncodingLayout | undefined {
  let i = 0;
  const prefixes: number[] = [];
  let rex: number | undefined;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (LEGACY_PREFIXES.has(b)) {
      // A REX followed by a legacy prefix is ignored by the CPU (QEMU 7.2 keeps it): no layout.
      if (rex !== undefined) return undefined;
      prefixes.push(i++);
    } else if (bits === 64 && (b & 0xf0) === 0x40) {
      if (rex !== undefined) return undefined;
      rex = i++;
    } else break;
  }
  if (i >= bytes.length) return undefined;
  const first = bytes[i]!;
  if (first === 0xc4 || first === 0xc5 || first === 0x62) return undefined; // VEX / EVEX
  let map: OpMap = 'one';
  if (first === 0x0f) {
    const second = bytes[i + 1];
    if (second === 0x38 || second === 0x3a) {
      map = second === 0x38 ? '0f38' : '0f3a';
      i += 2;
    } else {
      if (second === 0x0f) return undefined; // 3DNow!
      map = '0f';
      i += 1;
    }
  }
  const opcode = i;
  if (opcode >= bytes.length) return undefined;
  let end = opcode + 1;
  let modrm: number | undefined;
  let sib: number | undefined;
  let disp: Field | undefined;
  if (opcodeHasModrm(map, bytes[opcode]!)) {
    modrm = end++;
    const m = bytes[modrm];
    if (m === undefined) return undefined;
    const mod = m >> 6;
    const rm = m & 7;
    const prefix67 = prefixes.some((p) => bytes[p] === 0x67);
    const addr16 = bits === 16 ? !prefix67 : bits === 32 && prefix67;
    if (mod !== 3 && rm === 4 && !addr16) sib = end++;
    const sibBase = sib !== undefined ? (bytes[sib] ?? 0) & 7 : -1;
    const dispSize = addr16
      ? (mod === 1 ? 1 : mod === 2 || (mod === 0 && rm === 6) ? 2 : 0)
      : mod === 1 ? 1 : mod === 2 ? 4 : mod === 0 && (rm === 5 || sibBase === 5) ? 4 : 0;
    if (dispSize) {
      disp = { offset: end, size: dispSize };
      end += dispSize;
    }
  }
  const iced = icedOffsets(bytes, bits);
  if (!iced) return undefined;
  // moffs forms (A0–A3) carry their address as iced's "displacement" without a ModRM
  if (modrm === undefined && iced.disp) disp = iced.disp;
  if ((disp?.offset ?? -1) !== (iced.disp?.offset ?? -1) || (disp?.size ?? 0) !== (iced.disp?.size ?? 0)) return undefined;
  for (const f of [iced.disp, iced.imm, iced.imm2]) if (f) end = Math.max(end, f.offset + f.size);
  if (end !== iced.length || end !== bytes.length) return undefined;
  return { bytes, prefixes, rex, map, opcode, modrm, sib, disp, imm: iced.imm, imm2: iced.imm2 };
}

function icedOffsets(bytes: Uint8Array, bits: 16 | 32 | 64): { length: number; disp?: Field; imm?: Field; imm2?: Field } | undefined {
  const decoder = new Decoder(bits, bytes, DecoderOptions.None);
  const ins = decoder.decode();
  const o = decoder.getConstantOffsets(ins);
  try {
    if (ins.isInvalid) return undefined;
    return {
      length: ins.length,
      disp: o.hasDisplacement ? { offset: o.displacementOffset, size: o.displacementSize } : undefined,
      imm: o.hasImmediate ? { offset: o.immediateOffset, size: o.immediateSize } : undefined,
      imm2: o.hasImmediate2 ? { offset: o.immediateOffset2, size: o.immediateSize2 } : undefined,
    };
  } finally {
    o.free();
    ins.free();
    decoder.free();
  }
}

export function rexOf(l: EncodingLayout): number {
  return l.rex === undefined ? 0 : l.bytes[l.rex]!;
}

export function modrmOf(l: EncodingLayout): ModrmFields | undefined {
  if (l.modrm === undefined) return undefined;
  const m = l.bytes[l.modrm]!;
  return { mod: m >> 6, reg: (m >> 3) & 7, rm: m & 7 };
}

/** `bytes` with `count` bytes at `offset` replaced by `insert`. */
export function splice(bytes: Uint8Array, offset: number, count: number, ...insert: number[]): Uint8Array {
  return Uint8Array.from([...bytes.subarray(0, offset), ...insert, ...bytes.subarray(offset + count)]);
}

/** `bytes` with the byte at `offset` set to `value`. */
export function withByte(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[offset] = value & 0xff;
  return out;
}

/** Little-endian signed value of a field. */
export function readSigned(bytes: Uint8Array, f: Field): bigint {
  let v = 0n;
  for (let k = f.size - 1; k >= 0; k--) v = (v << 8n) | BigInt(bytes[f.offset + k]!);
  return BigInt.asIntN(f.size * 8, v);
}

/** `bytes` with a field set to `value` (two's complement, little-endian). */
export function writeField(bytes: Uint8Array, f: Field, value: bigint): Uint8Array {
  const out = Uint8Array.from(bytes);
  let v = BigInt.asUintN(f.size * 8, value);
  for (let k = 0; k < f.size; k++) {
    out[f.offset + k] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}
