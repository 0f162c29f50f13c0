import { z } from 'zod';

/** Unsigned integers of up to `bits` bits: `bigint` in memory, `"0x…"` strings on disk. */
export function hexCodec(bits: number) {
  const max = (1n << BigInt(bits)) - 1n;
  const digits = Math.ceil(bits / 4);
  return z.codec(
    z.string().regex(new RegExp(`^0x[0-9a-fA-F]{1,${digits}}$`), `expected a "0x…" hex string of at most ${bits} bits`),
    z.bigint().min(0n).max(max),
    {
      decode: (s) => BigInt(s),
      encode: (v) => `0x${v.toString(16)}`,
    },
  );
}

export const hex64 = hexCodec(64);
export const hex128 = hexCodec(128);
export const hex80 = hexCodec(80);

/**
 * Byte strings as lowercase hex on disk, `Uint8Array` in memory. Checked as "hex digits, even
 * count" rather than with `^([0-9a-f]{2})*$`: V8 backtracks through that group once per byte,
 * and a region of a few MB overflowed the stack.
 */
export const hexBytes = z.codec(
  z.string().refine((s) => s.length % 2 === 0 && /^[0-9a-fA-F]*$/.test(s), 'expected an even-length hex byte string'),
  z.custom<Uint8Array>((v) => v instanceof Uint8Array, "expected a Uint8Array"),
  {
    decode: (s) => Uint8Array.from(Buffer.from(s, 'hex')),
    encode: (b) => Buffer.from(b).toString('hex'),
  },
);

export const u16 = z.number().int().min(0).max(0xffff);
export const u32 = z.number().int().min(0).max(0xffffffff);

export function toHex(v: bigint | number, width = 16): string {
  return `0x${v.toString(16).padStart(width, '0')}`;
}
