/**
 * The system tables a guest-side runner installs for itself, shared by the batch runner
 * (batch-layout.ts) and the explorer's runner (explore/explore-layout.ts): one 16-byte stub per
 * vector that pushes a uniform frame and jumps to the runner's exception label, and a 64-bit IDT
 * of DPL 0 interrupt gates on IST 1 pointing at those stubs.
 */
import { ERROR_CODE_VECTORS, SELECTORS } from '../../contracts/test-machine.js';

export { ERROR_CODE_VECTORS };

/** Little-endian store of `bytes` (8, 4 or 2) bytes of `value` at `offset`. */
export function put(buf: Uint8Array, offset: number, value: bigint, bytes = 8): void {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (bytes === 8) view.setBigUint64(offset, value, true);
  else if (bytes === 4) view.setUint32(offset, Number(value), true);
  else view.setUint16(offset, Number(value), true);
}

/** Per vector, at `stubsAt + 16·v`: [push 0 when the CPU pushes no error code] push vector; jmp exception. */
export function exceptionStubs(stubsAt: bigint, exception: bigint): Uint8Array {
  const b = new Uint8Array(256 * 16).fill(0xf4);
  for (let v = 0; v < 256; v++) {
    let o = v * 16;
    if (!ERROR_CODE_VECTORS.has(v)) {
      b[o++] = 0x6a;
      b[o++] = 0x00;
    }
    b[o++] = 0x68;
    put(b, o, BigInt(v), 4);
    o += 4;
    b[o] = 0xe9;
    put(b, o + 1, BigInt.asUintN(32, exception - (stubsAt + BigInt(o + 5))), 4);
  }
  return b;
}

/** Every vector: a DPL 0 64-bit interrupt gate on IST 1 to its stub at `stubsAt + 16·v`. */
export function stubGateIdt(stubsAt: bigint): Uint8Array {
  const b = new Uint8Array(256 * 16);
  for (let v = 0; v < 256; v++) {
    const h = stubsAt + BigInt(v * 16);
    put(b, v * 16, (h & 0xffffn) | (BigInt(SELECTORS.code64) << 16n) | (1n << 32n) /* IST1 */ | (0x8en << 40n) | (((h >> 16n) & 0xffffn) << 48n));
    put(b, v * 16 + 8, h >> 32n);
  }
  return b;
}

/** A 64-bit available-TSS descriptor (16 bytes) for a TSS at `base` with `limit`, into `page` at `offset`. */
export function putTssDescriptor(page: Uint8Array, offset: number, base: bigint, limit: number): void {
  put(page, offset, BigInt(limit) | ((base & 0xffffffn) << 16n) | (0x89n << 40n) | (((base >> 24n) & 0xffn) << 56n));
  put(page, offset + 8, base >> 32n);
}
