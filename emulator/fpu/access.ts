import type { Cpu } from '../cpu/cpu.js';
import { GuestFault, Vec } from '../memory/guest-fault.js';
import type { X87 } from './x87-state.js';

/** What every x87 operation receives: the CPU (memory at c.lin, flags, GPRs) and the FPU. */
export type X87Handler = (c: Cpu, f: X87, reg: number, rm: number, opcode: number, osize: number) => void;

export function readM16(c: Cpu, lin: number): number {
  return c.read16(lin);
}

export function readM32(c: Cpu, lin: number): number {
  return c.read32(lin) >>> 0;
}

export function readM64(c: Cpu, lin: number): bigint {
  const lo = c.read64(lin);
  return (BigInt(c.hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** 80-bit load: the low quadword, then the sign/exponent word (QEMU's order). */
export function readM80(c: Cpu, lin: number): bigint {
  const lo = readM64(c, lin);
  return (BigInt(c.read16(lin + 8)) << 64n) | lo;
}

export function writeM16(c: Cpu, lin: number, v: number): void {
  c.write16(lin, v & 0xffff);
}

export function writeM32(c: Cpu, lin: number, v: number): void {
  c.write32(lin, v >>> 0);
}

export function writeM64(c: Cpu, lin: number, v: bigint): void {
  c.write64(lin, Number(v & 0xffffffffn), Number((v >> 32n) & 0xffffffffn));
}

export function writeM80(c: Cpu, lin: number, v: bigint): void {
  writeM64(c, lin, v & 0xffffffffffffffffn);
  c.write16(lin + 8, Number(v >> 64n) & 0xffff);
}

/** CR0.NE set: an unmasked x87 exception is delivered as #MF; clear: through FERR# (not modelled). */
const CR0_NE = 0x20;

/** FWAIT's (and FNOP's) check: a pending unmasked exception raises #MF. */
export function checkPending(c: Cpu, f: X87): void {
  if (f.fsw & 0x80 && c.cr0 & CR0_NE) throw new GuestFault(Vec.MF);
}
