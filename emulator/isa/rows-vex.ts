import { row, type IsaRow } from './row.js';

/**
 * VEX-encoded rows (decoded by decode/vex.ts): BMI1's general-register instructions, VEX.LZ.0F38
 * with no VEX.pp, W selecting 64-bit operands in 64-bit mode (SDM Vol. 2 ANDN, BEXTR, BLSI,
 * BLSMSK, BLSR; handlers in exec/bmi1.ts). 'B' is the register VEX.vvvv names. Flags the SDM
 * leaves undefined are computed as QEMU 7.2 does and masked in comparisons.
 */
const V = { vex: true, prefix: 'np', feature: 'bmi1' } as const;

export const VEX_ROWS: readonly IsaRow[] = [
  row('0f38', 0xf2, 'ANDN', 'Gy,By,Ey', { ...V, w: 'oszapc', u: 'ap' }),
  row('0f38', 0xf7, 'BEXTR', 'Gy,Ey,By', { ...V, w: 'oszapc', u: 'asp' }),
  // Group 17 (VEX.NDD: the destination is VEX.vvvv)
  row('0f38', 0xf3, 'BLSR', 'By,Ey', { ...V, ext: 1, w: 'oszapc', u: 'ap', handler: 'blsr' }),
  row('0f38', 0xf3, 'BLSMSK', 'By,Ey', { ...V, ext: 2, w: 'oszapc', u: 'ap', handler: 'blsmsk' }),
  row('0f38', 0xf3, 'BLSI', 'By,Ey', { ...V, ext: 3, w: 'oszapc', u: 'ap', handler: 'blsi' }),
];
