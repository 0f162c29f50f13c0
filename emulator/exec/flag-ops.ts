import type { Cpu } from '../cpu/cpu.js';
import { AF, CF, DF, PF, SF, ZF } from '../isa/flags.js';

/** CLC STC CMC CLD STD LAHF SAHF. */

export function clc(c: Cpu): void {
  c.setStatus(CF, 0);
}

export function stc(c: Cpu): void {
  c.setStatus(CF, CF);
}

export function cmc(c: Cpu): void {
  c.setStatus(CF, c.getCF() ^ CF);
}

export function cld(c: Cpu): void {
  c.flagsRest &= ~DF;
}

export function std(c: Cpu): void {
  c.flagsRest |= DF;
}

export function lahf(c: Cpu): void {
  c.setReg(16, 1, (c.status() & (SF | ZF | AF | PF | CF)) | 2);
}

export function sahf(c: Cpu): void {
  const ah = c.getReg(16, 1);
  c.setStatus(SF | ZF | AF | PF | CF, ah);
}
