import { CR0_PE, type Cpu, EFER_LMA } from '../cpu/cpu.js';
import { decodeDescriptor, type Descriptor } from '../cpu/segments.js';
import type { Insn } from '../decode/insn.js';
import { VM, ZF } from '../isa/flags.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';
import { readOp } from './operands.js';

/**
 * LAR, LSL, VERR, VERW (SDM Vol. 2): what a selector's descriptor allows, told by ZF, without a
 * fault for a selector that names nothing usable. Protected mode and IA-32e mode only (#UD in
 * real and virtual-8086 mode). Reading the descriptor can fault (#PF on the table: a supervisor
 * access); nothing is written, not even the accessed bit.
 */

const types = (...t: number[]) => t.reduce((m, x) => m | (1 << x), 0);

/**
 * System descriptor types (S = 0) each instruction accepts, bit n for type n: SDM Vol. 2 LAR Table
 * 3-52 and LSL Table 3-60, legacy protected mode and IA-32e mode (64-bit and compatibility mode:
 * EFER.LMA). The IA-32e columns are Intel's; QEMU 7.2's seg_helper.c uses the legacy column in
 * every mode (a known deviation: LAR of a type 1/3/4/5 and LSL of a type 1/3 descriptor set ZF
 * there, LSL of type 0 does not). VERR and VERW accept no system descriptor.
 */
const SYSTEM_TYPES = {
  lar: { legacy: types(1, 2, 3, 4, 5, 9, 0xb, 0xc), ia32e: types(9, 0xb, 0xc) },
  // IA-32e type 0: "upper 8 bytes of a 16-byte descriptor"
  lsl: { legacy: types(1, 2, 3, 9, 0xb), ia32e: types(0, 2, 9, 0xb) },
} as const;

const TYPE_CODE = 8;
const TYPE_CONFORMING = 4;
/** Readable for code, writable for data. */
const TYPE_RW = 2;

function requireProtectedMode(c: Cpu): void {
  if ((c.cr0 & CR0_PE) === 0 || (c.flagsRest & VM) !== 0) throw new GuestFault(Vec.UD);
}

/** The descriptor `sel` names, or undefined for a null selector or one past its table's limit. */
function lookUp(c: Cpu, sel: number): Descriptor | undefined {
  if ((sel & 0xfffc) === 0) return undefined;
  const ldt = (sel & 4) !== 0;
  const index = sel & 0xfff8;
  if (index + 7 > (ldt ? c.ldtr.limit : c.gdtrLimit)) return undefined;
  const addr = (ldt ? c.ldtr.base : c.gdtrBase) + index;
  return c.asSupervisor(() => decodeDescriptor(c.read32(addr), c.read32(addr + 4), addr));
}

/** Visible at the CPL and the selector's RPL: DPL ≥ both. */
function visible(c: Cpu, d: Descriptor, sel: number): boolean {
  const dpl = (d.hi >> 13) & 3;
  return dpl >= c.cpl && dpl >= (sel & 3);
}

/** LAR/LSL: the descriptor when the instruction may read it (code and data, or a system type of its table), else undefined. */
function readable(c: Cpu, sel: number, table: { legacy: number; ia32e: number }): Descriptor | undefined {
  const d = lookUp(c, sel);
  if (d === undefined) return undefined;
  const type = (d.hi >> 8) & 0xf;
  if ((d.hi & 0x1000) === 0) {
    if ((((c.efer & EFER_LMA) !== 0 ? table.ia32e : table.legacy) & (1 << type)) === 0) return undefined;
  } else if ((type & (TYPE_CODE | TYPE_CONFORMING)) === (TYPE_CODE | TYPE_CONFORMING)) return d; // conforming code: no DPL check
  return visible(c, d, sel) ? d : undefined;
}

/** ZF and, when set, the destination (16 bits, or 32 zero-extended). */
function result(c: Cpu, d: Insn, value: number | undefined): void {
  c.setStatus(ZF, value === undefined ? 0 : ZF);
  if (value !== undefined) c.setReg(d.or[0]!, d.osize, d.osize === 2 ? value & 0xffff : value >>> 0, 0);
}

/** LAR r, r/m16: the descriptor's second dword masked by 00F0FF00H (FF00H at 16 bits). */
export function lar(c: Cpu, d: Insn): void {
  requireProtectedMode(c);
  const desc = readable(c, readOp(c, d, 1) & 0xffff, SYSTEM_TYPES.lar);
  result(c, d, desc === undefined ? undefined : desc.attrs);
}

/** LSL r, r/m16: the segment limit in bytes (scaled by G). */
export function lsl(c: Cpu, d: Insn): void {
  requireProtectedMode(c);
  const desc = readable(c, readOp(c, d, 1) & 0xffff, SYSTEM_TYPES.lsl);
  result(c, d, desc === undefined ? undefined : desc.limit);
}

/** VERR (arg 0) / VERW (arg 1) r/m16: a readable (code or data) / writable (data) segment visible at CPL and RPL. */
export function verify(c: Cpu, d: Insn): void {
  requireProtectedMode(c);
  const sel = readOp(c, d, 0) & 0xffff;
  const desc = lookUp(c, sel);
  let ok = false;
  if (desc !== undefined && (desc.hi & 0x1000) !== 0) {
    const type = (desc.hi >> 8) & 0xf;
    const code = (type & TYPE_CODE) !== 0;
    if (d.arg === 0) ok = code ? (type & TYPE_RW) !== 0 && ((type & TYPE_CONFORMING) !== 0 || visible(c, desc, sel)) : visible(c, desc, sel);
    else ok = !code && (type & TYPE_RW) !== 0 && visible(c, desc, sel);
  }
  c.setStatus(ZF, ok ? ZF : 0);
}
