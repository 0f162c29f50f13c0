import { Cls, isInvalidEncoding, isNaNCls, unpackX80, type Unpacked } from './floatx80.js';
import { type FloatStatus, IE } from './status.js';

export const enum Relation {
  Less = -1,
  Equal = 0,
  Greater = 1,
  Unordered = 2,
}

function magnitudeOrder(x: Unpacked, y: Unpacked): number {
  // Both finite non-zero: compare leading-bit exponents, then aligned significands.
  const ex = x.exp + x.sig.toString(2).length;
  const ey = y.exp + y.sig.toString(2).length;
  if (ex !== ey) return ex < ey ? -1 : 1;
  const shift = x.exp - y.exp;
  const a = shift >= 0 ? x.sig << BigInt(shift) : x.sig;
  const b = shift >= 0 ? y.sig : y.sig << BigInt(-shift);
  return a === b ? 0 : a < b ? -1 : 1;
}

/**
 * Compare two extended values. `quiet` (FUCOM family) raises IE only for SNaNs; the signaling
 * form (FCOM family, FTST) raises it for any NaN. Invalid encodings raise IE and are unordered.
 */
export function compare(a: bigint, b: bigint, quiet: boolean, st: FloatStatus): Relation {
  if (isInvalidEncoding(a) || isInvalidEncoding(b)) {
    st.raise(IE);
    return Relation.Unordered;
  }
  const x = unpackX80(a);
  const y = unpackX80(b);
  if (isNaNCls(x.cls) || isNaNCls(y.cls)) {
    if (!quiet || x.cls === Cls.SNaN || y.cls === Cls.SNaN) st.raise(IE);
    return Relation.Unordered;
  }
  if (x.cls === Cls.Zero && y.cls === Cls.Zero) return Relation.Equal;
  if (x.sign !== y.sign) {
    if (x.cls === Cls.Zero) return y.sign ? Relation.Greater : Relation.Less;
    if (y.cls === Cls.Zero) return x.sign ? Relation.Less : Relation.Greater;
    return x.sign ? Relation.Less : Relation.Greater;
  }
  // Same sign: order magnitudes (zero < finite < infinity), then apply the sign.
  const rank = (u: Unpacked) => (u.cls === Cls.Zero ? 0 : u.cls === Cls.Inf ? 2 : 1);
  let m = rank(x) - rank(y);
  if (m === 0 && rank(x) === 1) m = magnitudeOrder(x, y);
  if (m === 0) return Relation.Equal;
  return (m < 0) !== (x.sign === 1) ? Relation.Less : Relation.Greater;
}
