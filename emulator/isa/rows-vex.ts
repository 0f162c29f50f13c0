import { row, type IsaRow } from './row.js';

/**
 * VEX-encoded rows (decoded by decode/vex.ts): BMI1's and BMI2's general-register instructions,
 * VEX.LZ.0F38 (RORX: VEX.LZ.0F3A), W selecting 64-bit operands in 64-bit mode (SDM Vol. 2 ANDN,
 * BEXTR, BLSI, BLSMSK, BLSR; BZHI, MULX, PDEP, PEXT, RORX, SARX, SHLX, SHRX; handlers in
 * exec/bmi1.ts and exec/bmi2.ts). 'B' is the register VEX.vvvv names. Flags the SDM leaves
 * undefined are computed as QEMU 7.2 does and masked in comparisons.
 */
const V = { vex: true, prefix: 'np', feature: 'bmi1' } as const;
const V2 = { vex: true, feature: 'bmi2' } as const;
/**
 * BMI2 rows QEMU 7.2 decodes when the model has BMI1 (`decode-new.c.inc`: `cpuid(BMI1)`), with or
 * without BMI2; the SDM makes them #UD without BMI2. A known QEMU deviation (README).
 */
const UNDER_BMI1 = { ...V2, qemuFeature: 'bmi1' } as const;

export const VEX_ROWS: readonly IsaRow[] = [
  row('0f38', 0xf2, 'ANDN', 'Gy,By,Ey', { ...V, w: 'oszapc', u: 'ap' }),
  row('0f38', 0xf7, 'BEXTR', 'Gy,Ey,By', { ...V, w: 'oszapc', u: 'asp' }),
  // Group 17 (VEX.NDD: the destination is VEX.vvvv)
  row('0f38', 0xf3, 'BLSR', 'By,Ey', { ...V, ext: 1, w: 'oszapc', u: 'ap', handler: 'blsr' }),
  row('0f38', 0xf3, 'BLSMSK', 'By,Ey', { ...V, ext: 2, w: 'oszapc', u: 'ap', handler: 'blsmsk' }),
  row('0f38', 0xf3, 'BLSI', 'By,Ey', { ...V, ext: 3, w: 'oszapc', u: 'ap', handler: 'blsi' }),
  // BMI2. BZHI writes flags (AF and PF undefined); the others write none.
  row('0f38', 0xf5, 'BZHI', 'Gy,Ey,By', { ...UNDER_BMI1, prefix: 'np', w: 'oszapc', u: 'ap' }),
  row('0f38', 0xf5, 'PEXT', 'Gy,By,Ey', { ...V2, prefix: 0xf3 }),
  row('0f38', 0xf5, 'PDEP', 'Gy,By,Ey', { ...V2, prefix: 0xf2 }),
  // MULX Gy (high half), By (low half), Ey; the other factor is rDX
  row('0f38', 0xf6, 'MULX', 'Gy,By,Ey', { ...V2, prefix: 0xf2 }),
  row('0f38', 0xf7, 'SHLX', 'Gy,Ey,By', { ...UNDER_BMI1, prefix: 0x66 }),
  row('0f38', 0xf7, 'SARX', 'Gy,Ey,By', { ...UNDER_BMI1, prefix: 0xf3 }),
  row('0f38', 0xf7, 'SHRX', 'Gy,Ey,By', { ...UNDER_BMI1, prefix: 0xf2 }),
  row('0f3a', 0xf0, 'RORX', 'Gy,Ey,Ib', { ...V2, prefix: 0xf2 }),
];
