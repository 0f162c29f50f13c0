import { CR0_TS, type Cpu } from '../cpu/cpu.js';
import { Seg, type Insn } from '../decode/insn.js';
import { X87Op } from '../isa/rows-x87.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';
import { checkPending, readM16, writeM16 } from './access.js';
import { envForm, fnsave, frstor, loadEnv, storeEnv } from './environment.js';
import * as a from './ops-arith.js';
import * as m from './ops-data.js';
import { fpatan } from './ops-atan.js';
import { f2xm1 } from './ops-f2xm1.js';
import { fyl2x, fyl2xp1 } from './ops-log.js';
import * as t from './ops-transcendental.js';
import { FSW_CC } from './x87-state.js';
import type { X87 } from './x87-state.js';

/**
 * The `x87` handler of every D8–DF row: #NM when CR0.EM or CR0.TS is set, then the operation
 * named by the row's arg, then the last-instruction pointers (FIP/FCS and, for memory forms,
 * FDP/FDS) except for the control instructions QEMU 7.2 exempts.
 */

type Op = (c: Cpu, f: X87, d: Insn, reg: number, rm: number) => void;

const CR0_MP = 0x2;
const CR0_EM = 0x4;

const OPS: Record<X87Op, Op> = {
  [X87Op.ArithMem]: (c, f, d, reg) => a.arithMem(c, f, reg, d.row.opcode),
  [X87Op.FldM32]: (c, f) => m.fldM32(c, f),
  [X87Op.FldM64]: (c, f) => m.fldM64(c, f),
  [X87Op.FldM80]: (c, f) => m.fldM80(c, f),
  [X87Op.FildM16]: (c, f) => m.fildM16(c, f),
  [X87Op.FildM32]: (c, f) => m.fildM32(c, f),
  [X87Op.FildM64]: (c, f) => m.fildM64(c, f),
  [X87Op.FstM32]: (c, f) => m.fstM32(c, f, false),
  [X87Op.FstpM32]: (c, f) => m.fstM32(c, f, true),
  [X87Op.FstM64]: (c, f) => m.fstM64(c, f, false),
  [X87Op.FstpM64]: (c, f) => m.fstM64(c, f, true),
  [X87Op.FstpM80]: (c, f) => m.fstpM80(c, f),
  [X87Op.FistM16]: (c, f) => m.fist(c, f, 16, false, false),
  [X87Op.FistpM16]: (c, f) => m.fist(c, f, 16, false, true),
  [X87Op.FistM32]: (c, f) => m.fist(c, f, 32, false, false),
  [X87Op.FistpM32]: (c, f) => m.fist(c, f, 32, false, true),
  [X87Op.FistpM64]: (c, f) => m.fist(c, f, 64, false, true),
  [X87Op.FisttpM16]: (c, f) => m.fist(c, f, 16, true, true),
  [X87Op.FisttpM32]: (c, f) => m.fist(c, f, 32, true, true),
  [X87Op.FisttpM64]: (c, f) => m.fist(c, f, 64, true, true),
  [X87Op.Fldenv]: (c, f, d) => loadEnv(c, f, c.lin, envForm(d.osize)),
  [X87Op.Fldcw]: (c, f) => {
    f.fcw = readM16(c, c.lin);
  },
  [X87Op.Fnstenv]: (c, f, d) => storeEnv(c, f, c.lin, envForm(d.osize)),
  [X87Op.Fnstcw]: (c, f) => writeM16(c, c.lin, f.fcw),
  [X87Op.Frstor]: (c, f, d) => frstor(c, f, c.lin, envForm(d.osize)),
  [X87Op.Fnsave]: (c, f, d) => fnsave(c, f, c.lin, envForm(d.osize)),
  [X87Op.FnstswM]: (c, f) => writeM16(c, c.lin, f.statusWord),
  [X87Op.Fbld]: (c, f) => m.fbld(c, f),
  [X87Op.Fbstp]: (c, f) => m.fbstp(c, f),
  [X87Op.ArithSt0Sti]: (_c, f, _d, reg, rm) => a.arithSt0Sti(f, reg, rm),
  [X87Op.ArithStiSt0]: (_c, f, _d, reg, rm) => a.arithStiSt0(f, reg, rm, false),
  [X87Op.ArithpStiSt0]: (_c, f, _d, reg, rm) => a.arithStiSt0(f, reg, rm, true),
  [X87Op.Fcom]: (_c, f, _d, _reg, rm) => a.fcom(f, rm, false, 0),
  [X87Op.Fcomp]: (_c, f, _d, _reg, rm) => a.fcom(f, rm, false, 1),
  [X87Op.Fcompp]: (_c, f) => a.fcom(f, 1, false, 2),
  [X87Op.Fucom]: (_c, f, _d, _reg, rm) => a.fcom(f, rm, true, 0),
  [X87Op.Fucomp]: (_c, f, _d, _reg, rm) => a.fcom(f, rm, true, 1),
  [X87Op.Fucompp]: (_c, f) => a.fcom(f, 1, true, 2),
  [X87Op.Fcomi]: (c, f, _d, _reg, rm) => a.fcomi(c, f, rm, false, false),
  [X87Op.Fcomip]: (c, f, _d, _reg, rm) => a.fcomi(c, f, rm, false, true),
  [X87Op.Fucomi]: (c, f, _d, _reg, rm) => a.fcomi(c, f, rm, true, false),
  [X87Op.Fucomip]: (c, f, _d, _reg, rm) => a.fcomi(c, f, rm, true, true),
  [X87Op.FldSti]: (_c, f, _d, _reg, rm) => m.fldSti(f, rm),
  [X87Op.Fxch]: (_c, f, _d, _reg, rm) => m.fxch(f, rm),
  [X87Op.FstSti]: (_c, f, _d, _reg, rm) => m.fstSti(f, rm, false),
  [X87Op.FstpSti]: (_c, f, _d, _reg, rm) => m.fstSti(f, rm, true),
  [X87Op.Ffree]: (_c, f, _d, _reg, rm) => m.ffree(f, rm, false),
  [X87Op.Ffreep]: (_c, f, _d, _reg, rm) => m.ffree(f, rm, true),
  [X87Op.Fnop]: (c, f) => checkPending(c, f),
  [X87Op.Fchs]: (_c, f) => m.fchs(f),
  [X87Op.Fabs]: (_c, f) => m.fabs(f),
  [X87Op.Ftst]: (_c, f) => a.ftst(f),
  [X87Op.Fxam]: (_c, f) => m.fxam(f),
  [X87Op.FldConst]: (_c, f, _d, _reg, rm) => m.fldConst(f, rm),
  [X87Op.F2xm1]: (_c, f) => f2xm1(f),
  [X87Op.Fyl2x]: (_c, f) => fyl2x(f),
  [X87Op.Fptan]: (_c, f) => t.fptan(f),
  [X87Op.Fpatan]: (_c, f) => fpatan(f),
  [X87Op.Fxtract]: (_c, f) => a.fxtract(f),
  [X87Op.Fprem1]: (_c, f) => a.fprem(f, false),
  [X87Op.Fdecstp]: (_c, f) => {
    f.top = (f.top - 1) & 7;
    f.fsw &= ~FSW_CC;
  },
  [X87Op.Fincstp]: (_c, f) => {
    f.top = (f.top + 1) & 7;
    f.fsw &= ~FSW_CC;
  },
  [X87Op.Fprem]: (_c, f) => a.fprem(f, true),
  [X87Op.Fyl2xp1]: (_c, f) => fyl2xp1(f),
  [X87Op.Fsqrt]: (_c, f) => a.fsqrt(f),
  [X87Op.Fsincos]: (_c, f) => t.fsincos(f),
  [X87Op.Frndint]: (_c, f) => a.frndint(f),
  [X87Op.Fscale]: (_c, f) => a.fscale(f),
  [X87Op.Fsin]: (_c, f) => t.fsin(f),
  [X87Op.Fcos]: (_c, f) => t.fcos(f),
  [X87Op.Fcmov]: (c, f, d, reg, rm) => a.fcmov(c, f, reg, rm, d.row.opcode),
  [X87Op.Nop287]: () => {},
  [X87Op.Fnclex]: (_c, f) => {
    f.fsw &= 0x7f00;
  },
  [X87Op.Fninit]: (_c, f) => f.init(),
  [X87Op.FnstswAx]: (c, f) => c.setReg(0, 2, f.statusWord),
};

/** Operations after which QEMU 7.2 leaves FIP/FCS/FDP/FDS unchanged. */
const KEEPS_POINTERS = new Set<X87Op>([
  X87Op.Fldenv, X87Op.Fldcw, X87Op.Fnstenv, X87Op.Fnstcw, X87Op.Frstor, X87Op.Fnsave, X87Op.FnstswM,
  X87Op.Fnop, X87Op.Fnclex, X87Op.Fninit,
]);

export function x87(c: Cpu, d: Insn): void {
  if (c.cr0 & (CR0_EM | CR0_TS)) throw new GuestFault(Vec.NM);
  const f = c.fpu;
  const op = d.arg as X87Op;
  OPS[op](c, f, d, d.row.ext ?? 0, d.rm & 7);
  if (KEEPS_POINTERS.has(op)) return;
  f.fip = BigInt.asUintN(64, BigInt(c.rip));
  f.fcs = c.segSel[Seg.CS]!;
  if (d.hasMem) {
    c.effectiveAddress(d);
    f.fdp = (BigInt(c.eaHi >>> 0) << 32n) | BigInt(c.eaLo >>> 0);
    // QEMU 7.2 records the last segment prefix, also one 64-bit mode ignores (CS/DS/ES/SS),
    // where the host CPU records the segment the operand used (CpuModel.simdResultsAsQemu)
    f.fds = c.segSel[c.model.simdResultsAsQemu && d.segPrefix >= 0 ? d.segPrefix : d.seg]!;
  }
}

/** FWAIT: #NM when CR0.MP and CR0.TS are both set, else #MF for a pending unmasked exception. */
export function fwait(c: Cpu): void {
  if ((c.cr0 & (CR0_MP | CR0_TS)) === (CR0_MP | CR0_TS)) throw new GuestFault(Vec.NM);
  checkPending(c, c.fpu);
}
