/**
 * xorshift64 (shifts 13, 7, 17), the scratch-memory fill of generated programs. One step per
 * qword, the state itself being the qword: the batch runner (harness/batch) regenerates such a
 * run in the guest from the qword before it instead of receiving it over gdb, where every byte
 * costs two hex digits that QEMU's stub decodes one at a time.
 *
 * On 32-bit halves (no BigInt in the loop): state in s[0] (low) and s[1] (high).
 */
export function xorshift64Next(s: Uint32Array): void {
  let lo = s[0]!;
  let hi = s[1]!;
  // x ^= x << 13 (the high half first: it needs the old low half)
  hi = (hi ^ ((hi << 13) | (lo >>> 19))) >>> 0;
  lo = (lo ^ (lo << 13)) >>> 0;
  // x ^= x >> 7 (the low half first: it needs the old high half)
  lo = (lo ^ ((lo >>> 7) | (hi << 25))) >>> 0;
  hi = (hi ^ (hi >>> 7)) >>> 0;
  // x ^= x << 17
  hi = (hi ^ ((hi << 17) | (lo >>> 15))) >>> 0;
  lo = (lo ^ (lo << 17)) >>> 0;
  s[0] = lo;
  s[1] = hi;
}

/** The same step on a BigInt, as the batch runner spells it in the guest (xorshift64.spec.ts checks the two agree). */
export function xorshift64NextBig(x: bigint): bigint {
  x ^= (x << 13n) & 0xffffffffffffffffn;
  x ^= x >> 7n;
  x ^= (x << 17n) & 0xffffffffffffffffn;
  return x;
}
