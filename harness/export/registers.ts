import { GPR_NAMES, SEGMENT_NAMES, type MachineState } from '../../contracts/machine-state.js';
import { REGISTER_NAMES, type RegisterName } from './single-step-schema.js';

export type Regs = Partial<Record<RegisterName, string>>;

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

/** A state as the export names its registers (x87/SSE when the state has them). */
export function stateToRegs(s: MachineState): Regs {
  const out: Regs = {};
  for (const n of GPR_NAMES) out[n] = hex(s.gpr[n]);
  out.rip = hex(s.rip);
  out.rflags = hex(s.rflags);
  for (const n of SEGMENT_NAMES) out[n] = hex(s.seg[n].selector);
  out.fs_base = hex(s.fsBase);
  out.gs_base = hex(s.gsBase);
  out.kernel_gs_base = hex(s.kernelGsBase);
  for (const n of ['cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer'] as const) out[n] = hex(s[n]);
  if (s.fpu) {
    out.fcw = hex(s.fpu.fcw);
    out.fsw = hex(s.fpu.fsw);
    s.fpu.st.forEach((v, i) => (out[`fpr${i}` as RegisterName] = hex(v)));
  }
  if (s.sse) {
    out.mxcsr = hex(s.sse.mxcsr);
    s.sse.xmm.forEach((v, i) => (out[`xmm${i}` as RegisterName] = hex(v)));
  }
  return out;
}

/** The registers whose value differs from `before` (in REGISTER_NAMES order). */
export function changedRegs(before: Regs, after: Regs): Regs {
  const out: Regs = {};
  for (const n of REGISTER_NAMES) if (after[n] !== undefined && after[n] !== before[n]) out[n] = after[n];
  return out;
}

/** A test's registers as a state to load: segments by selector (their descriptors come from the GDT). */
export function regsToState(regs: Regs, base: MachineState): MachineState {
  const v = (n: RegisterName, fallback: bigint): bigint => (regs[n] !== undefined ? BigInt(regs[n]) : fallback);
  const state: MachineState = {
    ...base,
    gpr: Object.fromEntries(GPR_NAMES.map((n) => [n, v(n, base.gpr[n])])) as MachineState['gpr'],
    rip: v('rip', base.rip),
    rflags: v('rflags', base.rflags),
    seg: Object.fromEntries(SEGMENT_NAMES.map((n) => [n, { selector: Number(v(n, BigInt(base.seg[n].selector))) }])) as MachineState['seg'],
    fsBase: v('fs_base', base.fsBase),
    gsBase: v('gs_base', base.gsBase),
    kernelGsBase: v('kernel_gs_base', base.kernelGsBase),
    cr0: v('cr0', base.cr0),
    cr2: v('cr2', base.cr2),
    cr3: v('cr3', base.cr3),
    cr4: v('cr4', base.cr4),
    cr8: v('cr8', base.cr8),
    efer: v('efer', base.efer),
  };
  if (regs.fcw !== undefined) {
    state.fpu = { fcw: Number(regs.fcw), fsw: Number(v('fsw', 0n)), st: Array.from({ length: 8 }, (_, i) => v(`fpr${i}` as RegisterName, 0n)) };
  }
  if (regs.mxcsr !== undefined) {
    state.sse = { mxcsr: Number(regs.mxcsr), xmm: Array.from({ length: 16 }, (_, i) => v(`xmm${i}` as RegisterName, 0n)) };
  }
  return state;
}
