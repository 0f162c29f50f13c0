import { CR4_OSXMMEXCPT, type Cpu } from '../../cpu/cpu.js';
import { MXCSR_DAZ, MXCSR_FZ, MXCSR_MASKS_SHIFT, MXCSR_OE, MXCSR_RC_SHIFT, MXCSR_UE } from '../../cpu/sse-state.js';
import { DE, IE, ZE } from '../../fpu/status.js';
import type { Rounding } from '../../fpu/status.js';
import { GuestFault, Vec } from '../../memory/guest-fault.js';
import { F32, F64, type Format, SimdEnv } from './simd-float.js';

/**
 * MXCSR around a SIMD floating-point instruction: the environment its lanes compute in, and the
 * commit of their flags (SDM Vol. 1 §11.5.2): all masked → the flags are ORed into MXCSR and the
 * result written; an unmasked one → #XM (#UD when CR4.OSXMMEXCPT is clear) with the destination
 * unchanged. Pre-computation exceptions (IE, DE, ZE) are checked on every lane first: if one of
 * them is unmasked only they are flagged. QEMU 7.2 never raises #XM (it sets the flags and
 * writes the result): a known QEMU deviation.
 */

export function simdEnv(c: Cpu): SimdEnv {
  const m = c.sse.mxcsr;
  return new SimdEnv(
    ((m >> MXCSR_RC_SHIFT) & 3) as Rounding,
    (m & MXCSR_DAZ) !== 0,
    (m & MXCSR_FZ) !== 0,
    (m & (MXCSR_UE << MXCSR_MASKS_SHIFT)) === 0,
    (m & (MXCSR_OE << MXCSR_MASKS_SHIFT)) === 0,
    c.model.simdResultsAsQemu,
  );
}

/**
 * The environment of an instruction that signals nothing (RCPxx/RSQRTxx): MXCSR's rounding, DAZ
 * and FZ, and every exception treated as masked, so that a tiny or huge result is the one
 * written (QEMU 7.2 computes them with its SSE status and discards the flags).
 */
export function quietSimdEnv(c: Cpu): SimdEnv {
  const m = c.sse.mxcsr;
  return new SimdEnv(((m >> MXCSR_RC_SHIFT) & 3) as Rounding, (m & MXCSR_DAZ) !== 0, (m & MXCSR_FZ) !== 0, false, false, c.model.simdResultsAsQemu);
}

const PRE_COMPUTATION = IE | DE | ZE;

/** Fold an instruction's flags into MXCSR; throws #XM/#UD when one is unmasked (then nothing is written). */
export function commitFlags(c: Cpu, flags: number): void {
  const m = c.sse.mxcsr;
  const unmasked = flags & ~(m >> MXCSR_MASKS_SHIFT) & 0x3f;
  if (unmasked === 0) {
    c.sse.mxcsr = m | flags;
    return;
  }
  const pre = flags & PRE_COMPUTATION;
  c.sse.mxcsr = m | ((pre & unmasked) !== 0 ? pre : flags);
  throw new GuestFault((c.cr4 & CR4_OSXMMEXCPT) !== 0 ? Vec.XM : Vec.UD);
}

/** Element `k` of a slot in a format, as its encoding. */
export function lane(c: Cpu, slot: number, k: number, fmt: Format): bigint {
  const u = c.sse.u32;
  if (fmt === F32) return BigInt(u[slot * 4 + k]!);
  const i = slot * 4 + 2 * k;
  return (BigInt(u[i + 1]!) << 32n) | BigInt(u[i]!);
}

export function setLane(c: Cpu, slot: number, k: number, fmt: Format, v: bigint): void {
  const u = c.sse.u32;
  if (fmt === F32) {
    u[slot * 4 + k] = Number(v);
    return;
  }
  const i = slot * 4 + 2 * k;
  u[i] = Number(v & 0xffffffffn);
  u[i + 1] = Number(v >> 32n);
}

export { F32, F64 };
