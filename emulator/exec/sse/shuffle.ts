import type { Cpu } from '../../cpu/cpu.js';
import { SLOT_MMX_DST, SLOT_RESULT } from '../../cpu/sse-state.js';
import type { Insn } from '../../decode/insn.js';
import { commitMmx, destSlot, loadMmx, packedWidth } from './access.js';
import { begin } from './begin.js';
import { twoOperands } from './int-arith.js';

/**
 * Instructions that move elements around (SDM Vol. 2): shifts by a count in a register, memory
 * or an immediate (PSLLx/PSRLx/PSRAx, PSLLDQ/PSRLDQ), shuffles (PSHUFD/PSHUFHW/PSHUFLW/PSHUFW,
 * SHUFPS/SHUFPD), unpacks (PUNPCKLxx/PUNPCKHxx, UNPCKLPS… share them) and packs with
 * saturation. Results are built in SLOT_RESULT, since they read lanes the destination overwrites.
 */

type Handler = (c: Cpu, d: Insn) => void;
type Shift = 'left' | 'right' | 'arith';

/** Shift `width` bytes of lanes of `bits` in slot t by `n` (any non-negative count; too large: 0 or the sign). */
function shiftLanes(c: Cpu, t: number, width: number, bits: 16 | 32 | 64, kind: Shift, n: number): void {
  const s = c.sse;
  if (bits === 16) {
    const lanes = width / 2;
    if (kind === 'arith') for (let k = 0; k < lanes; k++) s.i16[t * 8 + k] = s.i16[t * 8 + k]! >> Math.min(n, 15);
    else for (let k = 0; k < lanes; k++) s.u16[t * 8 + k] = n > 15 ? 0 : kind === 'left' ? s.u16[t * 8 + k]! << n : s.u16[t * 8 + k]! >>> n;
  } else if (bits === 32) {
    const lanes = width / 4;
    if (kind === 'arith') for (let k = 0; k < lanes; k++) s.i32[t * 4 + k] = s.i32[t * 4 + k]! >> Math.min(n, 31);
    else for (let k = 0; k < lanes; k++) s.u32[t * 4 + k] = n > 31 ? 0 : kind === 'left' ? s.u32[t * 4 + k]! << n : s.u32[t * 4 + k]! >>> n;
  } else {
    const u = s.u32;
    for (let q = 0; q < width / 8; q++) {
      const i = t * 4 + q * 2;
      const lo = u[i]!;
      const hi = u[i + 1]!;
      if (n > 63) u[i] = u[i + 1] = 0;
      else if (n >= 32) {
        u[i] = kind === 'left' ? 0 : hi >>> (n - 32);
        u[i + 1] = kind === 'left' ? lo << (n - 32) : 0;
      } else if (n > 0) {
        u[i] = kind === 'left' ? lo << n : (lo >>> n) | (hi << (32 - n));
        u[i + 1] = kind === 'left' ? (hi << n) | (lo >>> (32 - n)) : hi >>> n;
      }
    }
  }
}

/** PSLLW/D/Q, PSRLW/D/Q, PSRAW/D by the unsigned 64-bit count in the source's low qword. */
function shiftByOperand(kind: Shift, bits: 16 | 32 | 64): Handler {
  return (c, d) => {
    const [dst, src] = twoOperands(c, d);
    const u = c.sse.u32;
    const n = u[src * 4 + 1] !== 0 ? 64 : u[src * 4]!;
    shiftLanes(c, dst, packedWidth(d), bits, kind, n > 64 ? 64 : n);
    commitMmx(c, d);
  };
}

/** The same by imm8 (groups 12–14): operand 0 is both source and destination. */
function shiftByImmediate(kind: Shift, bits: 16 | 32 | 64): Handler {
  return (c, d) => {
    begin(c, d);
    const dst = destSlot(d);
    if (dst === SLOT_MMX_DST) loadMmx(c, d.or[0]!, SLOT_MMX_DST);
    shiftLanes(c, dst, packedWidth(d), bits, kind, d.imm & 0xff);
    commitMmx(c, d);
  };
}

/** PSLLDQ/PSRLDQ: the whole register by imm8 bytes (above 15: zero). */
function shiftBytes(left: boolean): Handler {
  return (c, d) => {
    begin(c, d);
    const t = d.or[0]!;
    const b = c.sse.bytes;
    const n = Math.min(d.imm & 0xff, 16);
    const r = SLOT_RESULT * 16;
    for (let i = 0; i < 16; i++) {
      const from = left ? i - n : i + n;
      b[r + i] = from >= 0 && from < 16 ? b[t * 16 + from]! : 0;
    }
    c.sse.copy(t, SLOT_RESULT);
  };
}

/** Copy SLOT_RESULT's `width` bytes to the destination slot and commit it. */
function finish(c: Cpu, d: Insn, dst: number, width: number): void {
  c.sse.copy(dst, SLOT_RESULT, width);
  commitMmx(c, d);
}

/** PSHUFD (dwords) and PSHUFW (the four words of an MMX register). */
function shuffleAll(bytes: 2 | 4): Handler {
  return (c, d) => {
    const [dst, src] = twoOperands(c, d);
    const s = c.sse;
    const width = packedWidth(d);
    for (let k = 0; k < 4; k++) {
      const from = (d.imm >> (2 * k)) & 3;
      if (bytes === 4) s.u32[SLOT_RESULT * 4 + k] = s.u32[src * 4 + from]!;
      else s.u16[SLOT_RESULT * 8 + k] = s.u16[src * 8 + from]!;
    }
    finish(c, d, dst, width);
  };
}

/** PSHUFLW (high: false) / PSHUFHW (high: true): four words of one half shuffled, the other half copied. */
function shuffleHalf(high: boolean): Handler {
  return (c, d) => {
    const [dst, src] = twoOperands(c, d);
    const w = c.sse.u16;
    const base = high ? 4 : 0;
    const keep = high ? 0 : 4;
    for (let k = 0; k < 4; k++) {
      w[SLOT_RESULT * 8 + base + k] = w[src * 8 + base + ((d.imm >> (2 * k)) & 3)]!;
      w[SLOT_RESULT * 8 + keep + k] = w[src * 8 + keep + k]!;
    }
    finish(c, d, dst, 16);
  };
}

const shufps: Handler = (c, d) => {
  const [dst, src] = twoOperands(c, d);
  const u = c.sse.u32;
  for (let k = 0; k < 4; k++) u[SLOT_RESULT * 4 + k] = u[(k < 2 ? dst : src) * 4 + ((d.imm >> (2 * k)) & 3)]!;
  finish(c, d, dst, 16);
};

const shufpd: Handler = (c, d) => {
  const [dst, src] = twoOperands(c, d);
  const u = c.sse.u32;
  for (let k = 0; k < 2; k++) {
    const from = (k === 0 ? dst : src) * 4 + ((d.imm >> k) & 1) * 2;
    u[SLOT_RESULT * 4 + 2 * k] = u[from]!;
    u[SLOT_RESULT * 4 + 2 * k + 1] = u[from + 1]!;
  }
  finish(c, d, dst, 16);
};

/** Interleave `bytes`-byte elements of the low (high: false) or high halves of destination and source. */
function unpack(bytes: 1 | 2 | 4 | 8, high: boolean): Handler {
  return (c, d) => {
    const [dst, src] = twoOperands(c, d);
    const b = c.sse.bytes;
    const width = packedWidth(d);
    const from = high ? width / 2 : 0;
    const r = SLOT_RESULT * 16;
    for (let e = 0; e < width / 2 / bytes; e++) {
      for (let i = 0; i < bytes; i++) {
        b[r + 2 * e * bytes + i] = b[dst * 16 + from + e * bytes + i]!;
        b[r + (2 * e + 1) * bytes + i] = b[src * 16 + from + e * bytes + i]!;
      }
    }
    finish(c, d, dst, width);
  };
}

/** PACKSSWB/PACKUSWB/PACKSSDW: destination's then source's elements narrowed with saturation. */
function pack(wide: 2 | 4, lo: number, hi: number): Handler {
  return (c, d) => {
    const [dst, src] = twoOperands(c, d);
    const s = c.sse;
    const width = packedWidth(d);
    const n = width / wide;
    const get = (slot: number, k: number) => (wide === 2 ? s.i16[slot * 8 + k]! : s.i32[slot * 4 + k]!);
    for (let k = 0; k < 2 * n; k++) {
      const v = k < n ? get(dst, k) : get(src, k - n);
      const sat = v < lo ? lo : v > hi ? hi : v;
      if (wide === 2) s.bytes[SLOT_RESULT * 16 + k] = sat;
      else s.u16[SLOT_RESULT * 8 + k] = sat;
    }
    finish(c, d, dst, width);
  };
}

export const SHUFFLE_HANDLERS: Readonly<Record<string, Handler>> = {
  psllw: shiftByOperand('left', 16),
  pslld: shiftByOperand('left', 32),
  psllq: shiftByOperand('left', 64),
  psrlw: shiftByOperand('right', 16),
  psrld: shiftByOperand('right', 32),
  psrlq: shiftByOperand('right', 64),
  psraw: shiftByOperand('arith', 16),
  psrad: shiftByOperand('arith', 32),
  psllw_imm: shiftByImmediate('left', 16),
  pslld_imm: shiftByImmediate('left', 32),
  psllq_imm: shiftByImmediate('left', 64),
  psrlw_imm: shiftByImmediate('right', 16),
  psrld_imm: shiftByImmediate('right', 32),
  psrlq_imm: shiftByImmediate('right', 64),
  psraw_imm: shiftByImmediate('arith', 16),
  psrad_imm: shiftByImmediate('arith', 32),
  pslldq_imm: shiftBytes(true),
  psrldq_imm: shiftBytes(false),
  pshufd: shuffleAll(4),
  pshufw: shuffleAll(2),
  pshuflw: shuffleHalf(false),
  pshufhw: shuffleHalf(true),
  shufps,
  shufpd,
  punpcklbw: unpack(1, false),
  punpcklwd: unpack(2, false),
  punpckldq: unpack(4, false),
  punpcklqdq: unpack(8, false),
  punpckhbw: unpack(1, true),
  punpckhwd: unpack(2, true),
  punpckhdq: unpack(4, true),
  punpckhqdq: unpack(8, true),
  packsswb: pack(2, -128, 127),
  packuswb: pack(2, 0, 255),
  packssdw: pack(4, -32768, 32767),
};
