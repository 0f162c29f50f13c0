import type { Block } from '../exec/block-compiler.js';
import type { IsaRow } from '../isa/row.js';

/** Operand types after decoding (the row's E/G/Z/I… resolved against the actual bytes). */
export const enum Opnd {
  None = 0,
  Reg = 1, // general register; number in `reg[i]` (16–19 = AH, CH, DH, BH)
  Mem = 2, // the instruction's memory operand (ModRM/SIB or moffs)
  Imm = 3, // `imm`/`immHi`
  Imm2 = 4, // second immediate (ENTER's level)
  One = 5, // constant 1
  Other = 6, // operand the handler reads from the instruction fields itself (Sreg, CRn, strings…)
}

/** Segment register numbers as the encoding orders them. */
export const enum Seg {
  ES = 0,
  CS = 1,
  SS = 2,
  DS = 3,
  FS = 4,
  GS = 5,
}

/** Sentinel for the memory operand's base when it is RIP-relative. */
export const BASE_RIP = 16;

/** One decoded instruction. Pure data: decoding never touches CPU state. */
export class Insn {
  row!: IsaRow;
  len = 0;
  /** Operand size in bytes (2/4/8) after prefixes and the row's size rule. */
  osize = 4;
  /** Address size in bytes (4/8; 2 only outside 64-bit mode). */
  asize = 8;
  rex = 0;
  /** Raw ModRM fields; reg and rm include REX.R/REX.B. */
  mod = 0;
  reg = 0;
  rm = 0;
  /** Memory operand: base/index register numbers or -1, scale as shift count, signed displacement. */
  base = -1;
  index = -1;
  scale = 0;
  disp = 0;
  /** Effective segment of the memory operand (override, or DS/SS by base register). */
  seg: Seg = Seg.DS;
  /** A segment override prefix was present (matters for string sources and moffs). */
  segOverride = false;
  /**
   * The last segment prefix's register, also one 64-bit mode ignores (ES/CS/SS/DS), or -1:
   * QEMU 7.2 records it as the x87 data selector FDS (fpu/dispatch.ts).
   */
  segPrefix = -1;
  /** moffs / absolute: the full 64-bit offset lives in disp (lo) and dispHi. */
  dispHi = 0;
  absolute = false;
  hasMem = false;
  imm = 0;
  immHi = 0;
  imm2 = 0;
  lock = false;
  /** Last F2/F3 prefix, 0 if none. */
  rep = 0;
  opsizePrefix = false;
  /** Operand types, register numbers and sizes in bytes, by position. */
  readonly ot: number[] = [0, 0, 0];
  readonly or: number[] = [0, 0, 0];
  readonly os: number[] = [0, 0, 0];
  /** Handler parameter copied from the row. */
  arg = 0;
  /** Set by the machine once per decode: handler, whether to precompute the EA, decode-mode key. */
  exec: ((c: never, d: Insn) => void) | null = null;
  needsEa = false;
  modeKey = 0;
  /** row.id (read per step for coverage). */
  rowId = -1;
  /** LOCK prefix or a privileged row: the machine checks #UD/#GP before executing. */
  checks = false;
  /** Specialised handlers (exec/fast.ts): c.regs index (2n) of register operands 0 and 1. */
  ra = 0;
  rb = 0;
  /** A compiled block can start here (exec/block-compiler.ts compilable). */
  startsBlocks = false;
  /** Times a run entered the code here (Machine compiles a block when it gets hot). */
  heat = 0;
  /** The compiled block starting here (exec/block-compiler.ts), if any. */
  block: Block | undefined = undefined;
}
