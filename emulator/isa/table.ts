import { ONE_BYTE_ROWS } from './rows-one-byte.js';
import { THREE_BYTE_ROWS, TWO_BYTE_ROWS } from './rows-0f.js';
import { SSE_ROWS } from './rows-sse.js';
import { SSE_INT_ROWS } from './rows-sse-int.js';
import { XSAVE_ROWS } from './rows-xsave.js';
import { VEX_ROWS } from './rows-vex.js';
import { SYSTEM_FEATURE_ROWS } from './rows-system-features.js';
import type { Feature, IsaRow, OpMap } from './row.js';

/** Every row of every opcode map, ids assigned in table order. */
export const ALL_ROWS: readonly IsaRow[] = [...ONE_BYTE_ROWS, ...TWO_BYTE_ROWS, ...SSE_ROWS, ...SSE_INT_ROWS, ...THREE_BYTE_ROWS, ...XSAVE_ROWS, ...VEX_ROWS, ...SYSTEM_FEATURE_ROWS].map((r, id) => {
  r.id = id;
  return r;
});

function index(map: OpMap, vex = false): IsaRow[][] {
  const byOpcode: IsaRow[][] = Array.from({ length: 256 }, () => []);
  for (const r of ALL_ROWS) if (r.map === map && r.vex === vex) byOpcode[r.opcode]!.push(r);
  return byOpcode;
}

/** Legacy-encoded rows by map and opcode. */
export const ROWS_BY_MAP: Record<OpMap, IsaRow[][]> = {
  one: index('one'),
  '0f': index('0f'),
  '0f38': index('0f38'),
  '0f3a': index('0f3a'),
};

/** VEX-encoded rows by VEX.mmmmm's map and opcode (every VEX instruction has a ModRM byte). */
export const VEX_ROWS_BY_MAP: Record<OpMap, IsaRow[][]> = {
  one: index('one', true),
  '0f': index('0f', true),
  '0f38': index('0f38', true),
  '0f3a': index('0f3a', true),
};

/** Does this opcode take a ModRM byte? (Same for all rows of one opcode.) */
export function opcodeHasModrm(map: OpMap, opcode: number): boolean {
  const rows = ROWS_BY_MAP[map][opcode]!;
  return rows.length > 0 ? rows[0]!.modrm : map === '0f38' || map === '0f3a';
}

/**
 * Pick the row for an opcode given the ModRM fields and the prefixes.
 * `repPrefix` is the last F2/F3 seen (0 if none); `opsize` whether 0x66 was seen; outside 64-bit
 * mode (`long64` false) rows valid only there are passed over. `vex`: the instruction had a VEX
 * prefix (its pp as `repPrefix`/`opsize`), so only VEX rows apply.
 */
export function selectRow(
  map: OpMap,
  opcode: number,
  mod: number,
  reg: number,
  rm: number,
  repPrefix: number,
  opsize: boolean,
  features: ReadonlySet<Feature>,
  long64 = true,
  vex = false,
): IsaRow | undefined {
  const rows = (vex ? VEX_ROWS_BY_MAP : ROWS_BY_MAP)[map][opcode]!;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (r.only64 && !long64) continue;
    if (r.ext !== undefined && r.ext !== reg) continue;
    if (r.mod !== undefined && (r.mod === 'reg') !== (mod === 3)) continue;
    if (r.rm !== undefined && r.rm !== rm) continue;
    const p = r.prefix;
    if (p !== undefined) {
      if (p === 'none') {
        if (repPrefix !== 0 || (opsize && r.noOperandSizePrefix)) continue;
      } else if (p === 0x66) {
        if (repPrefix !== 0 || !opsize) continue;
      } else if (p !== repPrefix) continue;
    }
    const feature = r.qemuFeature ?? r.feature;
    if (feature !== undefined && !features.has(feature)) continue;
    return r;
  }
  return undefined;
}

export interface RowSummary {
  readonly id: number;
  readonly map: OpMap;
  readonly opcode: number;
  readonly ext?: number;
  readonly mod?: 'reg' | 'mem';
  readonly rm?: number;
  readonly prefix?: number | 'none';
  readonly mnemonic: string;
  readonly operands: string;
  readonly flagsRead: number;
  readonly flagsWritten: number;
  /** Bits of RFLAGS a comparison must mask after this row (architecturally undefined). */
  readonly flagsUndefined: number;
  readonly lock: boolean;
  readonly rep: 'none' | 'rep' | 'repcc';
  readonly feature?: Feature;
  readonly privileged: boolean;
  readonly invalid64: boolean;
  readonly sizeRule: string;
}

/** The table as plain data, for the generator, the undefined-flag masks and the coverage report. */
export function listRows(): RowSummary[] {
  return ALL_ROWS.map((r) => ({
    id: r.id,
    map: r.map,
    opcode: r.opcode,
    ext: r.ext,
    mod: r.mod,
    rm: r.rm,
    prefix: r.prefix,
    mnemonic: r.mnemonic,
    operands: r.forms,
    flagsRead: r.flagsRead,
    flagsWritten: r.flagsWritten,
    flagsUndefined: r.flagsUndefined,
    lock: r.lock,
    rep: r.rep,
    feature: r.feature,
    privileged: r.privileged,
    invalid64: r.invalid64,
    sizeRule: r.sizeRule,
  }));
}

/** Undefined-flag mask for a row id (0 when all written flags are defined). */
export function undefinedFlagsOf(rowId: number): number {
  return ALL_ROWS[rowId]?.flagsUndefined ?? 0;
}
