import { CR0_TS, CR4_OSXSAVE, type Cpu } from '../cpu/cpu.js';
import { cpuidKey } from '../cpu/cpu-model.js';
import { MXCSR_MASK } from '../cpu/sse-state.js';
import type { Insn } from '../decode/insn.js';
import { fxrstorX87 } from '../fpu/environment.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';
import { readXmmRegion, saveMxcsr, saveX87Region, saveXmmRegion, xmmCount } from './sse/state.js';

/**
 * XSAVE, XRSTOR, XSAVEOPT (0F AE /4 /5 /6), XGETBV and XSETBV (0F 01 D0/D1) in the standard
 * format (SDM Vol. 1 §13), for the components a `+xsave` qemu64 has: x87 (bit 0) and SSE (bit 1),
 * no AVX. The legacy region is FXSAVE's (exec/sse/state.ts), the header's XSTATE_BV at byte 512.
 * What QEMU 7.2 does (target/i386/tcg/fpu_helper.c helper_xsave/helper_xrstor) and the SDM allows:
 * XINUSE is not tracked, every requested component counts as in use, so XSAVEOPT writes what
 * XSAVE writes and XSTATE_BV gets every bit of RFBM. Where QEMU and the SDM differ in exceptions
 * the emulator follows the SDM: #NM when CR0.TS is set (QEMU checks nothing), #GP(0) for an MXCSR
 * image with reserved bits (QEMU loads it); both are checked in exec/xsave.int.spec.ts.
 */

type Handler = (c: Cpu, d: Insn) => void;

const X87 = 1;
const SSE = 2;
const HEADER = 512;
/** Legacy region and header: all a model without AVX writes or reads. */
const AREA = 576;

/** XCR0 bits the model supports: CPUID.(EAX=0DH,ECX=0):EDX:EAX (only the low half is used). */
function supportedXcr0(c: Cpu): number {
  return c.model.cpuid.get(cpuidKey(0xd, 0))?.[0] ?? 0;
}

function checkEnabled(c: Cpu): void {
  if ((c.cr4 & CR4_OSXSAVE) === 0) throw new GuestFault(Vec.UD);
}

/** #UD without CR4.OSXSAVE, #NM with CR0.TS (SDM), #GP(0) unless 64-byte aligned; the requested-feature bitmap. */
function begin(c: Cpu): number {
  checkEnabled(c);
  if ((c.cr0 & CR0_TS) !== 0) throw new GuestFault(Vec.NM);
  if ((c.lin & 63) !== 0) throw new GuestFault(Vec.GP, 0);
  // EDX:EAX & XCR0; XCR0 has no bits above 31 here, so EDX drops out
  return c.getReg(0, 4) & c.xcr0;
}

const xsave: Handler = (c) => {
  const rfbm = begin(c);
  const lin = c.lin;
  c.probeWrite(lin, AREA);
  if (rfbm & X87) saveX87Region(c, lin);
  if (rfbm & SSE) {
    saveMxcsr(c, lin);
    saveXmmRegion(c, lin);
  }
  const bv = c.read32(lin + HEADER);
  c.write32(lin + HEADER, ((bv & ~rfbm) | rfbm) >>> 0);
};

/**
 * XRSTOR, standard form: the header must name only XCR0 components (XSTATE_BV bit 63, the compact
 * form's marker, included) and bytes 8–23 must be zero. Components in RFBM are loaded when their
 * XSTATE_BV bit is set and put in their initial state otherwise (x87: FNINIT and zeroed registers;
 * SSE: XMM zeroed, 8 of them outside 64-bit mode as in QEMU); MXCSR is loaded whenever RFBM has
 * SSE. Everything is read before anything changes, so a fault leaves the state as it was.
 */
const xrstor: Handler = (c) => {
  const rfbm = begin(c);
  const lin = c.lin;
  c.read8(lin + AREA - 1); // the last page faults now if it is going to
  const bvLo = c.read32(lin + HEADER);
  const bvHi = c.read32(lin + HEADER + 4);
  if (bvHi !== 0 || (bvLo & ~c.xcr0) !== 0) throw new GuestFault(Vec.GP, 0);
  for (let off = 8; off < 24; off += 4) if (c.read32(lin + HEADER + off) !== 0) throw new GuestFault(Vec.GP, 0);
  let mxcsr = 0;
  let xmm: Uint32Array | undefined;
  if (rfbm & SSE) {
    mxcsr = c.read32(lin + 24);
    if ((mxcsr & ~MXCSR_MASK) !== 0) throw new GuestFault(Vec.GP, 0);
    if (bvLo & SSE) xmm = readXmmRegion(c, lin);
  }
  if (rfbm & X87) {
    const f = c.fpu;
    if (bvLo & X87) fxrstorX87(c, f, lin);
    else {
      f.init();
      f.regs.fill(0n);
    }
  }
  if (rfbm & SSE) {
    c.sse.mxcsr = mxcsr;
    if (xmm) c.sse.u32.set(xmm);
    else c.sse.u32.fill(0, 0, 4 * xmmCount(c));
  }
};

/** XGETBV: ECX = 0 reads XCR0; ECX = 1 (with XGETBV1) XCR0 & XINUSE, which is XCR0 here; else #GP(0). */
const xgetbv: Handler = (c) => {
  checkEnabled(c);
  const n = c.getReg(1, 4);
  if (n !== 0 && !(n === 1 && c.model.features.has('xgetbv1'))) throw new GuestFault(Vec.GP, 0);
  c.setReg(0, 4, c.xcr0);
  c.setReg(2, 4, 0);
};

/**
 * XSETBV (CPL 0, checked by the machine before this: QEMU tests CPL before CR4.OSXSAVE): only
 * XCR0, with x87 set and nothing the model does not support, else #GP(0).
 */
const xsetbv: Handler = (c) => {
  checkEnabled(c);
  const lo = c.getReg(0, 4);
  const hi = c.getReg(2, 4);
  if (c.getReg(1, 4) !== 0 || (lo & X87) === 0 || hi !== 0 || (lo & ~supportedXcr0(c)) !== 0) throw new GuestFault(Vec.GP, 0);
  c.xcr0 = lo;
};

export const XSAVE_HANDLERS: Readonly<Record<string, Handler>> = { xsave, xsaveopt: xsave, xrstor, xgetbv, xsetbv };
