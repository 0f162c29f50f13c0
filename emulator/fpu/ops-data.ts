import type { Cpu } from '../cpu/cpu.js';
import { intToX80, f32ToX80, f64ToX80, x80ToF32, x80ToF64, x80ToInt } from './convert.js';
import { absolute, expOf, J_BIT, negate, signOf, sigOf, X80_ONE } from './floatx80.js';
import { readM16, readM32, readM64, readM80, writeM16, writeM32, writeM64, writeM80 } from './access.js';
import { IE, Rounding } from './status.js';
import { FSW_CC, type X87 } from './x87-state.js';

/** Loads, stores, register moves, constants and BCD: the x87 operations that move values. */

export function fldM32(c: Cpu, f: X87): void {
  const st = f.status();
  const v = f32ToX80(readM32(c, c.lin), st);
  f.push(v);
  f.raise(st.flags);
}

export function fldM64(c: Cpu, f: X87): void {
  const st = f.status();
  const v = f64ToX80(readM64(c, c.lin), st);
  f.push(v);
  f.raise(st.flags);
}

export function fldM80(c: Cpu, f: X87): void {
  f.push(readM80(c, c.lin));
}

/** FILD converts at full precision whatever FCW.PC says. */
function fild(f: X87, v: bigint): void {
  const st = f.status();
  st.precision = 64;
  f.push(intToX80(v, st));
}

export function fildM16(c: Cpu, f: X87): void {
  fild(f, BigInt((readM16(c, c.lin) << 16) >> 16));
}

export function fildM32(c: Cpu, f: X87): void {
  fild(f, BigInt(readM32(c, c.lin) | 0));
}

export function fildM64(c: Cpu, f: X87): void {
  fild(f, BigInt.asIntN(64, readM64(c, c.lin)));
}

export function fstM32(c: Cpu, f: X87, pop: boolean): void {
  const st = f.status();
  const v = x80ToF32(f.st(0), st);
  f.raise(st.flags);
  writeM32(c, c.lin, v);
  if (pop) f.pop();
}

export function fstM64(c: Cpu, f: X87, pop: boolean): void {
  const st = f.status();
  const v = x80ToF64(f.st(0), st);
  f.raise(st.flags);
  writeM64(c, c.lin, v);
  if (pop) f.pop();
}

export function fstpM80(c: Cpu, f: X87): void {
  writeM80(c, c.lin, f.st(0));
  f.pop();
}

/**
 * FIST/FISTP/FISTTP: the integer indefinite (the format's most negative value) on IE. For
 * m16, QEMU converts to 32 bits and replaces the flags with IE alone when the value does not fit.
 */
export function fist(c: Cpu, f: X87, bits: 16 | 32 | 64, truncate: boolean, pop: boolean): void {
  const st = f.status();
  const mode = truncate ? Rounding.Zero : st.rounding;
  let v = x80ToInt(f.st(0), bits === 16 ? 32 : bits, mode, st);
  if (bits === 16 && v !== undefined && (v < -0x8000n || v > 0x7fffn)) {
    st.flags = IE;
    v = undefined;
  }
  f.raise(st.flags);
  const indefinite = -(1n << BigInt(bits - 1));
  const out = v ?? indefinite;
  if (bits === 16) writeM16(c, c.lin, Number(BigInt.asUintN(16, out)));
  else if (bits === 32) writeM32(c, c.lin, Number(BigInt.asUintN(32, out)));
  else writeM64(c, c.lin, BigInt.asUintN(64, out));
  if (pop) f.pop();
}

export function fldSti(f: X87, i: number): void {
  f.push(f.st(i));
}

/** FXCH swaps values only: QEMU leaves the tags where they were. */
export function fxch(f: X87, i: number): void {
  const t = f.st(i);
  f.setSt(i, f.st(0));
  f.setSt(0, t);
}

export function fstSti(f: X87, i: number, pop: boolean): void {
  f.setSt(i, f.st(0));
  if (pop) f.pop();
}

export function ffree(f: X87, i: number, pop: boolean): void {
  f.empty[f.phys(i)] = 1;
  if (pop) f.pop();
}

export function fchs(f: X87): void {
  f.setSt(0, negate(f.st(0)));
}

export function fabs(f: X87): void {
  f.setSt(0, absolute(f.st(0)));
}

/** FLD1 … FLDZ (rm 0–6). The irrational constants are rounded per FCW.RC (never per FCW.PC). */
export function fldConst(f: X87, rm: number): void {
  const rc = (f.fcw >> 10) & 3;
  const downOrChop = rc === Rounding.Down || rc === Rounding.Zero;
  const values = [
    X80_ONE,
    rc === Rounding.Up ? 0x4000_d49a784bcd1b8affn : 0x4000_d49a784bcd1b8afen, // log2(10)
    downOrChop ? 0x3fff_b8aa3b295c17f0bbn : 0x3fff_b8aa3b295c17f0bcn, // log2(e)
    downOrChop ? 0x4000_c90fdaa22168c234n : 0x4000_c90fdaa22168c235n, // pi
    downOrChop ? 0x3ffd_9a209a84fbcff798n : 0x3ffd_9a209a84fbcff799n, // log10(2)
    downOrChop ? 0x3ffe_b17217f7d1cf79abn : 0x3ffe_b17217f7d1cf79acn, // ln(2)
    0n,
  ];
  f.push(values[rm]!);
}

/** FXAM: C3,C2,C0 classify ST(0) (empty from the tag), C1 is its sign. */
export function fxam(f: X87): void {
  const v = f.st(0);
  let cc = signOf(v) ? 0x200 : 0;
  const e = expOf(v);
  const s = sigOf(v);
  if (f.empty[f.top]) cc |= 0x4100;
  else if (e === 0x7fff) {
    if (s === J_BIT) cc |= 0x500;
    else if (s & J_BIT) cc |= 0x100;
  } else if (e === 0) cc |= s === 0n ? 0x4000 : 0x4400;
  else if (s & J_BIT) cc |= 0x400;
  f.fsw = (f.fsw & ~FSW_CC) | cc;
}

/** FBLD: 18 packed BCD digits (nibbles are not checked) and a sign byte, rounded per FCW.PC. */
export function fbld(c: Cpu, f: X87): void {
  let val = 0n;
  for (let i = 8; i >= 0; i--) {
    const b = c.read8(c.lin + i);
    val = val * 100n + BigInt((b >> 4) * 10 + (b & 0xf));
  }
  // QEMU converts without merging the conversion's flags into FSW.
  let v = intToX80(val, f.status());
  if (c.read8(c.lin + 9) & 0x80) v = negate(v);
  f.push(v);
}

const BCD_LIMIT = 10n ** 18n;

/** FBSTP: integer per FCW.RC to 18 BCD digits; out of range (or NaN/∞) stores the BCD indefinite with IE alone. */
export function fbstp(c: Cpu, f: X87): void {
  const st = f.status();
  const v0 = f.st(0);
  const v = x80ToInt(v0, 64, st.rounding, st);
  if (v === undefined || v >= BCD_LIMIT || v <= -BCD_LIMIT) {
    st.flags = IE;
    for (let i = 0; i < 7; i++) c.write8(c.lin + i, 0);
    c.write8(c.lin + 7, 0xc0);
    c.write8(c.lin + 8, 0xff);
    c.write8(c.lin + 9, 0xff);
  } else {
    c.write8(c.lin + 9, signOf(v0) ? 0x80 : 0);
    let n = v < 0n ? -v : v;
    let i = 0;
    for (; i < 9 && n !== 0n; i++) {
      const pair = Number(n % 100n);
      n /= 100n;
      c.write8(c.lin + i, ((pair / 10) << 4) | pair % 10);
    }
    for (; i < 9; i++) c.write8(c.lin + i, 0);
  }
  f.raise(st.flags);
  f.pop();
}

