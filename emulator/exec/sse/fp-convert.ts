import type { Cpu } from '../../cpu/cpu.js';
import { SLOT_RESULT } from '../../cpu/sse-state.js';
import { Opnd, type Insn } from '../../decode/insn.js';
import { commitMmx, destSlot, sourceSlot } from './access.js';
import { begin } from './begin.js';
import { commitFlags, F32, F64, lane, setLane, simdEnv } from './fp-env.js';
import { convert, type Format, fromInteger, type SimdEnv, toInteger } from './simd-float.js';

/**
 * Conversions (SDM Vol. 2 CVT*): between single and double precision, from and to 32-bit
 * integers in XMM and MMX registers, and between scalars and general registers. Float → integer
 * rounds by MXCSR.RC (CVTT* truncate); NaN or out of range gives the integer indefinite with IE.
 */

type Handler = (c: Cpu, d: Insn) => void;
type Type = 'f32' | 'f64' | 'i32';

const FMT: Record<'f32' | 'f64', Format> = { f32: F32, f64: F64 };
const BYTES: Record<Type, number> = { f32: 4, f64: 8, i32: 4 };

/** One element converted: encodings in, encoding out (i32 as its unsigned 32-bit pattern). */
function convertOne(v: bigint, from: Type, to: Type, env: SimdEnv, truncate: boolean): bigint {
  if (from === 'i32') return fromInteger(BigInt.asIntN(32, v), FMT[to as 'f32'], env);
  if (to === 'i32') return toInteger(v, FMT[from], env, 32, truncate);
  return convert(v, FMT[from], FMT[to], env);
}

function readElement(c: Cpu, slot: number, k: number, t: Type): bigint {
  return lane(c, slot, k, t === 'f64' ? F64 : F32);
}

/**
 * `n` elements from the source's low lanes into the destination's low lanes; `rest` says what
 * happens to the destination's bytes above them in an XMM register: kept, or zeroed.
 */
function lanes(n: number, from: Type, to: Type, rest: 'keep' | 'zero', truncate = false): Handler {
  return (c, d) => {
    begin(c, d);
    const src = sourceSlot(c, d, 1);
    const dst = destSlot(d);
    const env = simdEnv(c);
    for (let k = 0; k < n; k++) setLane(c, SLOT_RESULT, k, to === 'f64' ? F64 : F32, convertOne(readElement(c, src, k, from), from, to, env, truncate));
    commitFlags(c, env.flags);
    const s = c.sse;
    if (rest === 'zero') s.bytes.fill(0, dst * 16, dst * 16 + 16);
    s.copy(dst, SLOT_RESULT, n * BYTES[to]);
    commitMmx(c, d);
  };
}

/** CVTSI2SS/CVTSI2SD: a signed 32/64-bit integer (register or memory) into the low element. */
function fromGpr(to: Format): Handler {
  return (c, d) => {
    begin(c, d);
    const size = d.os[1]!;
    const lo = d.ot[1] === Opnd.Mem ? c.readSized(c.lin, size) : c.getReg(d.or[1]!, size);
    const v = size === 8 ? BigInt.asIntN(64, (BigInt(c.hi >>> 0) << 32n) | BigInt(lo >>> 0)) : BigInt(lo | 0);
    const env = simdEnv(c);
    const r = fromInteger(v, to, env);
    commitFlags(c, env.flags);
    setLane(c, d.or[0]!, 0, to, r);
  };
}

/** CVT(T)SS2SI/CVT(T)SD2SI: the low element into a 32/64-bit general register. */
function toGpr(from: Format, truncate: boolean): Handler {
  return (c, d) => {
    begin(c, d);
    const src = sourceSlot(c, d, 1);
    const size = d.os[0]!;
    const env = simdEnv(c);
    const v = toInteger(lane(c, src, 0, from), from, env, size === 8 ? 64 : 32, truncate);
    commitFlags(c, env.flags);
    c.setReg(d.or[0]!, size, Number(v & 0xffffffffn), Number(v >> 32n));
  };
}

export const CONVERT_HANDLERS: Readonly<Record<string, Handler>> = {
  cvtps2pd: lanes(2, 'f32', 'f64', 'keep'),
  cvtpd2ps: lanes(2, 'f64', 'f32', 'zero'),
  cvtss2sd: lanes(1, 'f32', 'f64', 'keep'),
  cvtsd2ss: lanes(1, 'f64', 'f32', 'keep'),
  cvtdq2ps: lanes(4, 'i32', 'f32', 'keep'),
  cvtps2dq: lanes(4, 'f32', 'i32', 'keep'),
  cvttps2dq: lanes(4, 'f32', 'i32', 'keep', true),
  cvtdq2pd: lanes(2, 'i32', 'f64', 'keep'),
  cvtpd2dq: lanes(2, 'f64', 'i32', 'zero'),
  cvttpd2dq: lanes(2, 'f64', 'i32', 'zero', true),
  cvtpi2ps: lanes(2, 'i32', 'f32', 'keep'),
  cvtpi2pd: lanes(2, 'i32', 'f64', 'keep'),
  cvtps2pi: lanes(2, 'f32', 'i32', 'keep'),
  cvttps2pi: lanes(2, 'f32', 'i32', 'keep', true),
  cvtpd2pi: lanes(2, 'f64', 'i32', 'keep'),
  cvttpd2pi: lanes(2, 'f64', 'i32', 'keep', true),
  cvtsi2ss: fromGpr(F32),
  cvtsi2sd: fromGpr(F64),
  cvtss2si: toGpr(F32, false),
  cvttss2si: toGpr(F32, true),
  cvtsd2si: toGpr(F64, false),
  cvttsd2si: toGpr(F64, true),
};
