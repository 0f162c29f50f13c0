/** Hand-encoded code and cases for the minimizer's tests (no assembler needed). */
import { CASE_FORMAT, type Case } from '../../corpus/case-schema.js';
import type { GprName, MemoryRegion } from '../../contracts/machine-state.js';
import { LAYOUT } from '../../contracts/test-machine.js';

/**
 * One instruction: hex bytes, and for a RIP-relative operand the absolute address it should
 * reach plus how many immediate bytes follow the disp32 (the disp32 in `hex` is a placeholder).
 */
export type Piece = string | { readonly hex: string; readonly ripTo: bigint; readonly immBytes?: number };

/** Lay pieces out from `base`, filling in RIP-relative displacements. */
export function encode(pieces: readonly Piece[], base: bigint = LAYOUT.code): Uint8Array {
  const out: number[] = [];
  for (const piece of pieces) {
    const bytes = Buffer.from(typeof piece === 'string' ? piece : piece.hex, 'hex');
    if (typeof piece !== 'string') {
      const nextIp = base + BigInt(out.length + bytes.length);
      bytes.writeInt32LE(Number(piece.ripTo - nextIp), bytes.length - 4 - (piece.immBytes ?? 0));
    }
    out.push(...bytes);
  }
  return Uint8Array.from(out);
}

export function makeCase(options: {
  code: Uint8Array;
  regs?: Partial<Record<GprName, bigint>>;
  rflags?: bigint;
  memory?: MemoryRegion[];
}): Case {
  return {
    format: CASE_FORMAT,
    id: 'test',
    code: options.code,
    regs: options.regs ?? {},
    rflags: options.rflags,
    memory: options.memory ?? [],
    maxSteps: 1000,
    provenance: { generator: 'test' },
  };
}

/** Bytes of a little-endian qword. */
export function qword(value: bigint): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(value);
  return Uint8Array.from(b);
}

export function readQword(bytes: Uint8Array, offset = 0): bigint {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readBigUInt64LE(offset);
}

export const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
