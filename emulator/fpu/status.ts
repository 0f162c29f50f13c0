/**
 * The rounding environment of one operation (from FCW or forced by the instruction) and the
 * exception flags it raises. Flag bits are the FSW's own (IE=1 … PE=0x20), so merging is an OR.
 */

export const IE = 0x01;
export const DE = 0x02;
export const ZE = 0x04;
export const OE = 0x08;
export const UE = 0x10;
export const PE = 0x20;

/** FCW.RC: 0 nearest-even, 1 down (−∞), 2 up (+∞), 3 toward zero. */
export const enum Rounding {
  Nearest = 0,
  Down = 1,
  Up = 2,
  Zero = 3,
}

export class FloatStatus {
  flags = 0;
  constructor(
    public rounding: Rounding,
    /** Significand bits of results rounded to extended format (FCW.PC: 24, 53 or 64). */
    public precision: 24 | 53 | 64,
  ) {}

  raise(f: number): void {
    this.flags |= f;
  }
}

/**
 * QEMU 7.2's mapping of FCW: PC=00 → single, 10 → double, 01 (reserved) and 11 → extended.
 */
export function statusFromFcw(fcw: number): FloatStatus {
  const pc = (fcw >> 8) & 3;
  return new FloatStatus(((fcw >> 10) & 3) as Rounding, pc === 0 ? 24 : pc === 2 ? 53 : 64);
}

/**
 * Tininess is detected after rounding (softfloat's default, which QEMU's x86 target keeps):
 * a result that rounds up to the smallest normal is not tiny.
 */
export const TININESS_BEFORE_ROUNDING = false;
