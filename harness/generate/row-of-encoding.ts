/**
 * Which opcode-table row an encoding exercises (keystone may pick another row than the one the
 * generator aimed at: `add al, 5` is 04 ib, not 80 /0 ib). Used for row coverage.
 */
import { ROWS_BY_MAP, selectRow } from '../../emulator/isa/table.js';
import type { OpMap } from '../../emulator/isa/row.js';
import { FUZZED_FEATURES } from './row-catalog.js';

const LEGACY = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);

/** The row id of the instruction at the start of `bytes` (64-bit code, or 32-bit with `long64` false), or undefined when no row matches. */
export function rowOfEncoding(bytes: Uint8Array, long64 = true): number | undefined {
  let i = 0;
  let rep = 0;
  let opsize = false;
  while (i < bytes.length && LEGACY.has(bytes[i]!)) {
    if (bytes[i] === 0xf2 || bytes[i] === 0xf3) rep = bytes[i]!;
    if (bytes[i] === 0x66) opsize = true;
    i++;
  }
  if (long64 && i < bytes.length && (bytes[i]! & 0xf0) === 0x40) i++; // REX (INC/DEC outside 64-bit mode)
  let map: OpMap = 'one';
  if (bytes[i] === 0x0f) {
    i++;
    if (bytes[i] === 0x38) { map = '0f38'; i++; } else if (bytes[i] === 0x3a) { map = '0f3a'; i++; } else map = '0f';
  }
  const opcode = bytes[i];
  if (opcode === undefined) return undefined;
  const modrm = ROWS_BY_MAP[map][opcode]![0]?.modrm ? bytes[i + 1] ?? 0 : 0;
  // the rows of fuzzed features count too: they are generated only for a model that has them
  const row = selectRow(map, opcode, modrm >> 6, (modrm >> 3) & 7, modrm & 7, rep, opsize, FUZZED_FEATURES, long64);
  return row?.id;
}
