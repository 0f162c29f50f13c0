/**
 * What `info registers` tells beyond info-registers.ts's descriptor caches: debug registers, the
 * interrupt shadow (II), A20 and SMM. A transplant checks these rather than assume them.
 */
export interface CpuExtras {
  /** DR0–DR3, DR6, DR7 at indices 0–3, 6, 7 (4 and 5 alias 6 and 7 and read as 0 here). */
  readonly dr: readonly bigint[];
  /** Interrupts inhibited for one instruction (after MOV SS or STI). */
  readonly interruptShadow: boolean;
  readonly a20: boolean;
  readonly smm: boolean;
  readonly cpl: number;
  readonly halted: boolean;
}

export function parseCpuExtras(text: string): CpuExtras {
  const dr = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
  for (const m of text.matchAll(/DR([0-7])=([0-9a-f]{8,16})/g)) dr[Number(m[1])] = BigInt(`0x${m[2]}`);
  const flag = (name: string) => new RegExp(`\\b${name}=(\\d)`).exec(text)?.[1];
  return {
    dr,
    interruptShadow: flag('II') === '1',
    a20: flag('A20') !== '0',
    smm: flag('SMM') === '1',
    cpl: Number(flag('CPL') ?? 0),
    halted: flag('HLT') === '1',
  };
}
