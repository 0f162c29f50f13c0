import { CR0_EM, CR0_TS, CR4_OSFXSR, type Cpu } from '../../cpu/cpu.js';
import { MXCSR_MASK, XMM_REGISTERS } from '../../cpu/sse-state.js';
import type { Insn } from '../../decode/insn.js';
import { fxrstorX87, fxsaveX87 } from '../../fpu/environment.js';
import { GuestFault, Vec } from '../../memory/guest-fault.js';
import { checkSse } from './access.js';

/**
 * MXCSR and the FXSAVE area (SDM Vol. 2 LDMXCSR, STMXCSR, FXSAVE, FXRSTOR; the 512-byte layout of
 * Vol. 1 Table 10-2). FXSAVE writes what QEMU 7.2 writes: FCW, FSW, the abridged tag, zeros for
 * FIP/FCS/FDP/FDS (AMD CPUs, the host's and qemu64's vendor, do too while no x87 exception is
 * pending), MXCSR and MXCSR_MASK, ST0–ST7 and XMM0–XMM15 (XMM0–XMM7 outside 64-bit mode). QEMU
 * leaves FOP (bytes 6–7) and the 6 bytes after each ST register as they were; the host writes
 * zeros there (CpuModel.simdResultsAsQemu picks). Bytes 416–511 are never written. MXCSR and
 * XMM need CR4.OSFXSR, as in QEMU.
 */

type Handler = (c: Cpu, d: Insn) => void;

const AREA = 512;
const MXCSR_OFFSET = 24;
const XMM_OFFSET = 160;

/** #UD/#NM as for an x87 instruction (FXSAVE/FXRSTOR need no CR4.OSFXSR), then #GP(0) unless 16-byte aligned. */
function checkArea(c: Cpu): void {
  if ((c.cr0 & (CR0_EM | CR0_TS)) !== 0) throw new GuestFault(Vec.NM);
  if ((c.lin & 15) !== 0) throw new GuestFault(Vec.GP, 0);
}

/** How many XMM registers the area holds: 16 in 64-bit mode, 8 otherwise. */
export function xmmCount(c: Cpu): number {
  return c.long64 ? XMM_REGISTERS : 8;
}

const fxsave: Handler = (c) => {
  checkArea(c);
  const lin = c.lin;
  c.probeWrite(lin, AREA);
  saveX87Region(c, lin);
  if ((c.cr4 & CR4_OSFXSR) === 0) return;
  saveMxcsr(c, lin);
  saveXmmRegion(c, lin);
};

/** The x87 part of the legacy region (bytes 0–159), shared with XSAVE (exec/xsave.ts) as in QEMU. */
export function saveX87Region(c: Cpu, lin: number): void {
  fxsaveX87(c, c.fpu, lin);
  if (!c.model.simdResultsAsQemu) {
    c.write16(lin + 6, 0);
    for (let i = 0; i < 8; i++) {
      c.write16(lin + 42 + 16 * i, 0);
      c.write32(lin + 44 + 16 * i, 0);
    }
  }
}

/** MXCSR and MXCSR_MASK at bytes 24–31. */
export function saveMxcsr(c: Cpu, lin: number): void {
  c.write32(lin + MXCSR_OFFSET, c.sse.mxcsr);
  c.write32(lin + MXCSR_OFFSET + 4, MXCSR_MASK);
}

/** XMM0–XMM15 (XMM0–XMM7 outside 64-bit mode) at bytes 160–415. */
export function saveXmmRegion(c: Cpu, lin: number): void {
  const u = c.sse.u32;
  for (let i = 0; i < xmmCount(c); i++) {
    c.write64(lin + XMM_OFFSET + 16 * i, u[i * 4]!, u[i * 4 + 1]!);
    c.write64(lin + XMM_OFFSET + 16 * i + 8, u[i * 4 + 2]!, u[i * 4 + 3]!);
  }
}

/** The XMM registers of the legacy region, read without changing anything (XRSTOR reads all before it loads). */
export function readXmmRegion(c: Cpu, lin: number): Uint32Array {
  const xmm = new Uint32Array(4 * xmmCount(c));
  for (let i = 0; i < xmm.length; i++) xmm[i] = c.read32(lin + XMM_OFFSET + 4 * i);
  return xmm;
}

/**
 * FXRSTOR: the whole image is read before anything changes, so a #PF or an MXCSR with reserved
 * bits set (#GP(0), SDM) leaves the state as it was. QEMU 7.2 loads such an MXCSR instead.
 */
const fxrstor: Handler = (c) => {
  checkArea(c);
  const lin = c.lin;
  const n = xmmCount(c);
  const xmm = new Uint32Array(4 * n);
  let mxcsr = c.sse.mxcsr;
  const sse = (c.cr4 & CR4_OSFXSR) !== 0;
  c.read8(lin + AREA - 1); // the last page faults now if it is going to
  if (sse) {
    mxcsr = c.read32(lin + MXCSR_OFFSET);
    for (let i = 0; i < 4 * n; i++) xmm[i] = c.read32(lin + XMM_OFFSET + 4 * i);
    if ((mxcsr & ~MXCSR_MASK) !== 0) throw new GuestFault(Vec.GP, 0);
  }
  fxrstorX87(c, c.fpu, lin);
  if (!sse) return;
  c.sse.mxcsr = mxcsr;
  c.sse.u32.set(xmm);
};

const ldmxcsr: Handler = (c) => {
  checkSse(c);
  const v = c.read32(c.lin);
  // Reserved bits: #GP(0) (SDM); QEMU 7.2 loads them.
  if ((v & ~MXCSR_MASK) !== 0) throw new GuestFault(Vec.GP, 0);
  c.sse.mxcsr = v;
};

const stmxcsr: Handler = (c) => {
  checkSse(c);
  c.write32(c.lin, c.sse.mxcsr);
};

/**
 * The first 416 bytes of the FXSAVE image as QEMU 7.2 writes them (64-bit mode, CR4.OSFXSR set)
 * over zeros, straight from the state: for a driver that compares the image without running the
 * instruction (harness/batch/native-batch.ts). Bytes FXSAVE leaves alone stay zero.
 */
export function fxsaveImage(c: Cpu, out: DataView): void {
  const f = c.fpu;
  for (let o = 0; o < 416; o += 4) out.setUint32(o, 0, true);
  out.setUint16(0, f.fcw, true);
  out.setUint16(2, f.statusWord, true);
  out.setUint16(4, f.abridgedTagWord(), true);
  out.setUint32(MXCSR_OFFSET, c.sse.mxcsr, true);
  out.setUint32(MXCSR_OFFSET + 4, MXCSR_MASK, true);
  for (let i = 0; i < 8; i++) {
    const v = f.st(i);
    out.setBigUint64(32 + 16 * i, v & 0xffffffffffffffffn, true);
    out.setUint16(40 + 16 * i, Number(v >> 64n), true);
  }
  const u = c.sse.u32;
  for (let i = 0; i < 4 * XMM_REGISTERS; i++) out.setUint32(XMM_OFFSET + 4 * i, u[i]!, true);
}

export const STATE_HANDLERS: Readonly<Record<string, Handler>> = { fxsave, fxrstor, ldmxcsr, stmxcsr };
