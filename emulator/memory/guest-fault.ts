/** Exception vectors (SDM Vol. 3 Table 6-1). */
export const enum Vec {
  DE = 0,
  DB = 1,
  NMI = 2,
  BP = 3,
  OF = 4,
  BR = 5,
  UD = 6,
  NM = 7,
  DF = 8,
  TS = 10,
  NP = 11,
  SS = 12,
  GP = 13,
  PF = 14,
  MF = 16,
  AC = 17,
  MC = 18,
  XM = 19,
}

/**
 * An architectural exception raised while executing an instruction. Thrown from anywhere in
 * the emulator and delivered through the IDT by the step loop. Deliberately not an Error:
 * capturing a stack trace for every #PF would dominate fault-heavy workloads.
 */
export class GuestFault {
  constructor(
    readonly vector: number,
    /** Pushed error code, or undefined for vectors without one. */
    readonly errorCode: number | undefined = undefined,
    /** Faulting linear address for #PF (becomes CR2 at delivery). */
    readonly address: number | undefined = undefined,
  ) {}

  toString(): string {
    const ec = this.errorCode === undefined ? '' : ` error 0x${this.errorCode.toString(16)}`;
    return `GuestFault(vector ${this.vector}${ec})`;
  }
}

export function fault(vector: number, errorCode?: number): never {
  throw new GuestFault(vector, errorCode);
}
