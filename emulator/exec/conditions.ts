import type { Cpu } from '../cpu/cpu.js';
import { CC } from '../cpu/lazy-flags.js';
import { CF, OF, PF, SF, ZF } from '../isa/flags.js';

/** Evaluate condition code tttn (Jcc/SETcc/CMOVcc). */
export function testCondition(c: Cpu, cond: number): boolean {
  const f = c.cc;
  // Fast path: ZF after SUB/CMP/ADD/LOGIC without materializing everything.
  if ((cond === 4 || cond === 5) && f.op !== CC.Eager) {
    const z = f.size === 8 ? (f.res | f.resHi) === 0 : f.res === 0;
    return cond === 4 ? z : !z;
  }
  // CF alone (JB/JAE after CMP): no need to compute the other flags.
  if (cond === 2 || cond === 3) return (c.getCF() !== 0) === (cond === 2);
  const fl = c.status();
  let r: boolean;
  switch (cond >> 1) {
    case 0:
      r = (fl & OF) !== 0;
      break;
    case 1:
      r = (fl & CF) !== 0;
      break;
    case 2:
      r = (fl & ZF) !== 0;
      break;
    case 3:
      r = (fl & (CF | ZF)) !== 0;
      break;
    case 4:
      r = (fl & SF) !== 0;
      break;
    case 5:
      r = (fl & PF) !== 0;
      break;
    case 6:
      r = ((fl & SF) !== 0) !== ((fl & OF) !== 0);
      break;
    default:
      r = (fl & ZF) !== 0 || ((fl & SF) !== 0) !== ((fl & OF) !== 0);
  }
  return (cond & 1) === 0 ? r : !r;
}
