import type { CpuModel } from '../cpu/cpu-model.js';
import { EFER_LMA, EFER_LME } from '../cpu/cpu.js';
import { setSegmentCache } from '../cpu/segments.js';
import { Seg } from '../decode/insn.js';
import { Machine } from '../machine.js';

/**
 * Test-only: a 64-bit CPU with paging off (linear = physical) and flat segments, for
 * instruction-level unit tests that do not need the IDT or page tables. Code goes at CODE.
 */
export const CODE = 0x1000;
export const DATA = 0x8000;

export function bareMachine(model?: CpuModel): Machine {
  const m = new Machine(0x20000, model);
  const c = m.cpu;
  c.efer = EFER_LMA | EFER_LME;
  c.cr0 = 0x11; // PE, ET: paging stays off so addresses are physical
  setSegmentCache(c, Seg.CS, 0x8, 0, 0xffffffff, 0x00af9b00);
  for (const s of [Seg.SS, Seg.DS, Seg.ES, Seg.FS, Seg.GS]) setSegmentCache(c, s, 0x10, 0, 0xffffffff, 0x00cf9300);
  c.syncMmu();
  c.updateMode();
  return m;
}

/** Place `code` at CODE, point RIP at it and run one instruction. */
export function execOne(m: Machine, code: Uint8Array): ReturnType<Machine['step']> {
  m.bus.load(CODE, code);
  m.cpu.rip = CODE;
  return m.step();
}
