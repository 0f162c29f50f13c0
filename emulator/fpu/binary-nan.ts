import { DEFAULT_NAN, isInvalidEncoding, isNaN80, isSignalingNaN80, QUIET_BIT } from './floatx80.js';
import { type FloatStatus, IE } from './status.js';
import type { X87 } from './x87-state.js';

/**
 * The NaN and invalid-encoding cases of the ST(1) ← f(ST(1), ST(0)) instructions (FPATAN, FYL2X,
 * FYL2XP1), in QEMU 7.2's order: a signalling NaN in ST(0) then ST(1) is quietened (IE), an
 * invalid encoding gives the default NaN (IE), a quiet NaN in ST(0) wins, one in ST(1) stays.
 * True when ST(1) is decided.
 */
export function binaryNanCases(f: X87, st: FloatStatus): boolean {
  const a = f.st(0);
  const b = f.st(1);
  if (isSignalingNaN80(a)) {
    st.raise(IE);
    f.setSt(1, a | QUIET_BIT);
  } else if (isSignalingNaN80(b)) {
    st.raise(IE);
    f.setSt(1, b | QUIET_BIT);
  } else if (isInvalidEncoding(a) || isInvalidEncoding(b)) {
    st.raise(IE);
    f.setSt(1, DEFAULT_NAN);
  } else if (isNaN80(a)) f.setSt(1, a);
  else if (!isNaN80(b)) return false;
  return true;
}
