import type { OpMap } from '../isa/row.js';

/** What a VEX prefix says, in the terms the rest of the decoder uses for legacy prefixes. */
export interface VexFields {
  /** REX equivalent (0x40 | W R X B); R, X, B and W are 0 outside 64-bit mode, where the SDM ignores them. */
  rex: number;
  /** VEX.pp = 01: the 66 of the opcode tables. */
  opsize: boolean;
  /** VEX.pp = 10 / 11: F3 / F2, else 0. */
  rep: number;
  map: OpMap;
  /** The register VEX.vvvv names (its one's complement); only 0–7 outside 64-bit mode. */
  vvvv: number;
  /** VEX.L. */
  l: number;
}

const MAPS: ReadonlyArray<OpMap | undefined> = [undefined, '0f', '0f38', '0f3a'];

/**
 * VEX prefix bytes (SDM Vol. 2 §2.3.5): `first` C4 or C5, `b1` the byte after it, `b2` the third
 * byte of a C4 prefix. Fills `out`; false for an opcode map VEX.mmmmm does not define (#UD).
 */
export function parseVex(first: number, b1: number, b2: number, long64: boolean, out: VexFields): boolean {
  let map: OpMap | undefined = '0f';
  let rex = 0x40 | ((~b1 >> 5) & 4); // R̄ is bit 7 in both forms
  let last = b1; // the byte holding W/vvvv/L/pp (C5: the only one)
  if (first === 0xc4) {
    map = MAPS[b1 & 0x1f];
    rex |= ((~b1 >> 5) & 2) | ((~b1 >> 5) & 1) | ((b2 >> 4) & 8); // X̄, B̄, W
    last = b2;
  }
  if (map === undefined) return false;
  out.rex = long64 ? rex : 0x40;
  out.map = map;
  out.vvvv = (~last >> 3) & (long64 ? 15 : 7);
  out.l = (last >> 2) & 1;
  const pp = last & 3;
  out.opsize = pp === 1;
  out.rep = pp === 2 ? 0xf3 : pp === 3 ? 0xf2 : 0;
  return true;
}
