import { row, type IsaRow, type MandatoryPrefix, type RowOptions } from './row.js';

/**
 * The 0F-map SSE, SSE2 and SSE3 rows other than the integer ones (rows-sse-int.ts): moves,
 * floating point, conversions and the MXCSR/FXSAVE group (SDM Vol. 2 Table A-3; prefix NP, 66,
 * F3, F2 as the SDM's instruction pages give them). qemu64 announces SSE, SSE2 and SSE3, so none
 * of these rows depends on a CPU feature. Handlers are in exec/sse/.
 */

const M = '0f' as const;
const FP_PREFIXES: ReadonlyArray<readonly [MandatoryPrefix, string, string]> = [
  ['np', 'PS', 'Vps,Wps'], [0x66, 'PD', 'Vpd,Wpd'], [0xf3, 'SS', 'Vss,Wss'], [0xf2, 'SD', 'Vsd,Wsd'],
];

function sseRows(): IsaRow[] {
  const rows: IsaRow[] = [];
  const add = (op: number, prefix: MandatoryPrefix, mnemonic: string, forms: string, o: RowOptions = {}) =>
    rows.push(row(M, op, mnemonic, forms, { ...o, prefix }));
  /** The four forms of a floating-point operation: ps, pd, ss, sd. */
  const fp4 = (op: number, name: string, extra = '') => {
    for (const [p, suffix, forms] of FP_PREFIXES) add(op, p, `${name}${suffix}`, forms + extra);
  };

  // Moves (0F 10–17, 28–29, 2B)
  add(0x10, 'np', 'MOVUPS', 'Vps,Wps', { handler: 'mov_x', unaligned: true });
  add(0x10, 0x66, 'MOVUPD', 'Vpd,Wpd', { handler: 'mov_x', unaligned: true });
  add(0x10, 0xf3, 'MOVSS', 'Vss,Wss', { handler: 'movs_load' });
  add(0x10, 0xf2, 'MOVSD', 'Vsd,Wsd', { handler: 'movs_load' });
  add(0x11, 'np', 'MOVUPS', 'Wps,Vps', { handler: 'mov_x', unaligned: true });
  add(0x11, 0x66, 'MOVUPD', 'Wpd,Vpd', { handler: 'mov_x', unaligned: true });
  add(0x11, 0xf3, 'MOVSS', 'Wss,Vss', { handler: 'movs_store' });
  add(0x11, 0xf2, 'MOVSD', 'Wsd,Vsd', { handler: 'movs_store' });
  add(0x12, 'np', 'MOVHLPS', 'Vq,Uq');
  add(0x12, 'np', 'MOVLPS', 'Vq,Mq', { mod: 'mem', handler: 'movlp_load' });
  add(0x12, 0x66, 'MOVLPD', 'Vq,Mq', { mod: 'mem', handler: 'movlp_load' });
  add(0x12, 0xf3, 'MOVSLDUP', 'Vx,Wx');
  add(0x12, 0xf2, 'MOVDDUP', 'Vx,Wq');
  add(0x13, 'np', 'MOVLPS', 'Mq,Vq', { mod: 'mem', handler: 'movlp_store' });
  add(0x13, 0x66, 'MOVLPD', 'Mq,Vq', { mod: 'mem', handler: 'movlp_store' });
  add(0x14, 'np', 'UNPCKLPS', 'Vx,Wx', { handler: 'punpckldq' });
  add(0x14, 0x66, 'UNPCKLPD', 'Vx,Wx', { handler: 'punpcklqdq' });
  add(0x15, 'np', 'UNPCKHPS', 'Vx,Wx', { handler: 'punpckhdq' });
  add(0x15, 0x66, 'UNPCKHPD', 'Vx,Wx', { handler: 'punpckhqdq' });
  add(0x16, 'np', 'MOVLHPS', 'Vdq,Uq');
  add(0x16, 'np', 'MOVHPS', 'Vdq,Mq', { mod: 'mem', handler: 'movhp_load' });
  add(0x16, 0x66, 'MOVHPD', 'Vdq,Mq', { mod: 'mem', handler: 'movhp_load' });
  add(0x16, 0xf3, 'MOVSHDUP', 'Vx,Wx');
  add(0x17, 'np', 'MOVHPS', 'Mq,Vq', { mod: 'mem', handler: 'movhp_store' });
  add(0x17, 0x66, 'MOVHPD', 'Mq,Vq', { mod: 'mem', handler: 'movhp_store' });
  add(0x28, 'np', 'MOVAPS', 'Vps,Wps', { handler: 'mov_x' });
  add(0x28, 0x66, 'MOVAPD', 'Vpd,Wpd', { handler: 'mov_x' });
  add(0x29, 'np', 'MOVAPS', 'Wps,Vps', { handler: 'mov_x' });
  add(0x29, 0x66, 'MOVAPD', 'Wpd,Vpd', { handler: 'mov_x' });
  add(0x2b, 'np', 'MOVNTPS', 'Mps,Vps', { handler: 'mov_x' });
  add(0x2b, 0x66, 'MOVNTPD', 'Mpd,Vpd', { handler: 'mov_x' });

  // Conversions with integers and MMX registers (0F 2A, 2C, 2D)
  add(0x2a, 'np', 'CVTPI2PS', 'Vps,Qpi');
  add(0x2a, 0x66, 'CVTPI2PD', 'Vpd,Qpi');
  add(0x2a, 0xf3, 'CVTSI2SS', 'Vss,Ey');
  add(0x2a, 0xf2, 'CVTSI2SD', 'Vsd,Ey');
  add(0x2c, 'np', 'CVTTPS2PI', 'Ppi,Wq');
  add(0x2c, 0x66, 'CVTTPD2PI', 'Ppi,Wpd');
  add(0x2c, 0xf3, 'CVTTSS2SI', 'Gy,Wss');
  add(0x2c, 0xf2, 'CVTTSD2SI', 'Gy,Wsd');
  add(0x2d, 'np', 'CVTPS2PI', 'Ppi,Wq');
  add(0x2d, 0x66, 'CVTPD2PI', 'Ppi,Wpd');
  add(0x2d, 0xf3, 'CVTSS2SI', 'Gy,Wss');
  add(0x2d, 0xf2, 'CVTSD2SI', 'Gy,Wsd');
  // Ordered/unordered compares into ZF, PF, CF (OF, SF, AF cleared)
  add(0x2e, 'np', 'UCOMISS', 'Vss,Wss', { w: 'oszapc' });
  add(0x2e, 0x66, 'UCOMISD', 'Vsd,Wsd', { w: 'oszapc' });
  add(0x2f, 'np', 'COMISS', 'Vss,Wss', { w: 'oszapc' });
  add(0x2f, 0x66, 'COMISD', 'Vsd,Wsd', { w: 'oszapc' });

  add(0x50, 'np', 'MOVMSKPS', 'Gd,Ups');
  add(0x50, 0x66, 'MOVMSKPD', 'Gd,Upd');
  fp4(0x51, 'SQRT');
  add(0x52, 'np', 'RSQRTPS', 'Vps,Wps');
  add(0x52, 0xf3, 'RSQRTSS', 'Vss,Wss');
  add(0x53, 'np', 'RCPPS', 'Vps,Wps');
  add(0x53, 0xf3, 'RCPSS', 'Vss,Wss');
  // Bitwise logic on floating-point registers: the integer operations.
  for (const [op, name, handler] of [[0x54, 'AND', 'pand'], [0x55, 'ANDN', 'pandn'], [0x56, 'OR', 'por'], [0x57, 'XOR', 'pxor']] as const) {
    add(op, 'np', `${name}PS`, 'Vps,Wps', { handler });
    add(op, 0x66, `${name}PD`, 'Vpd,Wpd', { handler });
  }
  fp4(0x58, 'ADD');
  fp4(0x59, 'MUL');
  add(0x5a, 'np', 'CVTPS2PD', 'Vpd,Wq');
  add(0x5a, 0x66, 'CVTPD2PS', 'Vps,Wpd');
  add(0x5a, 0xf3, 'CVTSS2SD', 'Vsd,Wss');
  add(0x5a, 0xf2, 'CVTSD2SS', 'Vss,Wsd');
  add(0x5b, 'np', 'CVTDQ2PS', 'Vps,Wdq');
  add(0x5b, 0x66, 'CVTPS2DQ', 'Vdq,Wps');
  add(0x5b, 0xf3, 'CVTTPS2DQ', 'Vdq,Wps');
  fp4(0x5c, 'SUB');
  fp4(0x5d, 'MIN');
  fp4(0x5e, 'DIV');
  fp4(0x5f, 'MAX');

  // MOVD/MOVQ with general registers (REX.W: MOVQ), MOVQ/MOVDQA/MOVDQU
  add(0x6e, 'np', 'MOVD', 'Pd,Ey', { handler: 'movd_load' });
  add(0x6e, 0x66, 'MOVD', 'Vy,Ey', { handler: 'movd_load' });
  add(0x6f, 'np', 'MOVQ', 'Pq,Qq', { handler: 'movq_mm' });
  add(0x6f, 0x66, 'MOVDQA', 'Vx,Wx', { handler: 'mov_x' });
  add(0x6f, 0xf3, 'MOVDQU', 'Vx,Wx', { handler: 'mov_x', unaligned: true });
  add(0x7c, 0x66, 'HADDPD', 'Vpd,Wpd');
  add(0x7c, 0xf2, 'HADDPS', 'Vps,Wps');
  add(0x7d, 0x66, 'HSUBPD', 'Vpd,Wpd');
  add(0x7d, 0xf2, 'HSUBPS', 'Vps,Wps');
  add(0x7e, 'np', 'MOVD', 'Ey,Pd', { handler: 'movd_store' });
  add(0x7e, 0x66, 'MOVD', 'Ey,Vy', { handler: 'movd_store' });
  add(0x7e, 0xf3, 'MOVQ', 'Vq,Wq', { handler: 'movq_load' });
  add(0x7f, 'np', 'MOVQ', 'Qq,Pq', { handler: 'movq_mm' });
  add(0x7f, 0x66, 'MOVDQA', 'Wx,Vx', { handler: 'mov_x' });
  add(0x7f, 0xf3, 'MOVDQU', 'Wx,Vx', { handler: 'mov_x', unaligned: true });

  // Group 15 memory forms: FXSAVE/FXRSTOR (REX.W: the 64-bit pointer format), MXCSR load/store.
  rows.push(row(M, 0xae, 'FXSAVE', 'M', { ext: 0, mod: 'mem' }));
  rows.push(row(M, 0xae, 'FXRSTOR', 'M', { ext: 1, mod: 'mem' }));
  rows.push(row(M, 0xae, 'LDMXCSR', 'Md', { ext: 2, mod: 'mem' }));
  rows.push(row(M, 0xae, 'STMXCSR', 'Md', { ext: 3, mod: 'mem' }));

  fp4(0xc2, 'CMP', ',Ib');
  // MOVNTI: no mandatory prefix (QEMU 7.2 runs it with 66, F2 or F3 too; 66 stores 32 bits).
  rows.push(row(M, 0xc3, 'MOVNTI', 'My,Gy', { handler: 'movnti' }));
  add(0xc6, 'np', 'SHUFPS', 'Vps,Wps,Ib');
  add(0xc6, 0x66, 'SHUFPD', 'Vpd,Wpd,Ib');
  add(0xd0, 0x66, 'ADDSUBPD', 'Vpd,Wpd');
  add(0xd0, 0xf2, 'ADDSUBPS', 'Vps,Wps');
  add(0xd6, 0x66, 'MOVQ', 'Wq,Vq', { handler: 'movq_store' });
  add(0xd6, 0xf3, 'MOVQ2DQ', 'Vdq,Nq');
  add(0xd6, 0xf2, 'MOVDQ2Q', 'Pq,Uq');
  add(0xe6, 0x66, 'CVTTPD2DQ', 'Vx,Wpd');
  add(0xe6, 0xf3, 'CVTDQ2PD', 'Vx,Wq');
  add(0xe6, 0xf2, 'CVTPD2DQ', 'Vx,Wpd');
  add(0xf0, 0xf2, 'LDDQU', 'Vx,Mx', { handler: 'mov_x', unaligned: true });
  return rows;
}

export const SSE_ROWS: readonly IsaRow[] = sseRows();
