import type { Cpu } from '../cpu/cpu.js';
import { readM16, readM80, writeM16, writeM32, writeM80 } from './access.js';
import type { X87 } from './x87-state.js';

/**
 * FNSTENV/FLDENV/FNSAVE/FRSTOR images as QEMU 7.2 writes them. `form` is QEMU's data32 (operand
 * size 16 → 0, 32 → 1, 64 → 2): 0 is the 14-byte layout, anything else the 28-byte one with
 * 32-bit fields (CS/DS selectors zero-extended, no opcode), and FNSAVE's registers start at
 * 14 << form (so REX.W puts them at +56, as in QEMU).
 */

export function envForm(osize: number): number {
  return osize === 2 ? 0 : osize === 4 ? 1 : 2;
}

export function storeEnv(c: Cpu, f: X87, lin: number, form: number): void {
  const fields = [f.fcw, f.statusWord, f.fullTagWord(), Number(f.fip & 0xffffffffn), f.fcs, Number(f.fdp & 0xffffffffn), f.fds];
  fields.forEach((v, i) => {
    if (form) writeM32(c, lin + 4 * i, v);
    else writeM16(c, lin + 2 * i, v);
  });
}

export function loadEnv(c: Cpu, f: X87, lin: number, form: number): void {
  const step = form ? 4 : 2;
  f.fcw = readM16(c, lin);
  const sw = readM16(c, lin + step);
  const tags = readM16(c, lin + 2 * step);
  f.loadStatusWord(sw);
  f.loadFullTagWord(tags);
}

export function fnsave(c: Cpu, f: X87, lin: number, form: number): void {
  storeEnv(c, f, lin, form);
  const regs = lin + (14 << form);
  for (let i = 0; i < 8; i++) writeM80(c, regs + 10 * i, f.st(i));
  f.init();
}

export function frstor(c: Cpu, f: X87, lin: number, form: number): void {
  loadEnv(c, f, lin, form);
  const regs = lin + (14 << form);
  for (let i = 0; i < 8; i++) f.setSt(i, readM80(c, regs + 10 * i));
}

/**
 * The x87 part of an FXSAVE image (bytes 0–159 of the 512-byte area) as QEMU writes it: FCW,
 * FSW, abridged tag, zeroed instruction/operand pointers, ST(0)–ST(7) in 16-byte slots. For the
 * FXSAVE/FXRSTOR rows (0F AE), which also store MXCSR and the XMM registers.
 */
export function fxsaveX87(c: Cpu, f: X87, lin: number): void {
  writeM16(c, lin, f.fcw);
  writeM16(c, lin + 2, f.statusWord);
  writeM16(c, lin + 4, f.abridgedTagWord());
  for (let off = 8; off < 24; off += 4) writeM32(c, lin + off, 0);
  for (let i = 0; i < 8; i++) writeM80(c, lin + 32 + 16 * i, f.st(i));
}

export function fxrstorX87(c: Cpu, f: X87, lin: number): void {
  f.fcw = readM16(c, lin);
  f.loadStatusWord(readM16(c, lin + 2));
  f.loadAbridgedTagWord(readM16(c, lin + 4) & 0xff);
  for (let i = 0; i < 8; i++) f.setSt(i, readM80(c, lin + 32 + 16 * i));
}
