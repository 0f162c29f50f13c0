import { f64ToX80, x80ToF64 } from './convert.js';
import { X80_ONE } from './floatx80.js';
import { libm, type LibmFunction } from './libm.js';
import { FSW_C2, type X87 } from './x87-state.js';

/**
 * FSIN/FCOS/FSINCOS/FPTAN the way QEMU 7.2 computes them: ST(0) rounded to a double per FCW.RC,
 * the host libm function (glibc: correctly rounded, reproduced by libm.ts), and the double
 * widened back (rounded per FCW.PC). Exception flags are not merged into FSW (QEMU's helpers
 * skip that step). A NaN comes back as the same NaN, quietened (glibc returns x − x).
 * glibc is not correctly rounded everywhere (sin(0x3fea8d3ae685db77) gives ...0a72, the nearest
 * double is ...0a73): on such rare arguments (about 1 in 1000 random ones) the result differs
 * from QEMU in the last bit of the double. F2XM1, FYL2X/FYL2XP1 and FPATAN are QEMU's own
 * softfloat algorithms: ops-f2xm1.ts, ops-log.ts, ops-atan.ts.
 */

const MAXTAN = 2 ** 63;
const scratch = new DataView(new ArrayBuffer(8));

function toDouble(f: X87, v: bigint): number {
  scratch.setBigUint64(0, x80ToF64(v, f.status()));
  return scratch.getFloat64(0);
}

/** The host function of a double, as double bits (NaN in, the same NaN quietened out). */
function call(fn: LibmFunction, d: number): bigint {
  if (Number.isNaN(d)) {
    scratch.setFloat64(0, d);
    return scratch.getBigUint64(0) | (1n << 51n);
  }
  return libm(fn, d);
}

function fromBits(f: X87, bits: bigint): bigint {
  return f64ToX80(bits, f.status());
}

function inRange(f: X87, d: number): boolean {
  if (d > MAXTAN || d < -MAXTAN) {
    f.fsw |= FSW_C2;
    return false;
  }
  return true;
}

export function fsin(f: X87): void {
  const d = toDouble(f, f.st(0));
  if (!inRange(f, d)) return;
  f.setSt(0, fromBits(f, call('sin', d)));
  f.fsw &= ~FSW_C2;
}

export function fcos(f: X87): void {
  const d = toDouble(f, f.st(0));
  if (!inRange(f, d)) return;
  f.setSt(0, fromBits(f, call('cos', d)));
  f.fsw &= ~FSW_C2;
}

export function fsincos(f: X87): void {
  const d = toDouble(f, f.st(0));
  if (!inRange(f, d)) return;
  f.setSt(0, fromBits(f, call('sin', d)));
  f.push(fromBits(f, call('cos', d)));
  f.fsw &= ~FSW_C2;
}

export function fptan(f: X87): void {
  const d = toDouble(f, f.st(0));
  if (!inRange(f, d)) return;
  f.setSt(0, fromBits(f, call('tan', d)));
  f.push(X80_ONE);
  f.fsw &= ~FSW_C2;
}
