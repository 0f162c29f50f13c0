import { CR0_PE, type Cpu } from '../cpu/cpu.js';
import { loadSegment } from '../cpu/segments.js';
import type { Insn } from '../decode/insn.js';
import { OF, ZF } from '../isa/flags.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';
import { SoftwareInterrupt } from './control-flow.js';
import { readOp, writeOp } from './operands.js';

/**
 * Instructions of the legacy modes (#UD in 64-bit mode, which the decoder handles): PUSHA/POPA,
 * INTO, ARPL; and LDS/LES/LSS/LFS/LGS, which 64-bit mode keeps for LSS/LFS/LGS.
 */

/** PUSHA/PUSHAD: EAX, ECX, EDX, EBX, the original ESP, EBP, ESI, EDI; ESP moves after all eight stores. */
export function pusha(c: Cpu, d: Insn): void {
  const s = d.osize;
  const sp = c.getReg(4, s);
  for (let i = 0; i < 8; i++) c.writeSized(c.stackLin(-(i + 1) * s), s, i === 4 ? sp : c.getReg(i, s), 0);
  c.adjustRsp(-8 * s);
}

/** POPA/POPAD: EDI first (lowest), the saved ESP skipped; registers change only after all eight loads. */
export function popa(c: Cpu, d: Insn): void {
  const s = d.osize;
  const v: number[] = [];
  for (let i = 0; i < 8; i++) v.push(c.readSized(c.stackLin(i * s), s));
  for (let i = 0; i < 8; i++) if (i !== 3) c.setReg(7 - i, s, v[i]!);
  c.adjustRsp(8 * s);
}

/** INTO: #OF as a trap when OF is set (a software interrupt: the gate DPL is checked). */
export function into(c: Cpu): void {
  if (c.getFlags() & OF) throw new SoftwareInterrupt(Vec.OF, true);
}

/** ARPL r/m16, r16 (protected mode only): raise the destination's RPL to the source's; ZF tells whether it changed. */
export function arpl(c: Cpu, d: Insn): void {
  if ((c.cr0 & CR0_PE) === 0) throw new GuestFault(Vec.UD);
  const dst = readOp(c, d, 0) & 0xffff;
  const src = c.getReg(d.or[1]!, 2);
  if ((dst & 3) < (src & 3)) {
    writeOp(c, d, 0, (dst & ~3) | (src & 3), 0);
    c.setStatus(ZF, ZF);
  } else c.setStatus(ZF, 0);
}

/**
 * LDS/LES/LSS/LFS/LGS r, m16:16/32: the offset (operand size), then the selector, loaded into
 * the segment register (with its checks and faults) before the general register is written.
 * With REX.W QEMU 7.2 loads a 32-bit offset (translate.c do_lxx: MO_32 for any size but 16),
 * as AMD documents; Intel documents m16:64. We follow the oracle.
 */
export function loadFarPointer(c: Cpu, d: Insn): void {
  const s = d.osize === 2 ? 2 : 4;
  const offset = c.readSized(c.lin, s);
  const sel = c.read16(c.lin + s);
  loadSegment(c, d.arg, sel);
  c.setReg(d.or[0]!, s, offset);
}
