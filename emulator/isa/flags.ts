/** RFLAGS bit numbers as plain numbers (the emulator keeps RFLAGS in a 32-bit number: bits 22–63 are reserved zero). */
export const CF = 0x0001;
export const PF = 0x0004;
export const AF = 0x0010;
export const ZF = 0x0040;
export const SF = 0x0080;
export const TF = 0x0100;
export const IF = 0x0200;
export const DF = 0x0400;
export const OF = 0x0800;
export const IOPL = 0x3000;
export const NT = 0x4000;
export const RF = 0x10000;
export const VM = 0x20000;
export const AC = 0x40000;
export const VIF = 0x80000;
export const VIP = 0x100000;
export const ID = 0x200000;

/** The six status flags that lazy evaluation covers. */
export const ARITH = CF | PF | AF | ZF | SF | OF;
/** Bit 1 reads as 1 always. */
export const FIXED_ONE = 0x2;

const LETTERS: Record<string, number> = { o: OF, s: SF, z: ZF, a: AF, p: PF, c: CF, d: DF, i: IF, t: TF };

/** 'oszapc' → mask. The letters are the SDM's flag initials; order does not matter. */
export function flagMask(letters: string): number {
  let m = 0;
  for (const ch of letters) {
    const bit = LETTERS[ch];
    if (bit === undefined) throw new Error(`unknown flag letter '${ch}' in '${letters}'`);
    m |= bit;
  }
  return m;
}

/** Even-parity of a byte: PF is set when the low byte has an even number of 1 bits. */
export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let b = i;
  b ^= b >> 4;
  b ^= b >> 2;
  b ^= b >> 1;
  PARITY[i] = b & 1 ? 0 : PF;
}
