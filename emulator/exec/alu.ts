import { mutants } from '../mutants.js';
import type { Cpu } from '../cpu/cpu.js';
import { CC } from '../cpu/lazy-flags.js';
import { type Insn, Opnd } from '../decode/insn.js';
import { mask, readOp, writeOp } from './operands.js';

/** ADD OR ADC SBB AND SUB XOR CMP (row arg = the /digit order), TEST, INC, DEC, NEG, NOT. */

/** High half of a 64-bit ADD's memory source (the planted add64-mem-trunc32 bug drops it). */
export function add64MemSourceHi(hi: number): number {
  return mutants.add64MemTrunc32 ? 0 : hi;
}

const ADD = 0, OR = 1, ADC = 2, SBB = 3, AND = 4, SUB = 5, XOR = 6, CMP = 7;

export function alu(c: Cpu, d: Insn): void {
  const s = d.os[0]!;
  const a = readOp(c, d, 0);
  const ah = c.hi;
  const b = readOp(c, d, 1);
  let bh = c.hi;
  const op = d.arg;
  let r: number;
  let rh = 0;
  let cc: CC;
  let cin = 0;
  switch (op) {
    case ADD:
    case ADC: {
      cin = op === ADC ? c.carry() : 0;
      if (op === ADD && s === 8 && d.ot[1] === Opnd.Mem) bh = add64MemSourceHi(bh);
      const t = a + b + cin;
      if (s === 8) {
        r = t >>> 0;
        rh = (ah + bh + (t > 0xffffffff ? 1 : 0)) >>> 0;
      } else r = mask(t, s);
      cc = op === ADD ? CC.Add : CC.Adc;
      break;
    }
    case SUB:
    case SBB:
    case CMP: {
      cin = op === SBB && !(mutants.sbb16NoCarry && s === 2) ? c.carry() : 0;
      const t = a - b - cin;
      if (s === 8) {
        r = t >>> 0;
        rh = (ah - bh - (t < 0 ? 1 : 0)) >>> 0;
      } else r = mask(t, s);
      cc = op === SBB ? CC.Sbb : CC.Sub;
      break;
    }
    case OR:
      r = (a | b) >>> 0;
      rh = (ah | bh) >>> 0;
      cc = CC.Logic;
      break;
    case AND:
      r = (a & b) >>> 0;
      rh = (ah & bh) >>> 0;
      cc = CC.Logic;
      break;
    default: // XOR
      r = (a ^ b) >>> 0;
      rh = (ah ^ bh) >>> 0;
      cc = CC.Logic;
  }
  if (op !== CMP) writeOp(c, d, 0, r, rh);
  c.setCc(cc, s, r, rh, a, ah, b, bh);
  c.cc.cin = cin;
}

export function test(c: Cpu, d: Insn): void {
  const s = d.os[0]!;
  const a = readOp(c, d, 0);
  const ah = c.hi;
  const b = readOp(c, d, 1);
  let bh = c.hi;
  c.setCc(CC.Logic, s, (a & b) >>> 0, (ah & bh) >>> 0, 0, 0, 0, 0);
}

function incDec(c: Cpu, d: Insn, delta: 1 | -1): void {
  const s = d.os[0]!;
  const a = readOp(c, d, 0);
  const ah = c.hi;
  const t = a + delta;
  let r: number;
  let rh = 0;
  if (s === 8) {
    r = t >>> 0;
    rh = (ah + (t > 0xffffffff ? 1 : t < 0 ? -1 : 0)) >>> 0;
  } else r = mask(t, s);
  const cf = c.carry();
  writeOp(c, d, 0, r, rh);
  c.setCc(delta === 1 ? CC.Inc : CC.Dec, s, r, rh, a, ah, 1, 0);
  c.cc.cin = cf;
}

export function inc(c: Cpu, d: Insn): void {
  incDec(c, d, 1);
}

export function dec(c: Cpu, d: Insn): void {
  incDec(c, d, -1);
}

export function neg(c: Cpu, d: Insn): void {
  const s = d.os[0]!;
  const b = readOp(c, d, 0);
  const bh = c.hi;
  const t = -b;
  let r: number;
  let rh = 0;
  if (s === 8) {
    r = t >>> 0;
    rh = (-bh - (b !== 0 ? 1 : 0)) >>> 0;
  } else r = mask(t, s);
  writeOp(c, d, 0, r, rh);
  c.setCc(CC.Sub, s, r, rh, 0, 0, b, bh);
  c.cc.cin = 0;
}

export function not(c: Cpu, d: Insn): void {
  const s = d.os[0]!;
  const a = readOp(c, d, 0);
  const ah = c.hi;
  writeOp(c, d, 0, mask(~a, s), s === 8 ? ~ah >>> 0 : 0);
}
