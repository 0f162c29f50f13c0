import type { Cpu } from '../cpu/cpu.js';
import type { Insn } from '../decode/insn.js';
import { fwait, x87 } from '../fpu/dispatch.js';
import { ALL_ROWS } from '../isa/table.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';
import * as alu from './alu.js';
import * as atomics from './atomics.js';
import * as bcd from './bcd.js';
import * as bits from './bits.js';
import * as cf from './control-flow.js';
import * as far from './far-transfer.js';
import * as flags from './flag-ops.js';
import * as mov from './mov.js';
import * as muldiv from './muldiv.js';
import * as io from './port-io.js';
import * as legacy from './legacy-ops.js';
import { readOp, writeOp } from './operands.js';
import * as segq from './segment-queries.js';
import * as shifts from './shifts.js';
import * as stack from './stack.js';
import * as str from './string-ops.js';
import * as sys from './system.js';
import { SSE_HANDLERS } from './sse/index.js';
import { XSAVE_HANDLERS } from './xsave.js';
import { BMI1_HANDLERS } from './bmi1.js';
import { BMI2_HANDLERS } from './bmi2.js';
import { SYSTEM_FEATURE_HANDLERS } from './system-features.js';
import { sysenter, sysexit } from './sysenter.js';

export type Handler = (c: Cpu, d: Insn) => void;

function unimplemented(): void {
  throw new GuestFault(Vec.UD);
}

/** MOVBE: a load or store with the bytes reversed. */
function movbe(c: Cpu, d: Insn): void {
  const s = d.os[0]!;
  const lo = readOp(c, d, 1);
  const hi = c.hi;
  const sw = (x: number) => (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
  if (s === 8) writeOp(c, d, 0, sw(hi), sw(lo));
  else if (s === 4) writeOp(c, d, 0, sw(lo), 0);
  else writeOp(c, d, 0, ((lo & 0xff) << 8) | ((lo >>> 8) & 0xff), 0);
}

/** Handler names used by the opcode rows → functions. */
export const HANDLERS: Readonly<Record<string, Handler>> = {
  alu: alu.alu,
  test: alu.test,
  inc: alu.inc,
  dec: alu.dec,
  neg: alu.neg,
  not: alu.not,
  mov: mov.mov,
  mov_imm: mov.movImm,
  movzx: mov.movzx,
  movsx: mov.movsx,
  movsxd: mov.movsxd,
  lea: mov.lea,
  xchg: mov.xchg,
  nop90: mov.nop90,
  bswap: mov.bswap,
  cmov: mov.cmov,
  setcc: mov.setcc,
  cbw: mov.cbw,
  cwd: mov.cwd,
  xlat: mov.xlat,
  movbe,
  shift: shifts.shift,
  shld: shifts.shld,
  shrd: shifts.shrd,
  mul: muldiv.mul,
  imul1: muldiv.imul1,
  imul2: muldiv.imul2,
  imul3: muldiv.imul3,
  div: muldiv.div,
  idiv: muldiv.idiv,
  bt: bits.bt,
  bsf: bits.bsf,
  bsr: bits.bsr,
  popcnt: bits.popcnt,
  lzcnt: bits.lzcnt,
  tzcnt: bits.tzcnt,
  xadd: atomics.xadd,
  cmpxchg: atomics.cmpxchg,
  cmpxchg8b: atomics.cmpxchg8b,
  push: stack.push,
  pop: stack.pop,
  enter: stack.enter,
  leave: stack.leave,
  pushf: stack.pushf,
  popf: stack.popf,
  push_sreg: stack.pushSreg,
  pop_sreg: stack.popSreg,
  cli: stack.cli,
  sti: stack.sti,
  clc: flags.clc,
  stc: flags.stc,
  cmc: flags.cmc,
  cld: flags.cld,
  std: flags.std,
  lahf: flags.lahf,
  sahf: flags.sahf,
  jmp_rel: cf.jmpRel,
  jcc: cf.jcc,
  jmp_ind: cf.jmpInd,
  call_rel: cf.callRel,
  call_ind: cf.callInd,
  ret: cf.ret,
  loop: cf.loop,
  jrcxz: cf.jrcxz,
  int: cf.int,
  int3: cf.int3,
  int1: cf.int1,
  ud: cf.ud,
  nop: () => {},
  sfence: sys.sfence,
  movs: str.movs,
  stos: str.stos,
  lods: str.lods,
  scas: str.scas,
  cmps: str.cmps,
  ins: str.ins,
  outs: str.outs,
  hlt: sys.hlt,
  mov_from_cr: sys.movFromCr,
  mov_to_cr: sys.movToCr,
  mov_from_dr: sys.movFromDr,
  mov_to_dr: sys.movToDr,
  clts: sys.clts,
  lgdt: sys.lgdt,
  lidt: sys.lidt,
  sgdt: sys.sgdt,
  sidt: sys.sidt,
  smsw: sys.smsw,
  lmsw: sys.lmsw,
  invlpg: sys.invlpg,
  sldt: sys.sldt,
  str: sys.str,
  lldt: sys.lldt,
  ltr: sys.ltr,
  lar: segq.lar,
  lsl: segq.lsl,
  verify: segq.verify,
  mov_to_sreg: sys.movToSreg,
  mov_from_sreg: sys.movFromSreg,
  swapgs: sys.swapgs,
  rdmsr: sys.rdmsr,
  wrmsr: sys.wrmsr,
  rdtsc: sys.rdtsc,
  rdtscp: sys.rdtscp,
  rdpmc: sys.rdpmc,
  cpuid: sys.cpuid,
  in: io.portIn,
  out: io.portOut,
  iret: sys.iret,
  syscall: sys.syscall,
  sysret: sys.sysret,
  x87,
  fwait,
  rdrand: sys.rdrand,
  callf: far.callFar,
  jmpf: far.jmpFar,
  retf: far.retf,
  callf_direct: far.callFarDirect,
  jmpf_direct: far.jmpFarDirect,
  pusha: legacy.pusha,
  popa: legacy.popa,
  into: legacy.into,
  arpl: legacy.arpl,
  daa: bcd.daa,
  das: bcd.das,
  ascii_adjust: bcd.asciiAdjust,
  aam: bcd.aam,
  aad: bcd.aad,
  salc: bcd.salc,
  bound: bcd.bound,
  load_far_pointer: legacy.loadFarPointer,
  ...SSE_HANDLERS,
  ...XSAVE_HANDLERS,
  ...BMI1_HANDLERS,
  ...BMI2_HANDLERS,
  ...SYSTEM_FEATURE_HANDLERS,
  sysenter,
  sysexit,
};

/** Handler per row id (the dispatch array); rows whose handler is missing raise #UD. */
export const DISPATCH: readonly Handler[] = ALL_ROWS.map((r) => HANDLERS[r.handler] ?? unimplemented);

/** Rows with no handler (reported by the tests and the coverage table). */
export function missingHandlers(): string[] {
  return ALL_ROWS.filter((r) => HANDLERS[r.handler] === undefined).map((r) => `${r.mnemonic} ${r.forms} (${r.handler})`);
}

/** Rows that compute their own memory address (or touch none). */
export const NO_EFFECTIVE_ADDRESS: ReadonlySet<string> = new Set(['lea', 'nop', 'pop', 'invlpg']);
