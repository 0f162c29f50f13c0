/**
 * Which opcode-table row an encoding exercises (keystone may pick another row than the one the
 * generator aimed at: `add al, 5` is 04 ib, not 80 /0 ib). Used for row coverage.
 */
import { ALL_ROWS, ROWS_BY_MAP, selectRow } from '../../emulator/isa/table.js';
import type { Feature, OpMap } from '../../emulator/isa/row.js';
import { parseVex, type VexFields } from '../../emulator/decode/vex.js';

/**
 * Every feature: an encoding is the row it was generated from (F3 0F BC is TZCNT, generated only
 * when the model compared has BMI1; without it the generator never writes that prefix on BSF).
 */
const ALL_FEATURES: ReadonlySet<Feature> = new Set(ALL_ROWS.flatMap((r) => (r.feature ? [r.feature] : [])));

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
  // VEX (C4/C5; outside 64-bit mode only with bits 7:6 of the next byte set, else LES/LDS)
  if ((bytes[i] === 0xc4 || bytes[i] === 0xc5) && i + 2 < bytes.length && (long64 || (bytes[i + 1]! & 0xc0) === 0xc0)) {
    const fields: VexFields = { rex: 0, opsize: false, rep: 0, map: 'one', vvvv: 0, l: 0 };
    const three = bytes[i] === 0xc4;
    if (!parseVex(bytes[i]!, bytes[i + 1]!, bytes[i + 2]!, long64, fields)) return undefined;
    i += three ? 3 : 2;
    const modrm = bytes[i + 1] ?? 0;
    const row = selectRow(fields.map, bytes[i]!, modrm >> 6, (modrm >> 3) & 7, modrm & 7, fields.rep, fields.opsize, ALL_FEATURES, long64, true);
    return row?.id;
  }
  let map: OpMap = 'one';
  if (bytes[i] === 0x0f) {
    i++;
    if (bytes[i] === 0x38) { map = '0f38'; i++; } else if (bytes[i] === 0x3a) { map = '0f3a'; i++; } else map = '0f';
  }
  const opcode = bytes[i];
  if (opcode === undefined) return undefined;
  const modrm = ROWS_BY_MAP[map][opcode]![0]?.modrm ? bytes[i + 1] ?? 0 : 0;
  const row = selectRow(map, opcode, modrm >> 6, (modrm >> 3) & 7, modrm & 7, rep, opsize, ALL_FEATURES, long64);
  return row?.id;
}
