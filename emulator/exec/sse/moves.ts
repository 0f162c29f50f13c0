import type { Cpu } from '../../cpu/cpu.js';
import { SLOT_MEM, SLOT_MMX_DST, SLOT_RESULT } from '../../cpu/sse-state.js';
import { Opnd, Seg, type Insn } from '../../decode/insn.js';
import { isMmxKind } from '../../isa/operand-forms.js';
import { checkAlignment, checkMmx, commitMmx, destSlot, loadMmx, readMemToSlot, sourceSlot, storeMmx, writeSlotToMem } from './access.js';
import { begin } from './begin.js';

/**
 * Data movement between XMM/MMX registers, memory and general registers (SDM Vol. 2 MOV*,
 * PINSRW/PEXTRW, PMOVMSKB, MASKMOV*). A memory destination is written with the source's width;
 * a register destination follows each instruction's rule for the bytes it does not load.
 */

type Handler = (c: Cpu, d: Insn) => void;

/** The 64-bit qword q (0 or 1) of slot `from` into qword `qt` of slot `to`. */
function moveQword(c: Cpu, to: number, qt: number, from: number, qf: number): void {
  const u = c.sse.u32;
  u[to * 4 + qt * 2] = u[from * 4 + qf * 2]!;
  u[to * 4 + qt * 2 + 1] = u[from * 4 + qf * 2 + 1]!;
}

function zeroQword(c: Cpu, slot: number, q: number): void {
  const u = c.sse.u32;
  u[slot * 4 + q * 2] = 0;
  u[slot * 4 + q * 2 + 1] = 0;
}

/** MOVAPS/MOVUPS/MOVAPD/MOVUPD/MOVDQA/MOVDQU/MOVNTPS/MOVNTPD/MOVNTDQ/LDDQU: 16 bytes, either way. */
const movX: Handler = (c, d) => {
  begin(c, d);
  if (d.ot[0] === Opnd.Mem) {
    checkAlignment(c, d, 16);
    writeSlotToMem(c, c.sse, d.or[1]!, 16);
    return;
  }
  const src = sourceSlot(c, d, 1);
  c.sse.copy(d.or[0]!, src);
};

/** MOVSS/MOVSD load: from a register only the low element; from memory the element, the rest zeroed. */
const movsLoad: Handler = (c, d) => {
  begin(c, d);
  const size = d.os[1]!;
  const s = c.sse;
  const dst = d.or[0]!;
  if (d.ot[1] === Opnd.Mem) {
    readMemToSlot(c, s, SLOT_MEM, size);
    s.bytes.fill(0, dst * 16, dst * 16 + 16);
    s.copy(dst, SLOT_MEM, size);
  } else s.copy(dst, d.or[1]!, size);
};

/** MOVSS/MOVSD store: to memory the element, to a register its low element (the rest kept). */
const movsStore: Handler = (c, d) => {
  begin(c, d);
  const size = d.os[0]!;
  if (d.ot[0] === Opnd.Mem) writeSlotToMem(c, c.sse, d.or[1]!, size);
  else c.sse.copy(d.or[0]!, d.or[1]!, size);
};

const movhlps: Handler = (c, d) => {
  begin(c, d);
  moveQword(c, d.or[0]!, 0, d.or[1]!, 1);
};

const movlhps: Handler = (c, d) => {
  begin(c, d);
  moveQword(c, d.or[0]!, 1, d.or[1]!, 0);
};

/** MOVLPS/MOVLPD (load: qword 0) and MOVHPS/MOVHPD (load: qword 1), the other qword kept. */
function movHalfLoad(q: number): Handler {
  return (c, d) => {
    begin(c, d);
    readMemToSlot(c, c.sse, SLOT_MEM, 8);
    moveQword(c, d.or[0]!, q, SLOT_MEM, 0);
  };
}

function movHalfStore(q: number): Handler {
  return (c, d) => {
    begin(c, d);
    moveQword(c, SLOT_RESULT, 0, d.or[1]!, q);
    writeSlotToMem(c, c.sse, SLOT_RESULT, 8);
  };
}

/** MOVSLDUP (dwords 0, 0, 2, 2) and MOVSHDUP (1, 1, 3, 3). */
function movDup(first: number): Handler {
  return (c, d) => {
    begin(c, d);
    const src = sourceSlot(c, d, 1);
    const u = c.sse.u32;
    const a = u[src * 4 + first]!;
    const b = u[src * 4 + first + 2]!;
    const t = d.or[0]! * 4;
    u[t] = a;
    u[t + 1] = a;
    u[t + 2] = b;
    u[t + 3] = b;
  };
}

const movddup: Handler = (c, d) => {
  begin(c, d);
  const src = sourceSlot(c, d, 1);
  moveQword(c, SLOT_RESULT, 0, src, 0);
  moveQword(c, d.or[0]!, 0, SLOT_RESULT, 0);
  moveQword(c, d.or[0]!, 1, SLOT_RESULT, 0);
};

/** MOVD/MOVQ r/m32/64 → MM/XMM: zero-extended to the whole register. */
const movdLoad: Handler = (c, d) => {
  begin(c, d);
  const size = d.os[1]!;
  let lo: number;
  let hi = 0;
  if (d.ot[1] === Opnd.Mem) {
    lo = size === 8 ? c.read64(c.lin) : c.read32(c.lin);
    if (size === 8) hi = c.hi;
  } else {
    lo = c.getReg(d.or[1]!, size);
    if (size === 8) hi = c.hi;
  }
  const slot = destSlot(d);
  const u = c.sse.u32;
  u[slot * 4] = lo;
  u[slot * 4 + 1] = hi;
  u[slot * 4 + 2] = 0;
  u[slot * 4 + 3] = 0;
  commitMmx(c, d);
};

/** MOVD/MOVQ MM/XMM → r/m32/64 (a 32-bit register write zero-extends, as for any GPR). */
const movdStore: Handler = (c, d) => {
  begin(c, d);
  const size = d.os[0]!;
  const src = sourceSlot(c, d, 1);
  const u = c.sse.u32;
  const lo = u[src * 4]!;
  const hi = size === 8 ? u[src * 4 + 1]! : 0;
  if (d.ot[0] === Opnd.Mem) c.writeSized(c.lin, size, lo, hi);
  else c.setReg(d.or[0]!, size, lo, hi);
};

/** MOVQ mm, mm/m64; MOVQ mm/m64, mm; MOVNTQ. */
const movqMm: Handler = (c, d) => {
  begin(c, d);
  if (d.ot[0] === Opnd.Mem) {
    loadMmx(c, d.or[1]!, SLOT_MMX_DST);
    writeSlotToMem(c, c.sse, SLOT_MMX_DST, 8);
    return;
  }
  const src = sourceSlot(c, d, 1);
  moveQword(c, SLOT_MMX_DST, 0, src, 0);
  storeMmx(c, d.or[0]!, SLOT_MMX_DST);
};

/** MOVQ xmm, xmm/m64 (F3 0F 7E): the low qword, the high one zeroed. */
const movqLoad: Handler = (c, d) => {
  begin(c, d);
  const src = sourceSlot(c, d, 1);
  moveQword(c, d.or[0]!, 0, src, 0);
  zeroQword(c, d.or[0]!, 1);
};

/** MOVQ xmm/m64, xmm (66 0F D6): to memory the low qword; to a register also zeroing the high one. */
const movqStore: Handler = (c, d) => {
  begin(c, d);
  if (d.ot[0] === Opnd.Mem) {
    writeSlotToMem(c, c.sse, d.or[1]!, 8);
    return;
  }
  moveQword(c, d.or[0]!, 0, d.or[1]!, 0);
  zeroQword(c, d.or[0]!, 1);
};

const movq2dq: Handler = (c, d) => {
  begin(c, d);
  const src = sourceSlot(c, d, 1);
  moveQword(c, d.or[0]!, 0, src, 0);
  zeroQword(c, d.or[0]!, 1);
};

/**
 * MOVDQ2Q. QEMU 7.2 writes the MMX destination as a 16-byte vector (its new decoder's MOVQ
 * with the F2 prefix's vector length clears the whole FPReg first), so bits 79..64 become zero
 * where the SDM (and the host CPU) set them to ones and QEMU's other MMX writes keep them.
 */
const movdq2q: Handler = (c, d) => {
  begin(c, d);
  moveQword(c, SLOT_MMX_DST, 0, d.or[1]!, 0);
  storeMmx(c, d.or[0]!, SLOT_MMX_DST);
  if (c.model.simdResultsAsQemu) c.fpu.regs[d.or[0]!] = c.fpu.regs[d.or[0]!]! & 0xffffffffffffffffn;
};

/** MOVMSKPS/MOVMSKPD/PMOVMSKB: the sign bit of each element of `bytes`-byte elements into a GPR. */
function moveMask(bytes: number): Handler {
  return (c, d) => {
    begin(c, d);
    const src = sourceSlot(c, d, 1);
    const b = c.sse.bytes;
    const width = isMmxKind(d.row.operands[1]!.kind) ? 8 : 16;
    let m = 0;
    for (let i = 0, k = 0; i < width; i += bytes, k++) m |= (b[src * 16 + i + bytes - 1]! >> 7) << k;
    c.setReg(d.or[0]!, 4, m);
  };
}

/** PINSRW: the low word of a GPR or a word of memory into word imm8 (mod 4 for MMX, 8 for XMM). */
const pinsrw: Handler = (c, d) => {
  begin(c, d);
  const v = d.ot[1] === Opnd.Mem ? c.read16(c.lin) : c.getReg(d.or[1]!, 2);
  const slot = destSlot(d);
  const mmx = slot === SLOT_MMX_DST;
  if (mmx) loadMmx(c, d.or[0]!, SLOT_MMX_DST);
  c.sse.u16[slot * 8 + (d.imm & (mmx ? 3 : 7))] = v;
  commitMmx(c, d);
};

/** PEXTRW: word imm8 (mod 4 / mod 8) zero-extended into a GPR. */
const pextrw: Handler = (c, d) => {
  begin(c, d);
  const src = sourceSlot(c, d, 1);
  const mmx = isMmxKind(d.row.operands[1]!.kind);
  c.setReg(d.or[0]!, 4, c.sse.u16[src * 8 + (d.imm & (mmx ? 3 : 7))]!);
};

/** MOVNTI: a general register to memory (no SSE state involved, so no SSE checks). */
const movnti: Handler = (c, d) => {
  const size = d.os[0]!;
  const lo = c.getReg(d.or[1]!, size);
  c.writeSized(c.lin, size, lo, size === 8 ? c.hi : 0);
};

/**
 * MASKMOVQ/MASKMOVDQU: the bytes of operand 0 whose mask byte (operand 1) has its top bit set, to
 * DS:rDI (a segment override applies); the other bytes are not accessed.
 */
const maskmov: Handler = (c, d) => {
  begin(c, d);
  const src = sourceSlot(c, d, 0);
  const mask = sourceSlot(c, d, 1);
  const width = isMmxKind(d.row.operands[0]!.kind) ? 8 : 16;
  const lo = d.asize === 8 ? c.regs[14]! : d.asize === 2 ? c.regs[14]! & 0xffff : c.regs[14]! >>> 0;
  const hi = d.asize === 8 ? c.regs[15]! : 0;
  const lin = c.segLinear(lo, hi, d.segOverride ? d.seg : Seg.DS);
  const b = c.sse.bytes;
  for (let i = 0; i < width; i++) if (b[mask * 16 + i]! & 0x80) c.write8(lin + i, b[src * 16 + i]!);
};

/** EMMS: every x87 register empty (TOP unchanged). */
const emms: Handler = (c) => {
  checkMmx(c);
  c.fpu.empty.fill(1);
};

export const MOVE_HANDLERS: Readonly<Record<string, Handler>> = {
  mov_x: movX,
  movs_load: movsLoad,
  movs_store: movsStore,
  movhlps,
  movlhps,
  movlp_load: movHalfLoad(0),
  movhp_load: movHalfLoad(1),
  movlp_store: movHalfStore(0),
  movhp_store: movHalfStore(1),
  movsldup: movDup(0),
  movshdup: movDup(1),
  movddup,
  movd_load: movdLoad,
  movd_store: movdStore,
  movq_mm: movqMm,
  movq_load: movqLoad,
  movq_store: movqStore,
  movq2dq,
  movdq2q,
  movmskps: moveMask(4),
  movmskpd: moveMask(8),
  pmovmskb: moveMask(1),
  pinsrw,
  pextrw,
  movnti,
  maskmov,
  emms,
};
