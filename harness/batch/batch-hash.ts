/**
 * The batch record's checksum of the compared memory (batch-layout.ts HASH_SEED: a = seed + Σ q,
 * b = Σ a, both mod 2^64), computed in TypeScript for the emulator's native batch: the guest
 * runner spends about half of its instructions per case on it, and BigInt arithmetic per qword
 * would cost about as much again. Here each sum is two 32-bit halves, the carry out of the low
 * half added to the high half by hand.
 */
import { HASH_SEED } from './batch-layout.js';
import type { HashRange } from './batch-image.js';

export const HASH_SEED_LO = Number(HASH_SEED & 0xffffffffn);
export const HASH_SEED_HI = Number(HASH_SEED >> 32n);
const SIGN = 0x80000000 | 0;

/**
 * The checksum of `ranges` read from `ram` (physical addresses, as a Uint32Array over the whole
 * RAM: every range is qword-aligned). Writes a's halves to out[0..1] and b's to out[2..3].
 */
export function hashRanges(ram: Uint32Array, ranges: readonly HashRange[], out: Uint32Array): void {
  // int32 arithmetic throughout (V8 keeps it in registers, untagged); a sum's low half carried
  // when it wrapped, i.e. when it is below an addend as unsigned: comparing x ^ 2^31 as signed
  // numbers compares x as unsigned
  let aLo = HASH_SEED_LO | 0;
  let aHi = HASH_SEED_HI | 0;
  let bLo = 0;
  let bHi = 0;
  for (let k = 0; k < ranges.length; k++) {
    const r = ranges[k]!;
    let i = r.addr >>> 2;
    const end = i + r.qwords * 2;
    for (; i < end; i += 2) {
      const a = (aLo + ram[i]!) | 0;
      aHi = (aHi + ram[i + 1]! + ((a ^ SIGN) < (aLo ^ SIGN) ? 1 : 0)) | 0;
      aLo = a;
      const b = (bLo + aLo) | 0;
      bHi = (bHi + aHi + ((b ^ SIGN) < (bLo ^ SIGN) ? 1 : 0)) | 0;
      bLo = b;
    }
  }
  out[0] = aLo;
  out[1] = aHi;
  out[2] = bLo;
  out[3] = bHi;
}
