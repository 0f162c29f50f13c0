import { Cls, DEFAULT_NAN, isNaNCls, packX80, QUIET_BIT, type Unpacked } from './floatx80.js';
import { type FloatStatus, IE } from './status.js';

/**
 * NaN results, by the x87 rules QEMU's softfloat implements: an SNaN operand raises IE and is
 * returned quietened; of two NaNs the QNaN wins over an SNaN, and between two of a kind the
 * larger fraction (then the positive one, then the second operand) is returned.
 */

/** A NaN operand (fraction without J) back to its encoding, quietened when signaling. */
export function nanResult(n: Unpacked, st: FloatStatus): bigint {
  if (n.cls === Cls.SNaN) st.raise(IE);
  return packX80(n.sign, 0x7fff, (1n << 63n) | n.sig | QUIET_BIT);
}

/** The NaN result of a two-operand operation where at least one operand is a NaN. */
export function pickNaN(a: Unpacked, b: Unpacked, st: FloatStatus): bigint {
  if (a.cls === Cls.SNaN || b.cls === Cls.SNaN) st.raise(IE);
  const cmp = a.sig > b.sig ? 1 : a.sig < b.sig ? -1 : a.sign < b.sign ? 1 : 0;
  const aLarger = cmp > 0;
  let chooseB: boolean;
  if (a.cls === Cls.SNaN) chooseB = b.cls === Cls.SNaN ? !aLarger : b.cls === Cls.QNaN;
  else if (a.cls === Cls.QNaN) chooseB = b.cls === Cls.QNaN ? !aLarger : false;
  else chooseB = true;
  const n = chooseB ? b : a;
  return packX80(n.sign, 0x7fff, (1n << 63n) | n.sig | QUIET_BIT);
}

export function invalid(st: FloatStatus): bigint {
  st.raise(IE);
  return DEFAULT_NAN;
}

export function anyNaN(a: Unpacked, b: Unpacked): boolean {
  return isNaNCls(a.cls) || isNaNCls(b.cls);
}
