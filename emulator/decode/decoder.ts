import { mutants } from '../mutants.js';
import { Kind, Size, type OperandForm } from '../isa/operand-forms.js';
import type { Feature, IsaRow, OpMap } from '../isa/row.js';
import { opcodeHasModrm, selectRow } from '../isa/table.js';
import { BASE_RIP, Insn, Opnd, Seg } from './insn.js';
import { parseVex, type VexFields } from './vex.js';

/** Decoder results other than a length. */
export const NEED_MORE = 0;
export const DECODE_UD = -1;
/** Longer than 15 bytes: #GP(0), as on hardware and in QEMU. */
export const DECODE_TOO_LONG = -2;

export const MAX_INSN_LENGTH = 15;

export interface DecodeMode {
  /** CS.L = 1 with EFER.LMA: 64-bit mode. */
  readonly long64: boolean;
  /** CS.D: default operand/address size 32 outside 64-bit mode. */
  readonly default32: boolean;
  readonly features: ReadonlySet<Feature>;
}

/** Signals "ran out of bytes" from deep inside the decoder without threading a status everywhere. */
const OUT_OF_BYTES = { reason: 'need-more' };
const TOO_LONG = { reason: 'too-long' };

class Reader {
  buf!: Uint8Array;
  avail = 0;
  pos = 0;
  u8(): number {
    if (this.pos >= MAX_INSN_LENGTH) throw TOO_LONG;
    if (this.pos >= this.avail) throw OUT_OF_BYTES;
    return this.buf[this.pos++]!;
  }
  s8(): number {
    return (this.u8() << 24) >> 24;
  }
  u16(): number {
    return this.u8() | (this.u8() << 8);
  }
  s32(): number {
    return this.u8() | (this.u8() << 8) | (this.u8() << 16) | (this.u8() << 24);
  }
}

const reader = new Reader();
const vexFields: VexFields = { rex: 0, opsize: false, rep: 0, map: '0f', vvvv: 0, l: 0 };

/**
 * Decode one instruction from `buf[0..avail)`. Returns its length, NEED_MORE when the bytes
 * run out before the instruction ends (the caller fetches the next page and retries),
 * DECODE_UD, or DECODE_TOO_LONG.
 */
export function decode(buf: Uint8Array, avail: number, mode: DecodeMode, d: Insn): number {
  reader.buf = buf;
  reader.avail = avail;
  reader.pos = 0;
  try {
    return decodeInner(reader, mode, d);
  } catch (e) {
    if (e === OUT_OF_BYTES) return NEED_MORE;
    if (e === TOO_LONG) return DECODE_TOO_LONG;
    throw e;
  }
}

function decodeInner(r: Reader, mode: DecodeMode, d: Insn): number {
  let rex = 0;
  let seg = -1;
  let segPrefix = -1;
  let opsize = false;
  let adsize = false;
  let rep = 0;
  let lock = false;
  let b: number;
  for (;;) {
    b = r.u8();
    if (b === 0x66) opsize = true;
    else if (b === 0x67) adsize = true;
    else if (b === 0xf2 || b === 0xf3) rep = b;
    else if (b === 0xf0) lock = true;
    else if (b === 0x64 || b === 0x65) segPrefix = seg = b === 0x64 ? Seg.FS : Seg.GS;
    else if (b === 0x26 || b === 0x2e || b === 0x36 || b === 0x3e) {
      segPrefix = b === 0x26 ? Seg.ES : b === 0x2e ? Seg.CS : b === 0x36 ? Seg.SS : Seg.DS;
      // ES/CS/SS/DS overrides are ignored in 64-bit mode.
      if (!mode.long64) seg = segPrefix;
    } else if (mode.long64 && (b & 0xf0) === 0x40) {
      rex = b;
      continue; // keep rex only if the opcode follows immediately
    } else break;
    rex = 0; // a legacy prefix after REX cancels it
  }

  let map: OpMap = 'one';
  let opcode = b;
  // C4/C5 start a VEX prefix in 64-bit code, and in 32-bit code when the next byte's top bits are
  // 11 (LES/LDS would have a register ModRM there, which is invalid); otherwise, and always in
  // 16-bit code, they are LES/LDS (SDM §2.3.5; QEMU 7.2 translate.c: CODE32 only)
  let vex = false;
  if ((b === 0xc4 || b === 0xc5) && (mode.long64 || mode.default32)) {
    const b1 = r.u8();
    if (mode.long64 || (b1 & 0xc0) === 0xc0) {
      // a 66, F2, F3, LOCK or REX prefix before VEX: #UD (SDM §2.3.2)
      if (rex !== 0 || opsize || rep !== 0 || lock) return DECODE_UD;
      if (!parseVex(b, b1, b === 0xc4 ? r.u8() : 0, mode.long64, vexFields)) return DECODE_UD;
      vex = true;
      rex = vexFields.rex;
      opsize = vexFields.opsize;
      rep = vexFields.rep;
      map = vexFields.map;
      opcode = r.u8();
    } else r.pos--;
  }
  if (vex) {
    // the opcode is read; every VEX instruction has a ModRM byte
  } else if (b === 0x0f) {
    const b2 = r.u8();
    if (b2 === 0x38 || b2 === 0x3a) {
      map = b2 === 0x38 ? '0f38' : '0f3a';
      opcode = r.u8();
    } else {
      map = '0f';
      opcode = b2;
    }
  }

  const rexW = (rex & 8) !== 0;
  const rexR = (rex & 4) << 1;
  const rexX = (rex & 2) << 2;
  const rexB = (rex & 1) << 3;
  const rmB = mutants.rexBIgnored ? 0 : rexB; // ModRM.rm's extension (a planted bug can drop it)

  let modrm = -1;
  let mod = 3;
  let reg3 = 0;
  let rm3 = 0;
  if (vex || opcodeHasModrm(map, opcode)) {
    modrm = r.u8();
    mod = modrm >> 6;
    reg3 = (modrm >> 3) & 7;
    rm3 = modrm & 7;
  }
  const row = selectRow(map, opcode, mod, reg3, rm3, rep, opsize, mode.features, mode.long64, vex);
  if (row === undefined || (row.invalid64 && mode.long64)) return DECODE_UD;
  if (vex && vexFields.l !== 0) return DECODE_UD; // VEX rows are LZ forms (IsaRow.vex)

  d.row = row;
  d.arg = row.arg;
  d.rex = rex;
  d.rep = rep;
  d.lock = lock;
  d.opsizePrefix = opsize;
  d.mod = mod;
  d.reg = reg3 | rexR;
  d.rm = rm3 | rmB;
  d.hasMem = false;
  d.absolute = false;
  d.segOverride = seg >= 0;
  d.segPrefix = segPrefix;
  d.base = -1;
  d.index = -1;
  d.scale = 0;
  d.disp = 0;
  d.dispHi = 0;
  d.imm = 0;
  d.immHi = 0;
  d.imm2 = 0;

  // Operand and address sizes.
  let osize: number;
  if (mode.long64) {
    if (row.sizeRule === 'f64') osize = 8;
    else if (row.sizeRule === 'd64') osize = opsize ? 2 : 8;
    else osize = rexW ? 8 : opsize ? 2 : 4;
  } else {
    osize = mode.default32 !== opsize ? 4 : 2;
  }
  d.osize = osize;
  const asize = mode.long64 ? (adsize ? 4 : 8) : mode.default32 !== adsize ? 4 : 2;
  d.asize = asize;
  // Memory operand (ModRM/SIB/displacement; 16-bit addressing has its own table).
  if (asize === 2 && modrm >= 0 && mod !== 3 && !isRegOnly(row)) {
    d.hasMem = true;
    const [base, index] = ADDR16[rm3]!;
    if (mod === 0 && rm3 === 6) {
      d.base = -1;
      d.disp = r.u16();
    } else {
      d.base = base;
      d.index = index;
      if (mod === 1) d.disp = r.s8();
      else if (mod === 2) d.disp = r.u16();
    }
    // BP-based forms default to SS
    d.seg = seg >= 0 ? seg : d.base === 5 ? Seg.SS : Seg.DS;
  } else if (modrm >= 0 && mod !== 3 && !isRegOnly(row)) {
    d.hasMem = true;
    let defaultSS = false;
    if (rm3 === 4) {
      const sib = r.u8();
      d.scale = sib >> 6;
      const idx = ((sib >> 3) & 7) | rexX;
      d.index = idx === 4 ? -1 : idx;
      const base3 = sib & 7;
      if (base3 === 5 && mod === 0) {
        d.base = -1;
        d.disp = r.s32();
      } else {
        d.base = base3 | rexB;
      }
    } else if (rm3 === 5 && mod === 0) {
      if (mode.long64) d.base = BASE_RIP;
      d.disp = r.s32();
    } else {
      d.base = rm3 | rmB;
    }
    if (mod === 1) d.disp = r.s8();
    else if (mod === 2) d.disp = r.s32();
    defaultSS = d.base === 4 || d.base === 5;
    d.seg = seg >= 0 ? seg : defaultSS ? Seg.SS : Seg.DS;
  } else {
    d.seg = seg >= 0 ? seg : Seg.DS;
  }
  if (row.operands.some((o) => o.kind === Kind.M) && mod === 3) return DECODE_UD;

  // Operands and immediates, in encoding order (immediates follow ModRM/SIB/disp).
  const ops = row.operands;
  const byteRegsHigh = rex === 0;
  for (let i = 0; i < 3; i++) {
    d.ot[i] = Opnd.None;
    d.or[i] = 0;
    d.os[i] = 0;
  }
  let immCount = 0;
  // An Ib next to a v-sized operand (or alone in PUSH Ib) is sign-extended to the operand size.
  const widenIb = row.sizeRule === 'd64' || ops.some((o) => o.size === Size.v);
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i]!;
    const size = o.kind === Kind.I && o.size === Size.b && widenIb && i > 0 ? osize : o.kind === Kind.I && o.size === Size.b && row.sizeRule === 'd64' ? osize : resolveSize(o, osize, rexW);
    d.os[i] = size;
    switch (o.kind) {
      case Kind.E:
      case Kind.M:
        if (mod === 3 && o.kind === Kind.E) {
          d.ot[i] = Opnd.Reg;
          d.or[i] = byteReg(rm3 | rmB, size, byteRegsHigh);
        } else d.ot[i] = Opnd.Mem;
        break;
      case Kind.R:
        d.ot[i] = Opnd.Reg;
        d.or[i] = rm3 | rmB;
        break;
      case Kind.G:
        d.ot[i] = Opnd.Reg;
        d.or[i] = byteReg(reg3 | rexR, size, byteRegsHigh);
        break;
      case Kind.Z:
        d.ot[i] = Opnd.Reg;
        d.or[i] = byteReg((opcode & 7) | rexB, size, byteRegsHigh);
        break;
      case Kind.Reg:
        d.ot[i] = Opnd.Reg;
        d.or[i] = o.reg;
        break;
      case Kind.B:
        d.ot[i] = Opnd.Reg;
        d.or[i] = vexFields.vvvv;
        break;
      // XMM registers take REX.R/REX.B like general registers; MMX registers (MM0–MM7) ignore them.
      case Kind.V:
        d.ot[i] = Opnd.Reg;
        d.or[i] = reg3 | rexR;
        break;
      case Kind.P:
        d.ot[i] = Opnd.Reg;
        d.or[i] = reg3;
        break;
      case Kind.W:
      case Kind.U:
        if (mod === 3) {
          d.ot[i] = Opnd.Reg;
          d.or[i] = rm3 | rmB;
        } else d.ot[i] = Opnd.Mem;
        break;
      case Kind.Q:
      case Kind.N:
        if (mod === 3) {
          d.ot[i] = Opnd.Reg;
          d.or[i] = rm3;
        } else d.ot[i] = Opnd.Mem;
        break;
      case Kind.One:
        d.ot[i] = Opnd.One;
        break;
      case Kind.I:
      case Kind.J: {
        if (immCount++ === 1) {
          // ENTER's level (Ib), or a far pointer's selector (Iw)
          d.ot[i] = Opnd.Imm2;
          d.imm2 = o.size === Size.w ? r.u16() : r.u8();
          break;
        }
        d.ot[i] = Opnd.Imm;
        readImmediate(r, o, osize, d);
        break;
      }
      case Kind.O: {
        d.ot[i] = Opnd.Mem;
        d.hasMem = true;
        d.absolute = true;
        d.base = -1;
        d.index = -1;
        d.seg = seg >= 0 ? seg : Seg.DS;
        d.disp = asize === 2 ? r.u16() : r.s32();
        d.dispHi = asize === 8 ? r.s32() : 0;
        if (asize === 4) d.dispHi = 0;
        break;
      }
      default:
        d.ot[i] = Opnd.Other;
    }
  }
  d.len = r.pos;
  return r.pos;
}

/** 16-bit ModRM.rm → [base, index] registers (SDM Vol. 2 Table 2-1): BX+SI, BX+DI, BP+SI, BP+DI, SI, DI, BP, BX. */
const ADDR16: ReadonlyArray<readonly [number, number]> = [[3, 6], [3, 7], [5, 6], [5, 7], [6, -1], [7, -1], [5, -1], [3, -1]];

/** Rows whose E operand is always a register (MOV CRn ignores mod). */
function isRegOnly(row: IsaRow): boolean {
  return row.operands.some((o) => o.kind === Kind.R);
}

function resolveSize(o: OperandForm, osize: number, rexW: boolean): number {
  switch (o.size) {
    case Size.v:
      return osize;
    case Size.z:
      // Immediates 'Iz' become operand-size values after sign extension.
      return o.kind === Kind.I || o.kind === Kind.J ? osize : osize === 2 ? 2 : 4;
    case Size.y:
      return rexW ? 8 : 4;
    case Size.none:
      return osize;
    default:
      return o.size;
  }
}

/** Without REX, byte registers 4–7 are AH, CH, DH, BH (encoded here as 16–19). */
function byteReg(n: number, size: number, high: boolean): number {
  return size === 1 && high && n >= 4 && n < 8 ? n + 12 : n;
}

function readImmediate(r: Reader, o: OperandForm, osize: number, d: Insn): void {
  let lo: number;
  let hi: number;
  switch (o.size) {
    case Size.b:
      lo = r.s8();
      hi = lo >> 31;
      break;
    case Size.w:
      lo = r.u16();
      hi = 0;
      break;
    case Size.d:
      lo = r.s32();
      hi = lo >> 31;
      break;
    case Size.v:
      if (osize === 8) {
        lo = r.s32();
        hi = r.s32();
      } else if (osize === 4) {
        lo = r.s32();
        hi = lo >> 31;
      } else {
        lo = r.u16();
        hi = 0;
      }
      break;
    default: // z
      if (osize === 2) {
        lo = (r.u16() << 16) >> 16;
      } else lo = r.s32();
      hi = lo >> 31;
  }
  d.imm = lo >>> 0;
  d.immHi = hi >>> 0;
}
