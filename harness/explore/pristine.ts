/**
 * What every candidate starts from besides its registers: the x87/SSE state (an FXRSTOR image)
 * and the contents of the data page. Values that make results visible: the x87 stack full of
 * distinct finite numbers (all tags valid, TOP 0), XMM registers and memory from an xorshift64
 * stream, so a load, a store or an arithmetic result differs from what was there before.
 */
import { xorshift64Next } from '../generate/xorshift64.js';

/** ST(0)…ST(7) as doubles (exact in 80-bit extended precision). */
export const X87_VALUES: readonly number[] = [1, -2.5, Math.PI, 0.1, 1e10, -1e-10, 65536, 0];
export const FCW = 0x37f;
export const MXCSR = 0x1f80;
/** Abridged tag word: every register valid. */
export const FTW_ABRIDGED = 0xff;

/** A double as an 80-bit extended value (sign, biased exponent, explicit integer bit). */
export function doubleToFloatx80(d: number): bigint {
  if (d === 0) return Object.is(d, -0) ? 1n << 79n : 0n;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, d);
  const bits = view.getBigUint64(0);
  const sign = bits >> 63n;
  const exp = (bits >> 52n) & 0x7ffn;
  const mant = bits & ((1n << 52n) - 1n);
  if (exp === 0n || exp === 0x7ffn) throw new RangeError(`${d} is not a normal double`);
  return (sign << 79n) | ((exp - 1023n + 16383n) << 64n) | (1n << 63n) | (mant << 11n);
}

function stream(seed: bigint, qwords: number): Uint8Array {
  const out = new Uint8Array(qwords * 8);
  const words = new Uint32Array(out.buffer);
  const s = Uint32Array.of(Number(seed & 0xffffffffn), Number(seed >> 32n));
  for (let i = 0; i < qwords; i++) {
    xorshift64Next(s);
    words[2 * i] = s[0]!;
    words[2 * i + 1] = s[1]!;
  }
  return out;
}

/** XMM0–XMM15, 16 bytes each. */
export function xmmPristine(): Uint8Array {
  return stream(0x5eed_0000_0000_0001n, 32);
}

/** The 512-byte FXRSTOR image. */
export function fxPristineImage(): Uint8Array {
  const b = new Uint8Array(512);
  const v = new DataView(b.buffer);
  v.setUint16(0, FCW, true);
  v.setUint16(2, 0, true);
  v.setUint16(4, FTW_ABRIDGED, true);
  v.setUint32(24, MXCSR, true);
  X87_VALUES.forEach((d, i) => {
    const x = doubleToFloatx80(d);
    v.setBigUint64(32 + 16 * i, x & 0xffffffffffffffffn, true);
    v.setUint16(40 + 16 * i, Number(x >> 64n), true);
  });
  b.set(xmmPristine(), 160);
  return b;
}

/** The data page (4 KiB). */
export function dataPristineImage(): Uint8Array {
  return stream(0x5eed_0000_0000_0002n, 512);
}
