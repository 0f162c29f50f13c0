import { row, type IsaRow } from './row.js';

/**
 * System instructions of the CPUID features beyond qemu64's base (SDM Vol. 2; QEMU 7.2 translate.c):
 * CLAC/STAC (SMAP), RD/WR FS/GS BASE (FSGSBASE), RDPID, INVPCID, and SYSENTER/SYSEXIT (qemu64 has
 * SEP). A row with a feature decodes only when the CPU model has it (#UD otherwise); the handlers
 * (exec/system-features.ts, exec/sysenter.ts) check CR4, CPL and mode in the order QEMU does.
 */
export const SYSTEM_FEATURE_ROWS: readonly IsaRow[] = [
  // Group 7 register forms: 0F 01 CA / CB. #UD at CPL > 0 (not #GP: the handler checks).
  row('0f', 0x01, 'CLAC', '', { ext: 1, mod: 'reg', rm: 2, feature: 'smap', handler: 'clac' }),
  row('0f', 0x01, 'STAC', '', { ext: 1, mod: 'reg', rm: 3, feature: 'smap', handler: 'stac' }),
  // F3 0F AE /0–/3, register forms, 64-bit mode only (#UD elsewhere, and while CR4.FSGSBASE is clear).
  row('0f', 0xae, 'RDFSBASE', 'Ry', { ext: 0, mod: 'reg', prefix: 0xf3, only64: true, feature: 'fsgsbase', handler: 'rdfsbase' }),
  row('0f', 0xae, 'RDGSBASE', 'Ry', { ext: 1, mod: 'reg', prefix: 0xf3, only64: true, feature: 'fsgsbase', handler: 'rdgsbase' }),
  row('0f', 0xae, 'WRFSBASE', 'Ry', { ext: 2, mod: 'reg', prefix: 0xf3, only64: true, feature: 'fsgsbase', handler: 'wrfsbase' }),
  row('0f', 0xae, 'WRGSBASE', 'Ry', { ext: 3, mod: 'reg', prefix: 0xf3, only64: true, feature: 'fsgsbase', handler: 'wrgsbase' }),
  // F3 0F C7 /7, register form: IA32_TSC_AUX into r64 (64-bit mode) or r32.
  row('0f', 0xc7, 'RDPID', 'Rd', { ext: 7, mod: 'reg', prefix: 0xf3, feature: 'rdpid', handler: 'rdpid' }),
  // 66 0F 38 82 /r: type in r64 (64-bit mode) or r32, a 128-bit descriptor in memory.
  row('0f38', 0x82, 'INVPCID', 'Gq,M', { prefix: 0x66, mod: 'mem', feature: 'invpcid', priv: true, handler: 'invpcid' }),
  // 0F 34 / 0F 35: the handlers raise #UD (vendor rule), #GP(0) outside protected mode or for CPL/MSR checks.
  row('0f', 0x34, 'SYSENTER', '', { w: 'i', handler: 'sysenter' }),
  row('0f', 0x35, 'SYSEXIT', '', { handler: 'sysexit' }),
];
