import { mutants } from '../mutants.js';
import { ATTR_DB, type Cpu } from '../cpu/cpu.js';
import { loadSegment } from '../cpu/segments.js';
import { type Insn, Opnd, Seg } from '../decode/insn.js';
import { AC, ARITH, DF, ID, IF, IOPL, NT, RF, TF, VIF, VIP, VM } from '../isa/flags.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';
import { readOp, writeOp } from './operands.js';

/** PUSH/POP (all forms), ENTER/LEAVE, PUSHF/POPF, PUSH/POP FS/GS. */

export function push(c: Cpu, d: Insn): void {
  const v = readOp(c, d, 0);
  const planted = mutants.pushImm32NoSext && d.ot[0] === Opnd.Imm && d.osize === 8 && d.row.opcode === 0x68;
  c.push(d.osize, v, planted ? 0 : c.hi);
}

export function pop(c: Cpu, d: Insn): void {
  const s = d.osize;
  const v = c.peekStack(0, s);
  const vh = c.hi;
  if (d.ot[0] === Opnd.Mem) {
    // POP [mem]: the address is computed with RSP already incremented (SDM POP).
    c.adjustRsp(s);
    try {
      c.lin = c.linearOf(d);
      writeOp(c, d, 0, v, vh);
    } catch (e) {
      c.adjustRsp(-s);
      throw e;
    }
    return;
  }
  c.adjustRsp(s);
  writeOp(c, d, 0, v, vh);
}

export function enter(c: Cpu, d: Insn): void {
  const s = d.osize;
  const size = d.imm & 0xffff;
  const level = d.imm2 & 31;
  const rbp = c.getReg(5, s);
  const rbpH = s === 8 ? c.hi : 0;
  // Stage everything so a fault leaves RSP/RBP untouched.
  const savedLo = c.regs[8]!;
  const savedHi = c.regs[9]!;
  try {
    c.push(s, rbp, rbpH);
    const frameLo = c.getReg(4, s);
    const frameHi = s === 8 ? c.hi : 0;
    if (level > 0) {
      const [bl, bh] = [rbp, rbpH];
      let ptr = (BigInt(bh) << 32n) | BigInt(bl);
      for (let i = 1; i < level; i++) {
        ptr -= BigInt(s);
        const lin = c.segLinear(Number(BigInt.asUintN(64, ptr) & 0xffffffffn), Number(BigInt.asUintN(64, ptr) >> 32n), 2);
        const v = c.readSized(lin, s);
        c.push(s, v, s === 8 ? c.hi : 0);
      }
      c.push(s, frameLo, frameHi);
    }
    // No probe of the final RSP: QEMU 7.2 (the oracle) does none, and the SDM's ENTER
    // pseudo-code ends with the subtraction (a fuzzed ENTER with a large frame found this).
    c.adjustRsp(-size);
    c.setReg(5, s, frameLo, frameHi);
  } catch (e) {
    c.regs[8] = savedLo;
    c.regs[9] = savedHi;
    throw e;
  }
}

export function leave(c: Cpu, d: Insn): void {
  const s = d.osize;
  const savedLo = c.regs[8]!;
  const savedHi = c.regs[9]!;
  // RSP = RBP at the stack's address size (SDM LEAVE): ESP ← EBP with a 32-bit stack, SP ← BP
  // with a 16-bit one (real mode), ESP's upper half kept
  if (c.long64) c.setReg(4, 8, c.regs[10]!, c.regs[11]!);
  else if (c.segAttr[Seg.SS]! & ATTR_DB) c.regs[8] = c.regs[10]!;
  else c.regs[8] = ((c.regs[8]! & 0xffff0000) | (c.regs[10]! & 0xffff)) >>> 0;
  try {
    const v = c.pop(s);
    c.setReg(5, s, v, c.hi);
  } catch (e) {
    c.regs[8] = savedLo;
    c.regs[9] = savedHi;
    throw e;
  }
}

export function pushf(c: Cpu, d: Insn): void {
  // VM and RF are pushed as 0.
  c.push(d.osize, c.getFlags() & ~(VM | RF), 0);
}

export function popf(c: Cpu, d: Insn): void {
  const s = d.osize;
  const v = c.pop(s);
  const cur = c.getFlags();
  let modifiable = ARITH | TF | DF | NT | AC | ID;
  if (c.cpl === 0) modifiable |= IOPL | IF;
  else if (c.cpl <= ((cur & IOPL) >> 12)) modifiable |= IF;
  if (s === 2) modifiable &= 0xffff;
  const next = ((cur & ~modifiable) | (v & modifiable)) & ~(RF | VIF | VIP);
  c.setFlags(next | (cur & (VIF | VIP)));
}

export function pushSreg(c: Cpu, d: Insn): void {
  c.push(d.osize, c.segSel[d.arg]!, 0);
}

export function popSreg(c: Cpu, d: Insn): void {
  const s = d.osize;
  const sel = c.peekStack(0, s) & 0xffff;
  loadSegment(c, d.arg, sel);
  c.adjustRsp(s);
}

export function cli(c: Cpu): void {
  if (c.cpl > ((c.flagsRest & IOPL) >> 12)) throw new GuestFault(Vec.GP, 0);
  c.flagsRest &= ~IF;
}

export function sti(c: Cpu): void {
  if (c.cpl > ((c.flagsRest & IOPL) >> 12)) throw new GuestFault(Vec.GP, 0);
  c.flagsRest |= IF;
}
