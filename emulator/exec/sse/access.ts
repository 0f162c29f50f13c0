import { CR0_EM, CR0_TS, CR4_OSFXSR, type Cpu } from '../../cpu/cpu.js';
import { SLOT_MEM, SLOT_MMX_DST, SLOT_MMX_SRC, type SseState } from '../../cpu/sse-state.js';
import { Opnd, type Insn } from '../../decode/insn.js';
import { checkPending } from '../../fpu/access.js';
import { isMmxKind, Kind } from '../../isa/operand-forms.js';
import { GuestFault, Vec } from '../../memory/guest-fault.js';

/**
 * What every SSE and MMX handler does around its operation: the availability checks (each
 * instruction's exception list in SDM Vol. 2: CR0.EM and, for XMM state, CR4.OSFXSR clear → #UD;
 * CR0.TS → #NM), the MMX state transition of
 * the x87 registers, and operands as slots of the SSE register file: an XMM register is its own
 * slot; a memory operand is read into SLOT_MEM (16-byte operands of aligned rows checked first,
 * #GP(0)); MMX registers are copied into SLOT_MMX_DST/SLOT_MMX_SRC and the destination copied
 * back by `commitMmx`.
 */

const MMX_EXPONENT = 0xffffn << 64n;

/** #UD or #NM before an instruction that uses XMM registers or MXCSR. */
export function checkSse(c: Cpu): void {
  if ((c.cr0 & (CR0_EM | CR0_TS)) === 0 && (c.cr4 & CR4_OSFXSR) !== 0) return;
  if ((c.cr0 & CR0_EM) !== 0 || (c.cr4 & CR4_OSFXSR) === 0) throw new GuestFault(Vec.UD);
  throw new GuestFault(Vec.NM);
}

/** checkMmx, then the x87 registers enter MMX use: TOP = 0, every register valid (SDM Vol. 1 §9.5.1). */
export function enterMmx(c: Cpu): void {
  checkMmx(c);
  const f = c.fpu;
  f.top = 0;
  f.empty.fill(0);
}

/**
 * #UD (CR0.EM), #NM (CR0.TS) or #MF (a pending unmasked x87 exception, CR0.NE set) before an MMX
 * instruction. QEMU 7.2 does not check the pending exception: its MMX instructions run.
 */
export function checkMmx(c: Cpu): void {
  const cr0 = c.cr0;
  if ((cr0 & (CR0_EM | CR0_TS)) !== 0) throw new GuestFault((cr0 & CR0_EM) !== 0 ? Vec.UD : Vec.NM);
  checkPending(c, c.fpu);
}

/** A register or memory operand that is MMX-sized in this row (P/Q/N). */
function isMmxOperand(d: Insn, i: number): boolean {
  return isMmxKind(d.row.operands[i]!.kind);
}

/** The low 64 bits of MMX register n (x87 physical register n) into a slot. */
export function loadMmx(c: Cpu, n: number, slot: number): void {
  const v = c.fpu.regs[n]!;
  const u = c.sse.u32;
  u[slot * 4] = Number(v & 0xffffffffn);
  u[slot * 4 + 1] = Number((v >> 32n) & 0xffffffffn);
}

/** A slot's low 64 bits into MMX register n; hardware sets its exponent to all ones, QEMU 7.2 keeps it. */
export function storeMmx(c: Cpu, n: number, slot: number): void {
  const u = c.sse.u32;
  const v = (BigInt(u[slot * 4 + 1]!) << 32n) | BigInt(u[slot * 4]!);
  const f = c.fpu;
  const upper = c.model.simdResultsAsQemu ? f.regs[n]! & MMX_EXPONENT : MMX_EXPONENT;
  f.regs[n] = upper | v;
}

/** Fail now (#GP(0)) if the memory operand must be 16-byte aligned and is not. */
export function checkAlignment(c: Cpu, d: Insn, size: number): void {
  if (size === 16 && d.row.align16 && (c.lin & 15) !== 0) throw new GuestFault(Vec.GP, 0);
}

/** Read `size` bytes (4, 8 or 16; 1/2 for PINSRW-like rows) at c.lin into a slot's low bytes. */
export function readMemToSlot(c: Cpu, s: SseState, slot: number, size: number): void {
  const u = s.u32;
  const b = slot * 4;
  const lin = c.lin;
  if (size === 16) {
    u[b] = c.read64(lin);
    u[b + 1] = c.hi;
    u[b + 2] = c.read64(lin + 8);
    u[b + 3] = c.hi;
  } else if (size === 8) {
    u[b] = c.read64(lin);
    u[b + 1] = c.hi;
  } else if (size === 4) u[b] = c.read32(lin);
  else if (size === 2) s.u16[slot * 8] = c.read16(lin);
  else s.bytes[slot * 16] = c.read8(lin);
}

/** Write a slot's low `size` bytes to c.lin; a 16-byte store checks both pages before writing. */
export function writeSlotToMem(c: Cpu, s: SseState, slot: number, size: number): void {
  const u = s.u32;
  const b = slot * 4;
  const lin = c.lin;
  if (size === 16) {
    c.probeWrite(lin, 16);
    c.write64(lin, u[b]!, u[b + 1]!);
    c.write64(lin + 8, u[b + 2]!, u[b + 3]!);
  } else if (size === 8) c.write64(lin, u[b]!, u[b + 1]!);
  else if (size === 4) c.write32(lin, u[b]!);
  else if (size === 2) c.write16(lin, s.u16[slot * 8]!);
  else c.write8(lin, s.bytes[slot * 16]!);
}

/**
 * Operand i as a slot to read: its XMM register, the memory operand (d.os[i] bytes, alignment
 * checked) in SLOT_MEM, or for MMX operands a copy of the register (the destination's in
 * SLOT_MMX_DST, others in SLOT_MMX_SRC).
 */
export function sourceSlot(c: Cpu, d: Insn, i: number): number {
  if (d.ot[i] === Opnd.Mem) {
    const size = d.os[i]!;
    checkAlignment(c, d, size);
    readMemToSlot(c, c.sse, SLOT_MEM, size);
    return SLOT_MEM;
  }
  if (isMmxOperand(d, i)) {
    const slot = i === 0 ? SLOT_MMX_DST : SLOT_MMX_SRC;
    loadMmx(c, d.or[i]!, slot);
    return slot;
  }
  return d.or[i]!;
}

/** The slot a result for register operand 0 is written to (MMX: SLOT_MMX_DST, then commitMmx). */
export function destSlot(d: Insn): number {
  return isMmxOperand(d, 0) ? SLOT_MMX_DST : d.or[0]!;
}

/** After writing an MMX destination into SLOT_MMX_DST: store it in its register. */
export function commitMmx(c: Cpu, d: Insn): void {
  if (isMmxOperand(d, 0)) storeMmx(c, d.or[0]!, SLOT_MMX_DST);
}

/** Width in bytes of the packed operation: 8 for MMX rows, else 16. */
export function packedWidth(d: Insn): number {
  return isMmxOperand(d, 0) || d.row.operands[0]!.kind === Kind.N ? 8 : 16;
}
