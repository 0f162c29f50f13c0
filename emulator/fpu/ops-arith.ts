import type { Cpu } from '../cpu/cpu.js';
import { CF, PF, ZF } from '../isa/flags.js';
import { readM16, readM32, readM64 } from './access.js';
import { add, div, mul, sqrt, sub } from './arith.js';
import { compare, Relation } from './compare.js';
import { f32ToX80, f64ToX80, intToX80, roundToInt, x80ToInt } from './convert.js';
import { DEFAULT_NAN, expOf, isInf80, isInvalidEncoding, isNaN80, isSignalingNaN80, isZero80, negate, packX80, QUIET_BIT, signOf, sigOf, X80_BIAS, X80_INF, X80_ONE } from './floatx80.js';
import { modrem, scalbn } from './remainder.js';
import { DE, type FloatStatus, IE, Rounding } from './status.js';
import { FSW_C2, FSW_CC, type X87 } from './x87-state.js';

/** Arithmetic, comparisons and the other computing x87 operations, in QEMU 7.2's operand order. */

type Binary = (a: bigint, b: bigint, st: FloatStatus) => bigint;

/** ST(0) ← ST(0) op src, by ModRM.reg (2 and 3 are compares, handled by the caller). */
const ST0_OPS: Array<Binary | undefined> = [
  add, mul, undefined, undefined,
  sub, (a, b, st) => sub(b, a, st),
  div, (a, b, st) => div(b, a, st),
];

/** ST(i) ← ST(i) op ST(0), by ModRM.reg (DC/DE: reg 4 is FSUBR, 5 FSUB, 6 FDIVR, 7 FDIV). */
const STI_OPS: Array<Binary | undefined> = [
  add, mul, undefined, undefined,
  (a, b, st) => sub(b, a, st), sub,
  (a, b, st) => div(b, a, st), div,
];

const FCOM_CC: Record<Relation, number> = { [Relation.Less]: 0x0100, [Relation.Equal]: 0x4000, [Relation.Greater]: 0, [Relation.Unordered]: 0x4500 };

/** FCOM/FUCOM: C3,C2,C0 from the relation; C1 is left alone (as in QEMU). */
function fcomWith(f: X87, src: bigint, quiet: boolean): void {
  const st = f.status();
  const r = compare(f.st(0), src, quiet, st);
  f.fsw = (f.fsw & ~0x4500) | FCOM_CC[r];
  f.raise(st.flags);
}

function arithSt0(f: X87, reg: number, src: bigint): void {
  if (reg === 2 || reg === 3) {
    fcomWith(f, src, false);
    if (reg === 3) f.pop();
    return;
  }
  const st = f.status();
  f.setSt(0, ST0_OPS[reg]!(f.st(0), src, st));
  f.raise(st.flags);
}

/** D8/DA/DC/DE memory forms: the source is m32fp, m32int, m64fp or m16int. */
export function arithMem(c: Cpu, f: X87, reg: number, opcode: number): void {
  const st = f.status();
  let src: bigint;
  switch (opcode) {
    case 0xd8:
      src = f32ToX80(readM32(c, c.lin), st);
      break;
    case 0xdc:
      src = f64ToX80(readM64(c, c.lin), st);
      break;
    default: {
      const n = opcode === 0xda ? readM32(c, c.lin) | 0 : (readM16(c, c.lin) << 16) >> 16;
      // QEMU rounds the integer per FCW.PC and drops that conversion's flags.
      src = intToX80(BigInt(n), f.status());
    }
  }
  f.raise(st.flags);
  arithSt0(f, reg, src);
}

export function arithSt0Sti(f: X87, reg: number, i: number): void {
  arithSt0(f, reg, f.st(i));
}

export function arithStiSt0(f: X87, reg: number, i: number, pop: boolean): void {
  const st = f.status();
  f.setSt(i, STI_OPS[reg]!(f.st(i), f.st(0), st));
  f.raise(st.flags);
  if (pop) f.pop();
}

export function fcom(f: X87, i: number, quiet: boolean, pops: number): void {
  fcomWith(f, f.st(i), quiet);
  for (let k = 0; k < pops; k++) f.pop();
}

const FCOMI_FLAGS: Record<Relation, number> = { [Relation.Less]: CF, [Relation.Equal]: ZF, [Relation.Greater]: 0, [Relation.Unordered]: ZF | PF | CF };

/** FCOMI/FUCOMI: ZF, PF, CF from the relation; QEMU leaves OF, SF and AF as they were. */
export function fcomi(c: Cpu, f: X87, i: number, quiet: boolean, pop: boolean): void {
  const st = f.status();
  const r = compare(f.st(0), f.st(i), quiet, st);
  c.setStatus(ZF | PF | CF, FCOMI_FLAGS[r]);
  f.raise(st.flags);
  if (pop) f.pop();
}

export function ftst(f: X87): void {
  fcomWith(f, 0n, false);
}

/** FCMOVcc: reg&3 picks B/E/BE/U; DB moves when the condition is false. */
export function fcmov(c: Cpu, f: X87, reg: number, i: number, opcode: number): void {
  const flags = c.status();
  const cond = [(flags & CF) !== 0, (flags & ZF) !== 0, (flags & (CF | ZF)) !== 0, (flags & PF) !== 0][reg & 3]!;
  if (cond === (opcode === 0xda)) f.setSt(0, f.st(i));
}

/** FSQRT: QEMU sets C2 (and clears C0/C1/C3) for a negative operand before computing. */
export function fsqrt(f: X87): void {
  const st = f.status();
  if (signOf(f.st(0))) f.fsw = (f.fsw & ~FSW_CC) | FSW_C2;
  f.setSt(0, sqrt(f.st(0), st));
  f.raise(st.flags);
}

export function frndint(f: X87): void {
  const st = f.status();
  f.setSt(0, roundToInt(f.st(0), st));
  f.raise(st.flags);
}

/** FSCALE: ST(0) × 2^trunc(ST(1)) at full precision (QEMU's special cases for NaN/∞ in ST(1)). */
export function fscale(f: X87): void {
  const st = f.status();
  const a = f.st(0);
  const b = f.st(1);
  if (isInvalidEncoding(a) || isInvalidEncoding(b)) {
    st.raise(IE);
    f.setSt(0, DEFAULT_NAN);
  } else if (isNaN80(b)) {
    if (isSignalingNaN80(a) || isSignalingNaN80(b)) st.raise(IE);
    f.setSt(0, b | QUIET_BIT);
  } else if (isInf80(b) && !isNaN80(a)) {
    if (signOf(b)) {
      if (isInf80(a)) {
        st.raise(IE);
        f.setSt(0, DEFAULT_NAN);
      } else f.setSt(0, signOf(a) ? negate(0n) : 0n);
    } else if (isZero80(a)) {
      st.raise(IE);
      f.setSt(0, DEFAULT_NAN);
    } else f.setSt(0, signOf(a) ? negate(X80_INF) : X80_INF);
  } else {
    const n = x80ToInt(b, 32, Rounding.Zero, f.status()) ?? (signOf(b) ? -(2n ** 31n) : 2n ** 31n - 1n);
    st.precision = 64;
    f.setSt(0, scalbn(a, Number(n), st));
  }
  f.raise(st.flags);
}

/** FXTRACT: ST(0) ← exponent, then push the significand (exponent set to the bias). */
export function fxtract(f: X87): void {
  const st = f.status();
  const v = f.st(0);
  if (isZero80(v)) {
    f.setSt(0, div(negate(X80_ONE), 0n, st));
    f.push(v);
  } else if (isInvalidEncoding(v)) {
    st.raise(IE);
    f.setSt(0, DEFAULT_NAN);
    f.push(f.st(0));
  } else if (isNaN80(v)) {
    if (isSignalingNaN80(v)) {
      st.raise(IE);
      f.setSt(0, v | QUIET_BIT);
    }
    f.push(f.st(0));
  } else if (isInf80(v)) {
    f.push(f.st(0));
    f.setSt(1, X80_INF);
  } else {
    let sig = sigOf(v);
    let e: number;
    if (expOf(v) === 0) {
      const shift = 64 - sig.toString(2).length;
      sig = (sig << BigInt(shift)) & 0xffffffffffffffffn;
      e = 1 - X80_BIAS - shift;
      st.raise(DE);
    } else e = expOf(v) - X80_BIAS;
    f.setSt(0, intToX80(BigInt(e), st));
    f.push(packX80(signOf(v), X80_BIAS, sig));
  }
  f.raise(st.flags);
}

/** FPREM/FPREM1: exact partial remainder; C0,C3,C1 = quotient bits 2,1,0, or C2 when incomplete. */
export function fprem(f: X87, truncating: boolean): void {
  const st = f.status();
  const a = f.st(0);
  const b = f.st(1);
  f.fsw &= ~FSW_CC;
  const e0 = expOf(a);
  const e1 = expOf(b);
  if (isZero80(a) || isZero80(b) || e0 === 0x7fff || e1 === 0x7fff || isInvalidEncoding(a) || isInvalidEncoding(b)) {
    f.setSt(0, modrem(a, b, truncating, st).value);
  } else {
    const lead = (e: number, s: bigint) => (e === 0 ? 1 - (64 - s.toString(2).length) : e);
    const diff = lead(e0, sigOf(a)) - lead(e1, sigOf(b));
    if (diff < 64) {
      const r = modrem(a, b, truncating, st);
      f.setSt(0, r.value);
      const q = Number(r.quotient & 7n);
      f.fsw |= (q & 4 ? 0x100 : 0) | (q & 2 ? 0x4000 : 0) | (q & 1 ? 0x200 : 0);
    } else {
      const n = 32 + (diff % 32);
      const scaled = scalbn(b, diff - n, st);
      f.setSt(0, modrem(a, scaled, true, st).value);
      f.fsw |= FSW_C2;
    }
  }
  f.raise(st.flags);
}
