/**
 * The SSE register file: XMM0–XMM15 and MXCSR. The registers live in one buffer seen through
 * typed arrays of every lane width, so that a handler works on lanes by index (register n's
 * lanes of width w start at n × 16 / w). Slots past the sixteenth are scratch registers the
 * handlers use for memory operands, MMX registers and results not yet committed.
 */

/** MXCSR after reset and as a state without SSE loads it (all exceptions masked, round to nearest). */
export const MXCSR_DEFAULT = 0x1f80;
/**
 * The MXCSR bits software may set, as FXSAVE reports them (MXCSR_MASK): QEMU 7.2's qemu64 writes
 * 0xFFFF (DAZ included), as current hardware does. LDMXCSR/FXRSTOR with a bit outside: #GP(0).
 */
export const MXCSR_MASK = 0xffff;

/** MXCSR fields (SDM Vol. 1 §10.2.3). The six flags have the same order as their masks (bits 7–12). */
export const MXCSR_IE = 0x1;
export const MXCSR_DE = 0x2;
export const MXCSR_ZE = 0x4;
export const MXCSR_OE = 0x8;
export const MXCSR_UE = 0x10;
export const MXCSR_PE = 0x20;
export const MXCSR_FLAGS = 0x3f;
export const MXCSR_DAZ = 0x40;
export const MXCSR_MASKS_SHIFT = 7;
export const MXCSR_RC_SHIFT = 13;
export const MXCSR_FZ = 0x8000;

export const XMM_REGISTERS = 16;
/** Scratch slots after the registers: a memory operand, two MMX operands, a result under construction. */
export const SLOT_MEM = 16;
export const SLOT_MMX_DST = 17;
export const SLOT_MMX_SRC = 18;
export const SLOT_RESULT = 19;
const SLOTS = 20;

export class SseState {
  readonly bytes = new Uint8Array(SLOTS * 16);
  readonly i8 = new Int8Array(this.bytes.buffer);
  readonly u16 = new Uint16Array(this.bytes.buffer);
  readonly i16 = new Int16Array(this.bytes.buffer);
  readonly u32 = new Uint32Array(this.bytes.buffer);
  readonly i32 = new Int32Array(this.bytes.buffer);
  readonly f32 = new Float32Array(this.bytes.buffer);
  readonly f64 = new Float64Array(this.bytes.buffer);
  mxcsr = MXCSR_DEFAULT;

  /** XMM n as a 128-bit value (readState). */
  get(n: number): bigint {
    const u = this.u32;
    const b = n * 4;
    return (BigInt(u[b + 3]!) << 96n) | (BigInt(u[b + 2]!) << 64n) | (BigInt(u[b + 1]!) << 32n) | BigInt(u[b]!);
  }

  set(n: number, v: bigint): void {
    const u = this.u32;
    const b = n * 4;
    for (let i = 0; i < 4; i++) u[b + i] = Number((v >> BigInt(32 * i)) & 0xffffffffn);
  }

  /** Copy `bytes` bytes of slot `from` into slot `to`. */
  copy(to: number, from: number, bytes = 16): void {
    this.bytes.copyWithin(to * 16, from * 16, from * 16 + bytes);
  }

  /** Registers zero, MXCSR as given. */
  reset(mxcsr = MXCSR_DEFAULT): void {
    this.bytes.fill(0);
    this.mxcsr = mxcsr;
  }
}
