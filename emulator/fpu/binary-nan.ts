import { DEFAULT_NAN, isInvalidEncoding, isNaN80, isSignalingNaN80, J_BIT, QUIET_BIT } from './floatx80.js';
import { type FloatStatus, IE } from './status.js';
import type { X87 } from './x87-state.js';

/**
 * The NaN and invalid-encoding cases of the ST(1) ← f(ST(1), ST(0)) instructions (FPATAN, FYL2X,
 * FYL2XP1), in QEMU 7.2's order: a signalling NaN in ST(0) then ST(1) is quietened (IE), an
 * invalid encoding gives the default NaN (IE), a quiet NaN in ST(0) wins, one in ST(1) stays.
 * Quietening sets the integer bit too (softfloat's floatx80_silence_nan): a signalling
 * pseudo-NaN (integer bit clear) comes out a proper QNaN, as QEMU 7.2 writes it.
 * True when ST(1) is decided.
 */
const SILENCE = J_BIT | QUIET_BIT;
export function binaryNanCases(f: X87, st: FloatStatus): boolean {
  const a = f.st(0);
  const b = f.st(1);
  if (isSignalingNaN80(a)) {
    st.raise(IE);
    f.setSt(1, a | SILENCE);
  } else if (isSignalingNaN80(b)) {
    st.raise(IE);
    f.setSt(1, b | SILENCE);
  } else if (isInvalidEncoding(a) || isInvalidEncoding(b)) {
    st.raise(IE);
    f.setSt(1, DEFAULT_NAN);
  } else if (isNaN80(a)) f.setSt(1, a);
  else if (!isNaN80(b)) return false;
  return true;
}
