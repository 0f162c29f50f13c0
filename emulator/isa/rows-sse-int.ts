import { row, type IsaRow, type RowOptions } from './row.js';

/**
 * The 0F-map integer SIMD rows (SDM Vol. 2 Table A-3): MMX forms without a prefix on MM
 * registers (P/Q/N), SSE2 forms with the 66 prefix on XMM registers (V/W/U). Both forms of one
 * mnemonic share a handler (the mnemonic in lower case, exec/sse/), which tells them apart by
 * the operand kinds. Rows with only an XMM form (PUNPCKLQDQ, PSRLDQ…) say so.
 */

const M = '0f' as const;

/** Integer operations with an MMX form (Pq,Qq or as given) and an SSE2 form (Vx,Wx). */
const PACKED: ReadonlyArray<readonly [number, string, string?]> = [
  [0x60, 'PUNPCKLBW', 'Pq,Qd'], [0x61, 'PUNPCKLWD', 'Pq,Qd'], [0x62, 'PUNPCKLDQ', 'Pq,Qd'],
  [0x63, 'PACKSSWB'], [0x64, 'PCMPGTB'], [0x65, 'PCMPGTW'], [0x66, 'PCMPGTD'], [0x67, 'PACKUSWB'],
  [0x68, 'PUNPCKHBW'], [0x69, 'PUNPCKHWD'], [0x6a, 'PUNPCKHDQ'], [0x6b, 'PACKSSDW'],
  [0x74, 'PCMPEQB'], [0x75, 'PCMPEQW'], [0x76, 'PCMPEQD'],
  [0xd1, 'PSRLW'], [0xd2, 'PSRLD'], [0xd3, 'PSRLQ'], [0xd4, 'PADDQ'], [0xd5, 'PMULLW'],
  [0xd8, 'PSUBUSB'], [0xd9, 'PSUBUSW'], [0xda, 'PMINUB'], [0xdb, 'PAND'], [0xdc, 'PADDUSB'], [0xdd, 'PADDUSW'], [0xde, 'PMAXUB'], [0xdf, 'PANDN'],
  [0xe0, 'PAVGB'], [0xe1, 'PSRAW'], [0xe2, 'PSRAD'], [0xe3, 'PAVGW'], [0xe4, 'PMULHUW'], [0xe5, 'PMULHW'],
  [0xe8, 'PSUBSB'], [0xe9, 'PSUBSW'], [0xea, 'PMINSW'], [0xeb, 'POR'], [0xec, 'PADDSB'], [0xed, 'PADDSW'], [0xee, 'PMAXSW'], [0xef, 'PXOR'],
  [0xf1, 'PSLLW'], [0xf2, 'PSLLD'], [0xf3, 'PSLLQ'], [0xf4, 'PMULUDQ'], [0xf5, 'PMADDWD'], [0xf6, 'PSADBW'],
  [0xf8, 'PSUBB'], [0xf9, 'PSUBW'], [0xfa, 'PSUBD'], [0xfb, 'PSUBQ'], [0xfc, 'PADDB'], [0xfd, 'PADDW'], [0xfe, 'PADDD'],
];

/** Shifts by an immediate (groups 12–14, 0F 71–73): ModRM.reg selects the operation. */
const SHIFT_IMM: ReadonlyArray<readonly [number, number, string, boolean]> = [
  [0x71, 2, 'PSRLW', true], [0x71, 4, 'PSRAW', true], [0x71, 6, 'PSLLW', true],
  [0x72, 2, 'PSRLD', true], [0x72, 4, 'PSRAD', true], [0x72, 6, 'PSLLD', true],
  [0x73, 2, 'PSRLQ', true], [0x73, 3, 'PSRLDQ', false], [0x73, 6, 'PSLLQ', true], [0x73, 7, 'PSLLDQ', false],
];

function intRows(): IsaRow[] {
  const rows: IsaRow[] = [];
  const both = (op: number, mnemonic: string, mmx: string, sse: string, o: RowOptions = {}) => {
    rows.push(row(M, op, mnemonic, mmx, { ...o, prefix: 'np' }));
    rows.push(row(M, op, mnemonic, sse, { ...o, prefix: 0x66 }));
  };
  for (const [op, mnemonic, mmx] of PACKED) both(op, mnemonic, mmx ?? 'Pq,Qq', 'Vx,Wx');
  rows.push(row(M, 0x6c, 'PUNPCKLQDQ', 'Vx,Wx', { prefix: 0x66 }));
  rows.push(row(M, 0x6d, 'PUNPCKHQDQ', 'Vx,Wx', { prefix: 0x66 }));
  for (const [op, ext, mnemonic, mmx] of SHIFT_IMM) {
    const handler = `${mnemonic.toLowerCase()}_imm`;
    if (mmx) rows.push(row(M, op, mnemonic, 'Nq,Ib', { ext, prefix: 'np', handler }));
    rows.push(row(M, op, mnemonic, 'Ux,Ib', { ext, prefix: 0x66, handler }));
  }
  rows.push(row(M, 0x70, 'PSHUFW', 'Pq,Qq,Ib', { prefix: 'np' }));
  rows.push(row(M, 0x70, 'PSHUFD', 'Vx,Wx,Ib', { prefix: 0x66 }));
  rows.push(row(M, 0x70, 'PSHUFHW', 'Vx,Wx,Ib', { prefix: 0xf3 }));
  rows.push(row(M, 0x70, 'PSHUFLW', 'Vx,Wx,Ib', { prefix: 0xf2 }));
  rows.push(row(M, 0x77, 'EMMS', '', { prefix: 'np' }));
  // PINSRW takes the low word of a general register or a word of memory (SDM: Ry/Mw).
  both(0xc4, 'PINSRW', 'Pq,Ew,Ib', 'Vdq,Ew,Ib');
  both(0xc5, 'PEXTRW', 'Gd,Nq,Ib', 'Gd,Udq,Ib');
  both(0xd7, 'PMOVMSKB', 'Gd,Nq', 'Gd,Ux');
  rows.push(row(M, 0xe7, 'MOVNTQ', 'Mq,Pq', { prefix: 'np', handler: 'movq_mm' }));
  rows.push(row(M, 0xe7, 'MOVNTDQ', 'Mx,Vx', { prefix: 0x66, handler: 'mov_x' }));
  // MASKMOVQ/MASKMOVDQU store to DS:rDI (an implicit operand the handler addresses itself).
  rows.push(row(M, 0xf7, 'MASKMOVQ', 'Pq,Nq', { prefix: 'np', handler: 'maskmov' }));
  rows.push(row(M, 0xf7, 'MASKMOVDQU', 'Vdq,Udq', { prefix: 0x66, handler: 'maskmov' }));
  return rows;
}

export const SSE_INT_ROWS: readonly IsaRow[] = intRows();
