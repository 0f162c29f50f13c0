import { row, type IsaRow } from './row.js';

/**
 * The x87 escape opcodes D8–DF (SDM Vol. 2 Appendix A.4, "Escape Opcode Instructions"):
 * memory forms chosen by ModRM.reg, register forms by reg and (for the D9/DA/DB/DE/DF
 * groups) rm. Every x87 row dispatches to the one `x87` handler (emulator/fpu/dispatch.ts)
 * with `arg` naming the operation; the forms string gives the memory operand's size
 * (d = m32, q = m64, w = m16, bare M = m80 or an environment image) and is empty for
 * register forms, whose operand is ST(i) = ModRM.rm.
 *
 * Encodings the SDM leaves unlisted but QEMU 7.2 executes as aliases are rows too
 * (marked "alias"): D9 D8+i FSTP, DC D0+i FCOM, DC D8+i FCOMP, DD C8+i FXCH, DE D0+i FCOMP,
 * DF C0+i FFREEP, DF C8+i FXCH, DF D0+i / D8+i FSTP. QEMU's other holes (D9 /1 memory,
 * DB /4 and /6 memory, DD /5 memory, D9 D1–D7, …) have no row and decode to #UD.
 */

export const enum X87Op {
  ArithMem, // D8/DA/DC/DE memory: op by reg, source type by opcode
  FldM32, FldM64, FldM80, FildM16, FildM32, FildM64,
  FstM32, FstpM32, FstM64, FstpM64, FstpM80,
  FistM16, FistpM16, FistM32, FistpM32, FistpM64,
  FisttpM16, FisttpM32, FisttpM64,
  Fldenv, Fldcw, Fnstenv, Fnstcw, Frstor, Fnsave, FnstswM, Fbld, Fbstp,
  ArithSt0Sti, // D8 register: ST(0) ← ST(0) op ST(i) (FCOM/FCOMP at reg 2/3)
  ArithStiSt0, // DC register: ST(i) ← ST(i) op ST(0)
  ArithpStiSt0, // DE register: same, then pop
  Fcom, Fcomp, Fcompp, Fucom, Fucomp, Fucompp, Fcomi, Fcomip, Fucomi, Fucomip,
  FldSti, Fxch, FstSti, FstpSti, Ffree, Ffreep,
  Fnop, Fchs, Fabs, Ftst, Fxam, FldConst,
  F2xm1, Fyl2x, Fptan, Fpatan, Fxtract, Fprem1, Fdecstp, Fincstp,
  Fprem, Fyl2xp1, Fsqrt, Fsincos, Frndint, Fscale, Fsin, Fcos,
  Fcmov, // DA/DB register: condition from opcode and reg
  Nop287, // FENI/FDISI/FSETPM: 287-only, no-ops
  Fnclex, Fninit, FnstswAx,
}

const ARITH = ['FADD', 'FMUL', 'FCOM', 'FCOMP', 'FSUB', 'FSUBR', 'FDIV', 'FDIVR'] as const;
const FCMOV = ['FCMOVB', 'FCMOVE', 'FCMOVBE', 'FCMOVU'] as const;
const FCMOV_FLAGS = ['c', 'z', 'cz', 'p'] as const;

function x87Rows(): IsaRow[] {
  const rows: IsaRow[] = [];
  const mem = (opcode: number, ext: number, mnemonic: string, forms: string, op: X87Op) =>
    rows.push(row('one', opcode, mnemonic, forms, { ext, mod: 'mem', handler: 'x87', arg: op, modrm: true }));
  const reg = (opcode: number, ext: number, mnemonic: string, op: X87Op, rm?: number, flags: { r?: string; w?: string } = {}) =>
    rows.push(row('one', opcode, mnemonic, '', { ext, mod: 'reg', rm, handler: 'x87', arg: op, modrm: true, ...flags }));

  // Memory arithmetic: m32fp (D8), m32int (DA), m64fp (DC), m16int (DE).
  const sources: Array<[number, string, string]> = [[0xd8, '', 'Md'], [0xda, 'I', 'Md'], [0xdc, '', 'Mq'], [0xde, 'I', 'Mw']];
  for (const [opcode, prefix, forms] of sources) {
    ARITH.forEach((name, ext) => mem(opcode, ext, name.replace(/^F/, `F${prefix}`), forms, X87Op.ArithMem));
  }
  mem(0xd9, 0, 'FLD', 'Md', X87Op.FldM32);
  mem(0xd9, 2, 'FST', 'Md', X87Op.FstM32);
  mem(0xd9, 3, 'FSTP', 'Md', X87Op.FstpM32);
  mem(0xd9, 4, 'FLDENV', 'M', X87Op.Fldenv);
  mem(0xd9, 5, 'FLDCW', 'Mw', X87Op.Fldcw);
  mem(0xd9, 6, 'FNSTENV', 'M', X87Op.Fnstenv);
  mem(0xd9, 7, 'FNSTCW', 'Mw', X87Op.Fnstcw);
  mem(0xdb, 0, 'FILD', 'Md', X87Op.FildM32);
  mem(0xdb, 1, 'FISTTP', 'Md', X87Op.FisttpM32);
  mem(0xdb, 2, 'FIST', 'Md', X87Op.FistM32);
  mem(0xdb, 3, 'FISTP', 'Md', X87Op.FistpM32);
  mem(0xdb, 5, 'FLD', 'M', X87Op.FldM80);
  mem(0xdb, 7, 'FSTP', 'M', X87Op.FstpM80);
  mem(0xdd, 0, 'FLD', 'Mq', X87Op.FldM64);
  mem(0xdd, 1, 'FISTTP', 'Mq', X87Op.FisttpM64);
  mem(0xdd, 2, 'FST', 'Mq', X87Op.FstM64);
  mem(0xdd, 3, 'FSTP', 'Mq', X87Op.FstpM64);
  mem(0xdd, 4, 'FRSTOR', 'M', X87Op.Frstor);
  mem(0xdd, 6, 'FNSAVE', 'M', X87Op.Fnsave);
  mem(0xdd, 7, 'FNSTSW', 'Mw', X87Op.FnstswM);
  mem(0xdf, 0, 'FILD', 'Mw', X87Op.FildM16);
  mem(0xdf, 1, 'FISTTP', 'Mw', X87Op.FisttpM16);
  mem(0xdf, 2, 'FIST', 'Mw', X87Op.FistM16);
  mem(0xdf, 3, 'FISTP', 'Mw', X87Op.FistpM16);
  mem(0xdf, 4, 'FBLD', 'M', X87Op.Fbld);
  mem(0xdf, 5, 'FILD', 'Mq', X87Op.FildM64);
  mem(0xdf, 6, 'FBSTP', 'M', X87Op.Fbstp);
  mem(0xdf, 7, 'FISTP', 'Mq', X87Op.FistpM64);

  // D8: ST(0) ← ST(0) op ST(i).
  ARITH.forEach((name, ext) => reg(0xd8, ext, name, X87Op.ArithSt0Sti));
  // D9.
  reg(0xd9, 0, 'FLD', X87Op.FldSti);
  reg(0xd9, 1, 'FXCH', X87Op.Fxch);
  reg(0xd9, 2, 'FNOP', X87Op.Fnop, 0);
  reg(0xd9, 3, 'FSTP (alias)', X87Op.FstpSti);
  reg(0xd9, 4, 'FCHS', X87Op.Fchs, 0);
  reg(0xd9, 4, 'FABS', X87Op.Fabs, 1);
  reg(0xd9, 4, 'FTST', X87Op.Ftst, 4);
  reg(0xd9, 4, 'FXAM', X87Op.Fxam, 5);
  ['FLD1', 'FLDL2T', 'FLDL2E', 'FLDPI', 'FLDLG2', 'FLDLN2', 'FLDZ'].forEach((name, rm) => reg(0xd9, 5, name, X87Op.FldConst, rm));
  const d9f0: Array<[string, X87Op]> = [['F2XM1', X87Op.F2xm1], ['FYL2X', X87Op.Fyl2x], ['FPTAN', X87Op.Fptan], ['FPATAN', X87Op.Fpatan],
    ['FXTRACT', X87Op.Fxtract], ['FPREM1', X87Op.Fprem1], ['FDECSTP', X87Op.Fdecstp], ['FINCSTP', X87Op.Fincstp]];
  d9f0.forEach(([name, op], rm) => reg(0xd9, 6, name, op, rm));
  const d9f8: Array<[string, X87Op]> = [['FPREM', X87Op.Fprem], ['FYL2XP1', X87Op.Fyl2xp1], ['FSQRT', X87Op.Fsqrt], ['FSINCOS', X87Op.Fsincos],
    ['FRNDINT', X87Op.Frndint], ['FSCALE', X87Op.Fscale], ['FSIN', X87Op.Fsin], ['FCOS', X87Op.Fcos]];
  d9f8.forEach(([name, op], rm) => reg(0xd9, 7, name, op, rm));
  // DA/DB: FCMOVcc, FUCOMPP, the DB E0–E4 group, FUCOMI/FCOMI.
  FCMOV.forEach((name, ext) => {
    reg(0xda, ext, name, X87Op.Fcmov, undefined, { r: FCMOV_FLAGS[ext] });
    reg(0xdb, ext, name.replace('FCMOV', 'FCMOVN'), X87Op.Fcmov, undefined, { r: FCMOV_FLAGS[ext] });
  });
  reg(0xda, 5, 'FUCOMPP', X87Op.Fucompp, 1);
  reg(0xdb, 4, 'FENI', X87Op.Nop287, 0);
  reg(0xdb, 4, 'FDISI', X87Op.Nop287, 1);
  reg(0xdb, 4, 'FNCLEX', X87Op.Fnclex, 2);
  reg(0xdb, 4, 'FNINIT', X87Op.Fninit, 3);
  reg(0xdb, 4, 'FSETPM', X87Op.Nop287, 4);
  reg(0xdb, 5, 'FUCOMI', X87Op.Fucomi, undefined, { w: 'zpc' });
  reg(0xdb, 6, 'FCOMI', X87Op.Fcomi, undefined, { w: 'zpc' });
  // DC: ST(i) ← ST(i) op ST(0) (the SDM's FSUBR/FSUB and FDIVR/FDIV order at reg 4–7).
  ['FADD', 'FMUL', 'FCOM (alias)', 'FCOMP (alias)', 'FSUBR', 'FSUB', 'FDIVR', 'FDIV'].forEach((name, ext) =>
    reg(0xdc, ext, name, ext === 2 ? X87Op.Fcom : ext === 3 ? X87Op.Fcomp : X87Op.ArithStiSt0));
  // DD.
  reg(0xdd, 0, 'FFREE', X87Op.Ffree);
  reg(0xdd, 1, 'FXCH (alias)', X87Op.Fxch);
  reg(0xdd, 2, 'FST', X87Op.FstSti);
  reg(0xdd, 3, 'FSTP', X87Op.FstpSti);
  reg(0xdd, 4, 'FUCOM', X87Op.Fucom);
  reg(0xdd, 5, 'FUCOMP', X87Op.Fucomp);
  // DE: the popping forms.
  ['FADDP', 'FMULP', 'FCOMP (alias)', '', 'FSUBRP', 'FSUBP', 'FDIVRP', 'FDIVP'].forEach((name, ext) => {
    if (ext !== 3) reg(0xde, ext, name, ext === 2 ? X87Op.Fcomp : X87Op.ArithpStiSt0);
  });
  reg(0xde, 3, 'FCOMPP', X87Op.Fcompp, 1);
  // DF.
  reg(0xdf, 0, 'FFREEP (alias)', X87Op.Ffreep);
  reg(0xdf, 1, 'FXCH (alias)', X87Op.Fxch);
  reg(0xdf, 2, 'FSTP (alias)', X87Op.FstpSti);
  reg(0xdf, 3, 'FSTP (alias)', X87Op.FstpSti);
  reg(0xdf, 4, 'FNSTSW', X87Op.FnstswAx, 0);
  reg(0xdf, 5, 'FUCOMIP', X87Op.Fucomip, undefined, { w: 'zpc' });
  reg(0xdf, 6, 'FCOMIP', X87Op.Fcomip, undefined, { w: 'zpc' });
  return rows;
}

export const X87_ROWS: readonly IsaRow[] = x87Rows();
