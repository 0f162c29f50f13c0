import { GPR_BY_ENCODING, type MachineState } from './machine-state.js';

/**
 * A machine state as 32-bit words in one fixed layout, for comparing millions of states per
 * minute without building BigInts: QEMU's per-instruction log is parsed into it and the emulator
 * fills it from its registers. 64-bit values take two words, low first.
 */
export const RR = {
  /** 16 GPRs in encoding order (RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8…R15), two words each. */
  GPR: 0,
  RIP: 32,
  RFLAGS: 34,
  CR0: 35,
  CR2: 36,
  CR3: 38,
  CR4: 40,
  EFER: 41,
  /** Selectors ES, CS, SS, DS, FS, GS. */
  SEL: 42,
  FS_BASE: 48,
  GS_BASE: 50,
  LENGTH: 52,
} as const;

export const RR_SEGMENTS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'] as const;

const u64 = (r: ArrayLike<number>, i: number) => (BigInt(r[i + 1]! >>> 0) << 32n) | BigInt(r[i]! >>> 0);

/** The fields of a record as a MachineState (for reports); what the record lacks is left 0. */
export function recordToState(r: ArrayLike<number>): MachineState {
  const gpr = {} as MachineState['gpr'];
  GPR_BY_ENCODING.forEach((n, i) => (gpr[n] = u64(r, RR.GPR + 2 * i)));
  const sel = (i: number) => ({ selector: r[RR.SEL + i]! & 0xffff });
  return {
    gpr,
    rip: u64(r, RR.RIP),
    rflags: BigInt(r[RR.RFLAGS]! >>> 0),
    seg: { es: sel(0), cs: sel(1), ss: sel(2), ds: sel(3), fs: sel(4), gs: sel(5) },
    fsBase: u64(r, RR.FS_BASE),
    gsBase: u64(r, RR.GS_BASE),
    kernelGsBase: 0n,
    cr0: BigInt(r[RR.CR0]! >>> 0),
    cr2: u64(r, RR.CR2),
    cr3: u64(r, RR.CR3),
    cr4: BigInt(r[RR.CR4]! >>> 0),
    cr8: 0n,
    efer: BigInt(r[RR.EFER]! >>> 0),
  };
}

/** Names of the fields where two records differ (RFLAGS bits in `flagMask` ignored). */
export function recordDiffs(a: ArrayLike<number>, b: ArrayLike<number>, flagMask = 0): string[] {
  const out: string[] = [];
  for (let i = 0; i < 16; i++) if (a[2 * i] !== b[2 * i] || a[2 * i + 1] !== b[2 * i + 1]) out.push(`gpr.${GPR_BY_ENCODING[i]}`);
  const pairs: Array<[string, number, number]> = [['rip', RR.RIP, 2], ['cr2', RR.CR2, 2], ['cr3', RR.CR3, 2], ['fsBase', RR.FS_BASE, 2], ['gsBase', RR.GS_BASE, 2], ['cr0', RR.CR0, 1], ['cr4', RR.CR4, 1], ['efer', RR.EFER, 1]];
  for (const [name, at, n] of pairs) for (let k = 0; k < n; k++) if (a[at + k] !== b[at + k]) {
    out.push(name);
    break;
  }
  if (((a[RR.RFLAGS]! ^ b[RR.RFLAGS]!) & ~flagMask) !== 0) out.push('rflags');
  RR_SEGMENTS.forEach((s, i) => {
    if (a[RR.SEL + i] !== b[RR.SEL + i]) out.push(`seg.${s}.selector`);
  });
  return out;
}

/** A MachineState in the record layout (the fields a record holds). */
export function stateToRecord(s: MachineState): Uint32Array {
  const w = new Uint32Array(RR.LENGTH);
  const put = (at: number, v: bigint) => {
    w[at] = Number(v & 0xffffffffn);
    w[at + 1] = Number((v >> 32n) & 0xffffffffn);
  };
  GPR_BY_ENCODING.forEach((n, i) => put(RR.GPR + 2 * i, s.gpr[n]));
  put(RR.RIP, s.rip);
  w[RR.RFLAGS] = Number(s.rflags & 0xffffffffn);
  w[RR.CR0] = Number(s.cr0 & 0xffffffffn);
  put(RR.CR2, s.cr2);
  put(RR.CR3, s.cr3);
  w[RR.CR4] = Number(s.cr4 & 0xffffffffn);
  w[RR.EFER] = Number(s.efer & 0xffffffffn);
  RR_SEGMENTS.forEach((n, i) => (w[RR.SEL + i] = s.seg[n].selector));
  put(RR.FS_BASE, s.fsBase);
  put(RR.GS_BASE, s.gsBase);
  return w;
}

export function sameRecord(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  for (let i = 0; i < RR.LENGTH; i++) if (a[i] !== b[i]) return false;
  return true;
}
