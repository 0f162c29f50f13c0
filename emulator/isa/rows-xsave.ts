import { row, type IsaRow } from './row.js';

/**
 * The XSAVE feature set (SDM Vol. 2 XSAVE, XRSTOR, XSAVEOPT, XGETBV, XSETBV; handlers in
 * exec/xsave.ts): group 15 memory forms /4 /5 /6 and group 7's 0F 01 D0/D1. They exist only when
 * the CPU model announces XSAVE (qemu64,+xsave; XSAVEOPT also needs +xsaveopt); 66, F2 and F3 make
 * them #UD (66 0F AE /6 is CLWB, absent here), as in QEMU 7.2's translate.c.
 */
export const XSAVE_ROWS: readonly IsaRow[] = [
  row('0f', 0xae, 'XSAVE', 'M', { ext: 4, mod: 'mem', prefix: 'np', feature: 'xsave' }),
  row('0f', 0xae, 'XRSTOR', 'M', { ext: 5, mod: 'mem', prefix: 'np', feature: 'xsave' }),
  row('0f', 0xae, 'XSAVEOPT', 'M', { ext: 6, mod: 'mem', prefix: 'np', feature: 'xsaveopt' }),
  row('0f', 0x01, 'XGETBV', '', { ext: 2, mod: 'reg', rm: 0, prefix: 'np', feature: 'xsave' }),
  row('0f', 0x01, 'XSETBV', '', { ext: 2, mod: 'reg', rm: 1, prefix: 'np', feature: 'xsave', priv: true }),
];
