import type { Cpu } from '../../cpu/cpu.js';
import { SLOT_RESULT } from '../../cpu/sse-state.js';
import type { Insn } from '../../decode/insn.js';
import { CF, PF, ZF } from '../../isa/flags.js';
import { IE } from '../../fpu/status.js';
import { commitFlags, F32, F64, lane, quietSimdEnv, setLane, simdEnv } from './fp-env.js';
import { twoOperands } from './int-arith.js';
import { add, Cls, compareValues, denormalOperand, div, type Format, isNaN, minMax, mul, operand, type SimdEnv, sqrt } from './simd-float.js';

/**
 * SSE/SSE2/SSE3 floating-point arithmetic: ADD/SUB/MUL/DIV/MIN/MAX/SQRT in packed (PS, PD) and
 * scalar (SS, SD) forms, CMPxx, COMISx/UCOMISx, HADD/HSUB/ADDSUB, RCP/RSQRT. Every lane is
 * computed into SLOT_RESULT, the flags committed (fp-env.ts: an unmasked one faults with the
 * destination unchanged), then the lanes written; scalar forms keep the destination's other lanes.
 */

type Handler = (c: Cpu, d: Insn) => void;
type Binary = (a: bigint, b: bigint, fmt: Format, env: SimdEnv, imm: number) => bigint;

/** The element count of a form: packed 16 / element bytes, scalar 1. */
function count(fmt: Format, scalar: boolean): number {
  return scalar ? 1 : fmt === F32 ? 4 : 2;
}

function writeResult(c: Cpu, dst: number, fmt: Format, n: number): void {
  c.sse.copy(dst, SLOT_RESULT, n * (fmt === F32 ? 4 : 8));
}

function binary(fmt: Format, scalar: boolean, op: Binary): Handler {
  return (c, d) => {
    const [dst, src] = twoOperands(c, d);
    const env = simdEnv(c);
    const n = count(fmt, scalar);
    for (let k = 0; k < n; k++) setLane(c, SLOT_RESULT, k, fmt, op(lane(c, dst, k, fmt), lane(c, src, k, fmt), fmt, env, d.imm));
    commitFlags(c, env.flags);
    writeResult(c, dst, fmt, n);
  };
}

/** One operand (the source): SQRT, RCP, RSQRT; scalar forms keep the destination's upper lanes. */
function unary(fmt: Format, scalar: boolean, op: (a: bigint, fmt: Format, env: SimdEnv) => bigint, keepFlags = true): Handler {
  return (c, d) => {
    const [dst, src] = twoOperands(c, d);
    // RCP/RSQRT never fault: an unmasked UE/OE must not turn their result into the zero of a faulting instruction
    const env = keepFlags ? simdEnv(c) : quietSimdEnv(c);
    const n = count(fmt, scalar);
    for (let k = 0; k < n; k++) setLane(c, SLOT_RESULT, k, fmt, op(lane(c, src, k, fmt), fmt, env));
    if (keepFlags) commitFlags(c, env.flags);
    writeResult(c, dst, fmt, n);
  };
}

const ONE: Record<'f32' | 'f64', bigint> = { f32: 0x3f800000n, f64: 0x3ff0000000000000n };

/**
 * RCPxx/RSQRTxx as QEMU 7.2 computes them: 1/x and 1/sqrt(x) correctly rounded under MXCSR
 * (two roundings for RSQRT), flags discarded. The SDM fixes only the error bound (1.5 × 2^-12);
 * the host CPU's table gives other bits (README "What it has found"), and no other result is
 * more right, so the emulator follows the oracle.
 */
const reciprocal = (a: bigint, fmt: Format, env: SimdEnv) => div(ONE[fmt.kind as 'f32'], a, fmt, env);
const reciprocalSqrt = (a: bigint, fmt: Format, env: SimdEnv) => div(ONE[fmt.kind as 'f32'], sqrt(a, fmt, env), fmt, env);

/** CMPxx predicates 0–7: EQ, LT, LE, UNORD, NEQ, NLT, NLE, ORD; LT/LE/NLT/NLE signal on a QNaN too. */
function compare(a: bigint, b: bigint, fmt: Format, env: SimdEnv, predicate: number): boolean {
  const x = operand(a, fmt, env);
  const y = operand(b, fmt, env);
  const unordered = isNaN(x) || isNaN(y);
  const signaling = predicate === 1 || predicate === 2 || predicate === 5 || predicate === 6;
  if (x.cls === Cls.SNaN || y.cls === Cls.SNaN || (unordered && signaling)) env.raise(IE);
  if (unordered) return predicate === 3 || predicate === 4 || predicate === 5 || predicate === 6;
  denormalOperand(env, x, y);
  const c = compareValues(x, y);
  switch (predicate) {
    case 0: return c === 0;
    case 1: return c < 0;
    case 2: return c <= 0;
    case 3: return false;
    case 4: return c !== 0;
    case 5: return !(c < 0);
    case 6: return !(c <= 0);
    default: return true;
  }
}

function cmp(fmt: Format, scalar: boolean): Handler {
  const ones = fmt === F32 ? 0xffffffffn : 0xffffffffffffffffn;
  return binary(fmt, scalar, (a, b, f, env, imm) => (compare(a, b, f, env, imm & 7) ? ones : 0n));
}

/** COMISS/COMISD (signaling: IE on any NaN) and UCOMISS/UCOMISD (IE on an SNaN only) into ZF, PF, CF. */
function comis(fmt: Format, signaling: boolean): Handler {
  return (c, d) => {
    const [dst, src] = twoOperands(c, d);
    const env = simdEnv(c);
    const x = operand(lane(c, dst, 0, fmt), fmt, env);
    const y = operand(lane(c, src, 0, fmt), fmt, env);
    const unordered = isNaN(x) || isNaN(y);
    if (x.cls === Cls.SNaN || y.cls === Cls.SNaN || (unordered && signaling)) env.raise(IE);
    if (!unordered) denormalOperand(env, x, y);
    commitFlags(c, env.flags);
    const r = unordered ? 0 : compareValues(x, y) + 2; // unordered, less, equal, greater
    c.setStatus(0x8d5, [ZF | PF | CF, CF, ZF, 0][r]!);
  };
}

/** HADDPx/HSUBPx: pairs within the destination, then within the source. */
function horizontal(fmt: Format, subtract: boolean): Handler {
  return (c, d) => {
    const [dst, src] = twoOperands(c, d);
    const env = simdEnv(c);
    const n = count(fmt, false);
    for (let k = 0; k < n; k++) {
      const from = k < n / 2 ? dst : src;
      const i = (2 * k) % n;
      setLane(c, SLOT_RESULT, k, fmt, add(lane(c, from, i, fmt), lane(c, from, i + 1, fmt), fmt, env, subtract));
    }
    commitFlags(c, env.flags);
    writeResult(c, dst, fmt, n);
  };
}

/** ADDSUBPx: even lanes subtract, odd lanes add. */
function addsub(fmt: Format): Handler {
  return (c, d) => {
    const [dst, src] = twoOperands(c, d);
    const env = simdEnv(c);
    const n = count(fmt, false);
    for (let k = 0; k < n; k++) setLane(c, SLOT_RESULT, k, fmt, add(lane(c, dst, k, fmt), lane(c, src, k, fmt), fmt, env, k % 2 === 0));
    commitFlags(c, env.flags);
    writeResult(c, dst, fmt, n);
  };
}

const FORMS: ReadonlyArray<readonly [string, Format, boolean]> = [['ps', F32, false], ['pd', F64, false], ['ss', F32, true], ['sd', F64, true]];

function arithmetic(): Record<string, Handler> {
  const out: Record<string, Handler> = {};
  for (const [suffix, fmt, scalar] of FORMS) {
    out[`add${suffix}`] = binary(fmt, scalar, (a, b, f, e) => add(a, b, f, e));
    out[`sub${suffix}`] = binary(fmt, scalar, (a, b, f, e) => add(a, b, f, e, true));
    out[`mul${suffix}`] = binary(fmt, scalar, mul);
    out[`div${suffix}`] = binary(fmt, scalar, div);
    out[`min${suffix}`] = binary(fmt, scalar, (a, b, f, e) => minMax(a, b, f, e, false));
    out[`max${suffix}`] = binary(fmt, scalar, (a, b, f, e) => minMax(a, b, f, e, true));
    out[`sqrt${suffix}`] = unary(fmt, scalar, sqrt);
    out[`cmp${suffix}`] = cmp(fmt, scalar);
  }
  return out;
}

export const FP_ARITH_HANDLERS: Readonly<Record<string, Handler>> = {
  ...arithmetic(),
  rcpps: unary(F32, false, reciprocal, false),
  rcpss: unary(F32, true, reciprocal, false),
  rsqrtps: unary(F32, false, reciprocalSqrt, false),
  rsqrtss: unary(F32, true, reciprocalSqrt, false),
  comiss: comis(F32, true),
  comisd: comis(F64, true),
  ucomiss: comis(F32, false),
  ucomisd: comis(F64, false),
  haddps: horizontal(F32, false),
  haddpd: horizontal(F64, false),
  hsubps: horizontal(F32, true),
  hsubpd: horizontal(F64, true),
  addsubps: addsub(F32),
  addsubpd: addsub(F64),
};
