import type { Cpu } from '../../cpu/cpu.js';
import { SLOT_MMX_DST } from '../../cpu/sse-state.js';
import type { Insn } from '../../decode/insn.js';
import { commitMmx, destSlot, loadMmx, packedWidth, sourceSlot } from './access.js';
import { begin } from './begin.js';

/**
 * Element-wise integer operations on MMX and XMM registers (SDM Vol. 2: PADDx, PSUBx, PCMPxx,
 * PMINUB/PMAXUB/PMINSW/PMAXSW, PAVGB/W, PMULxx, PMADDWD, PSADBW, PAND/PANDN/POR/PXOR), as a table: each entry
 * names the lane view and the function of two lanes. Typed-array stores wrap the results to the
 * lane width, which is the non-saturating arithmetic; saturating entries clamp first.
 */

type Handler = (c: Cpu, d: Insn) => void;
type View = 'bytes' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32';
type Lanes = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array;

/** The destination (loaded, for MMX) and source slots of a two-operand packed instruction. */
export function twoOperands(c: Cpu, d: Insn): [number, number] {
  begin(c, d);
  const src = sourceSlot(c, d, 1);
  const dst = destSlot(d);
  if (dst === SLOT_MMX_DST) loadMmx(c, d.or[0]!, SLOT_MMX_DST);
  return [dst, src];
}

function lanewise(view: View, op: (a: number, b: number) => number): Handler {
  return (c, d) => {
    const [dst, src] = twoOperands(c, d);
    const a: Lanes = c.sse[view];
    const per = 16 / a.BYTES_PER_ELEMENT;
    const n = packedWidth(d) / a.BYTES_PER_ELEMENT;
    const t = dst * per;
    const s = src * per;
    for (let k = 0; k < n; k++) a[t + k] = op(a[t + k]!, a[s + k]!);
    commitMmx(c, d);
  };
}

const clamp = (v: number, lo: number, hi: number) => (v < lo ? lo : v > hi ? hi : v);

/** 64-bit lanes as 32-bit halves: PADDQ/PSUBQ. */
function qwordwise(sub: boolean): Handler {
  return (c, d) => {
    const [dst, src] = twoOperands(c, d);
    const u = c.sse.u32;
    for (let q = 0; q < packedWidth(d) / 8; q++) {
      const t = dst * 4 + q * 2;
      const s = src * 4 + q * 2;
      const lo = sub ? u[t]! - u[s]! : u[t]! + u[s]!;
      const carry = sub ? (lo < 0 ? -1 : 0) : lo > 0xffffffff ? 1 : 0;
      u[t + 1] = (sub ? u[t + 1]! - u[s + 1]! : u[t + 1]! + u[s + 1]!) + carry;
      u[t] = lo;
    }
    commitMmx(c, d);
  };
}

/** PMULUDQ: the low dword of each qword, multiplied into the whole qword (unsigned). */
const pmuludq: Handler = (c, d) => {
  const [dst, src] = twoOperands(c, d);
  const u = c.sse.u32;
  for (let q = 0; q < packedWidth(d) / 8; q++) {
    const t = dst * 4 + q * 2;
    const p = BigInt(u[t]!) * BigInt(u[src * 4 + q * 2]!);
    u[t] = Number(p & 0xffffffffn);
    u[t + 1] = Number(p >> 32n);
  }
  commitMmx(c, d);
};

/** PMADDWD: signed word products summed in pairs into dwords (0x8000·0x8000 twice wraps to 0x80000000). */
const pmaddwd: Handler = (c, d) => {
  const [dst, src] = twoOperands(c, d);
  const w = c.sse.i16;
  const r = c.sse.i32;
  for (let k = 0; k < packedWidth(d) / 4; k++) {
    const t = dst * 8 + 2 * k;
    const s = src * 8 + 2 * k;
    r[dst * 4 + k] = w[t]! * w[s]! + w[t + 1]! * w[s + 1]!;
  }
  commitMmx(c, d);
};

/** PSADBW: per qword, the sum of absolute byte differences in its low word, the rest zero. */
const psadbw: Handler = (c, d) => {
  const [dst, src] = twoOperands(c, d);
  const b = c.sse.bytes;
  const u = c.sse.u32;
  for (let q = 0; q < packedWidth(d) / 8; q++) {
    let sum = 0;
    for (let i = 0; i < 8; i++) sum += Math.abs(b[dst * 16 + q * 8 + i]! - b[src * 16 + q * 8 + i]!);
    u[dst * 4 + q * 2] = sum;
    u[dst * 4 + q * 2 + 1] = 0;
  }
  commitMmx(c, d);
};

export const INT_ARITH_HANDLERS: Readonly<Record<string, Handler>> = {
  paddb: lanewise('bytes', (a, b) => a + b),
  paddw: lanewise('u16', (a, b) => a + b),
  paddd: lanewise('u32', (a, b) => a + b),
  paddq: qwordwise(false),
  psubb: lanewise('bytes', (a, b) => a - b),
  psubw: lanewise('u16', (a, b) => a - b),
  psubd: lanewise('u32', (a, b) => a - b),
  psubq: qwordwise(true),
  paddsb: lanewise('i8', (a, b) => clamp(a + b, -128, 127)),
  paddsw: lanewise('i16', (a, b) => clamp(a + b, -32768, 32767)),
  paddusb: lanewise('bytes', (a, b) => Math.min(a + b, 0xff)),
  paddusw: lanewise('u16', (a, b) => Math.min(a + b, 0xffff)),
  psubsb: lanewise('i8', (a, b) => clamp(a - b, -128, 127)),
  psubsw: lanewise('i16', (a, b) => clamp(a - b, -32768, 32767)),
  psubusb: lanewise('bytes', (a, b) => Math.max(a - b, 0)),
  psubusw: lanewise('u16', (a, b) => Math.max(a - b, 0)),
  pcmpeqb: lanewise('i8', (a, b) => (a === b ? -1 : 0)),
  pcmpeqw: lanewise('i16', (a, b) => (a === b ? -1 : 0)),
  pcmpeqd: lanewise('i32', (a, b) => (a === b ? -1 : 0)),
  pcmpgtb: lanewise('i8', (a, b) => (a > b ? -1 : 0)),
  pcmpgtw: lanewise('i16', (a, b) => (a > b ? -1 : 0)),
  pcmpgtd: lanewise('i32', (a, b) => (a > b ? -1 : 0)),
  pminub: lanewise('bytes', Math.min),
  pmaxub: lanewise('bytes', Math.max),
  pminsw: lanewise('i16', Math.min),
  pmaxsw: lanewise('i16', Math.max),
  pavgb: lanewise('bytes', (a, b) => (a + b + 1) >> 1),
  pavgw: lanewise('u16', (a, b) => (a + b + 1) >> 1),
  pmullw: lanewise('i16', (a, b) => Math.imul(a, b)),
  pmulhw: lanewise('i16', (a, b) => (a * b) >> 16),
  pmulhuw: lanewise('u16', (a, b) => Math.floor((a * b) / 65536)),
  pmuludq,
  pmaddwd,
  psadbw,
  pand: lanewise('u32', (a, b) => a & b),
  pandn: lanewise('u32', (a, b) => ~a & b),
  por: lanewise('u32', (a, b) => a | b),
  pxor: lanewise('u32', (a, b) => a ^ b),
};
