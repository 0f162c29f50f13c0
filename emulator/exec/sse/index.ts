import type { Cpu } from '../../cpu/cpu.js';
import type { Insn } from '../../decode/insn.js';
import { CONVERT_HANDLERS } from './fp-convert.js';
import { FP_ARITH_HANDLERS } from './fp-arith.js';
import { INT_ARITH_HANDLERS } from './int-arith.js';
import { MOVE_HANDLERS } from './moves.js';
import { SHUFFLE_HANDLERS } from './shuffle.js';
import { STATE_HANDLERS } from './state.js';

/** Every SSE/MMX handler by the name the rows give (emulator/isa/rows-sse*.ts). */
export const SSE_HANDLERS: Readonly<Record<string, (c: Cpu, d: Insn) => void>> = {
  ...MOVE_HANDLERS,
  ...INT_ARITH_HANDLERS,
  ...SHUFFLE_HANDLERS,
  ...FP_ARITH_HANDLERS,
  ...CONVERT_HANDLERS,
  ...STATE_HANDLERS,
};
