/**
 * Raw-bytes mode: encodings built directly from the rows (legacy prefixes, REX, opcode bytes,
 * ModRM/SIB/displacement, immediates), for forms keystone cannot express: SAL /6, TEST F6 /1, the
 * hint NOPs 0F 18–1E, disp32 where disp8 would do, redundant segment prefixes, an empty REX.
 * Every encoding is decoded again with iced-x86: the length must match, the instruction must be
 * valid, and the mnemonic must match the row's (loosely: aliases and size suffixes allowed).
 * Also derives, once per row, the registers a row writes implicitly (MUL → RAX/RDX, STOS → RDI…).
 */
import { InstructionInfoFactory, OpAccess, Register, RegisterExt } from 'iced-x86';
import { Kind } from '../../emulator/isa/operand-forms.js';
import type { IsaRow } from '../../emulator/isa/row.js';
import { canonicalMnemonic } from '../asm/assembler.js';
import { forEachInstruction } from '../asm/decode.js';
import type { GeneratedInstruction } from './instruction.js';
import type { MemoryOperand } from './memory-operand.js';
import { registerNeedsRex, makeRegister } from './registers.js';
import { operandSizes } from './row-catalog.js';

const SEGMENT_PREFIX = { fs: 0x64, gs: 0x65, es: 0x26 } as const;
const REP_PREFIX = { rep: 0xf3, repe: 0xf3, repne: 0xf2 } as const;
const MAP_BYTES = { one: [], '0f': [0x0f], '0f38': [0x0f, 0x38], '0f3a': [0x0f, 0x3a] } as const;
/** VEX.mmmmm and VEX.pp of a VEX row's map and mandatory prefix. */
const VEX_MAP = { one: 0, '0f': 1, '0f38': 2, '0f3a': 3 } as const;
const VEX_PP = { none: 0, 0x66: 1, 0xf3: 2, 0xf2: 3 } as const;

function le(value: bigint, bytes: number): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(bytes * 8, value);
  for (let i = 0; i < bytes; i++, v >>= 8n) out.push(Number(v & 0xffn));
  return out;
}

/** Does the operation size of this row show in the encoding (0x66 / REX.W)? */
function sizeMatters(row: IsaRow): boolean {
  if (row.sizeRule === 'f64') return false;
  if (['cbw', 'cwd', 'cmpxchg8b'].includes(row.handler)) return true;
  return row.operands.some((o) => o.size === -1 || o.size === -2 || o.size === -3);
}

interface ModrmParts {
  mod: number;
  rm: number;
  sib?: number;
  disp: number[];
  rexX: boolean;
  rexB: boolean;
  ripDispAt?: number;
}

function encodeMemory(m: MemoryOperand): ModrmParts {
  if (m.form === 'rip') return { mod: 0, rm: 5, disp: [0, 0, 0, 0], rexX: false, rexB: false, ripDispAt: 0 };
  const scaleBits = ({ 1: 0, 2: 1, 4: 2, 8: 3 } as const)[m.scale];
  const disp32 = le(m.disp, 4);
  if (m.base === undefined) {
    const index = m.index ?? 4;
    return { mod: 0, rm: 4, sib: (scaleBits << 6) | ((index & 7) << 3) | 5, disp: disp32, rexX: index >= 8 && m.index !== undefined, rexB: false };
  }
  let width = m.dispWidth;
  if (width === 0 && (m.base & 7) === 5) width = 8;
  const mod = width === 0 ? 0 : width === 8 ? 1 : 2;
  const disp = width === 0 ? [] : width === 8 ? le(m.disp, 1) : disp32;
  if (m.index === undefined && (m.base & 7) !== 4) return { mod, rm: m.base & 7, disp, rexX: false, rexB: m.base >= 8 };
  const index = m.index ?? 4;
  return { mod, rm: 4, sib: (scaleBits << 6) | ((index & 7) << 3) | (m.base & 7), disp, rexX: m.index !== undefined && index >= 8, rexB: m.base >= 8 };
}

export interface RawEncoding {
  readonly bytes: Uint8Array;
}

/**
 * Encode `g` placed at `address` (RIP-relative displacements are computed from it).
 * `raw` adds the raw-only extras from the prefix choice (redundant prefixes, empty REX).
 */
export function encodeInstruction(g: GeneratedInstruction, address: bigint, raw = true): Uint8Array {
  const row = g.row;
  const legacy: number[] = raw ? [...g.prefixes.redundant] : [];
  const mem = g.operands.find((o) => o.kind === 'mem')?.mem;
  if (mem?.segment) legacy.push(SEGMENT_PREFIX[mem.segment]);
  if (mem?.addressSize === 32) legacy.push(0x67);
  if (g.opSize === 2 && sizeMatters(row)) legacy.push(0x66);
  if (row.prefix !== undefined && row.prefix !== 'none') legacy.push(row.prefix);
  if (g.prefixes.lock) legacy.push(0xf0);
  if (g.prefixes.rep) legacy.push(REP_PREFIX[g.prefixes.rep]);
  const w = g.opSize === 8 && row.sizeRule === 'normal' && sizeMatters(row);
  let r = false, x = false, b = false, needRex = false, high = false;
  let regField = row.ext ?? 0;
  let vvvv = 0;
  let modrm: ModrmParts | undefined;
  const tail: number[] = [];
  for (const [i, o] of g.operands.entries()) {
    const form = row.operands[i]!;
    if (o.kind === 'reg') {
      needRex ||= registerNeedsRex(o.reg);
      high ||= o.reg.high;
      if (form.kind === Kind.G) { regField = o.reg.num & 7; r = o.reg.num >= 8; }
      else if (form.kind === Kind.E || form.kind === Kind.R) { modrm = { mod: 3, rm: o.reg.num & 7, disp: [], rexX: false, rexB: o.reg.num >= 8 }; }
      else if (form.kind === Kind.Z) b = o.reg.num >= 8;
      else if (form.kind === Kind.B) vvvv = o.reg.num;
    } else if (o.kind === 'simd') {
      // V/P in ModRM.reg, W/U/Q/N in ModRM.rm; XMM8–15 take REX.R/REX.B
      if (form.kind === Kind.V || form.kind === Kind.P) { regField = o.reg.num & 7; r = o.reg.num >= 8; }
      else modrm = { mod: 3, rm: o.reg.num & 7, disp: [], rexX: false, rexB: o.reg.num >= 8 };
    } else if (o.kind === 'x87') {
      if (o.rm !== undefined) modrm = { mod: 3, rm: o.rm, disp: [], rexX: false, rexB: false };
    } else if (o.kind === 'sreg') regField = o.num;
    else if (o.kind === 'mem') {
      if (form.kind === Kind.O) tail.push(...le(o.mem.address, o.mem.addressSize === 32 ? 4 : 8));
      else modrm = encodeMemory(o.mem);
    } else if (o.kind === 'imm') tail.push(...le(o.value, o.bits / 8));
  }
  if (row.modrm && !modrm) modrm = { mod: 3, rm: row.rm ?? 0, disp: [], rexX: false, rexB: false };
  if (modrm) { x = modrm.rexX; b ||= modrm.rexB; }
  const emptyRex = raw && g.prefixes.emptyRex && !high;
  const rex = row.vex ? [] : w || r || x || b || needRex || emptyRex ? [0x40 | (w ? 8 : 0) | (r ? 4 : 0) | (x ? 2 : 0) | (b ? 1 : 0)] : [];
  // a VEX row: the 3-byte prefix carries R̄X̄B̄, the map, W, vvvv̄, L = 0 and pp (SDM §2.3.5)
  const body = row.vex
    ? [0xc4, (r ? 0 : 0x80) | (x ? 0 : 0x40) | (b ? 0 : 0x20) | VEX_MAP[row.map], (w ? 0x80 : 0) | ((~vvvv & 15) << 3) | VEX_PP[row.prefix ?? 'none'], row.opcode]
    : [...MAP_BYTES[row.map], row.opcode];
  const mrm = modrm ? [(modrm.mod << 6) | ((regField & 7) << 3) | modrm.rm, ...(modrm.sib !== undefined ? [modrm.sib] : []), ...modrm.disp] : [];
  const redundant = raw ? g.prefixes.redundant.length : 0;
  const excess = Math.min(redundant, legacy.length + rex.length + body.length + mrm.length + tail.length - 15);
  if (excess > 0) legacy.splice(0, excess); // an instruction is at most 15 bytes: drop redundant prefixes first
  const bytes = [...legacy, ...rex, ...body, ...mrm, ...tail];
  if (modrm?.ripDispAt !== undefined && mem) {
    const at = legacy.length + rex.length + body.length + 1;
    const disp = mem.address - (address + BigInt(bytes.length));
    bytes.splice(at, 4, ...le(disp, 4));
  }
  return Uint8Array.from(bytes);
}

/**
 * `encodeInstruction(g, address, false).length`, without building the bytes: what the keystone
 * text's RIP displacements are estimated from (program.ts), for every instruction up to a
 * program's last RIP-relative one. Follows encodeInstruction part by part (raw.spec.ts checks
 * the two agree on generated instructions of every family).
 */
export function encodedLength(g: GeneratedInstruction): number {
  const row = g.row;
  const sized = sizeMatters(row);
  let mem: MemoryOperand | undefined;
  let r = false, zB = false, needRex = false;
  // the ModRM operand that comes last, as in encodeInstruction: its REX.X/REX.B and SIB + displacement bytes
  let modrm = false, mX = false, mB = false, modrmExtra = 0;
  let tail = 0;
  for (let i = 0; i < g.operands.length; i++) {
    const o = g.operands[i]!;
    const form = row.operands[i]!;
    if (o.kind === 'reg') {
      needRex ||= registerNeedsRex(o.reg);
      if (form.kind === Kind.G) r = o.reg.num >= 8;
      else if (form.kind === Kind.E || form.kind === Kind.R) { modrm = true; mX = false; mB = o.reg.num >= 8; modrmExtra = 0; }
      else if (form.kind === Kind.Z) zB = o.reg.num >= 8;
    } else if (o.kind === 'simd') {
      if (form.kind === Kind.V || form.kind === Kind.P) r = o.reg.num >= 8;
      else { modrm = true; mX = false; mB = o.reg.num >= 8; modrmExtra = 0; }
    } else if (o.kind === 'x87') {
      if (o.rm !== undefined) { modrm = true; mX = false; mB = false; modrmExtra = 0; }
    } else if (o.kind === 'mem') {
      mem ??= o.mem;
      const m = o.mem;
      if (form.kind === Kind.O) tail += m.addressSize === 32 ? 4 : 8;
      else if (m.form === 'rip') { modrm = true; mX = false; mB = false; modrmExtra = 4; }
      else if (m.base === undefined) { modrm = true; mX = m.index !== undefined && m.index >= 8; mB = false; modrmExtra = 5; }
      else {
        const width = m.dispWidth === 0 && (m.base & 7) === 5 ? 8 : m.dispWidth;
        modrm = true;
        mX = m.index !== undefined && m.index >= 8;
        mB = m.base >= 8;
        modrmExtra = (m.index !== undefined || (m.base & 7) === 4 ? 1 : 0) + (width === 0 ? 0 : width === 8 ? 1 : 4);
      }
    } else if (o.kind === 'imm') tail += o.bits / 8;
  }
  if (row.modrm && !modrm) { modrm = true; mX = false; mB = false; modrmExtra = 0; }
  const legacy = (mem?.segment ? 1 : 0) + (mem?.addressSize === 32 ? 1 : 0) + (g.opSize === 2 && sized ? 1 : 0)
    + (row.prefix !== undefined && row.prefix !== 'none' ? 1 : 0) + (g.prefixes.lock ? 1 : 0) + (g.prefixes.rep ? 1 : 0);
  const w = g.opSize === 8 && row.sizeRule === 'normal' && sized;
  const rex = !row.vex && (w || r || mX || zB || mB || needRex) ? 1 : 0;
  const body = row.vex ? 4 : MAP_BYTES[row.map].length + 1;
  return legacy + rex + body + (modrm ? 1 + modrmExtra : 0) + tail;
}

/** iced spells CMPPS/CMPPD/CMPSS/CMPSD by their predicate immediate (cmpltps…). */
const CMP_PREDICATES = ['eq', 'lt', 'le', 'unord', 'neq', 'nlt', 'nle', 'ord'];

const MNEMONIC_GROUPS: Record<string, readonly string[]> = {
  cbw: ['cbw', 'cwde', 'cdqe'], cwd: ['cwd', 'cdq', 'cqo'], nop: ['nop', 'pause', 'xchg', 'prefetchnta', 'prefetcht0', 'prefetcht1', 'prefetcht2', 'reservednop', 'cldemote'],
  pushf: ['pushf', 'pushfq'], popf: ['popf', 'popfq'], fwait: ['wait'], xlat: ['xlatb'], cmpxchg8b: ['cmpxchg8b', 'cmpxchg16b'],
  sal: ['shl', 'sal'],
  feni: ['fneni'], fdisi: ['fndisi'], fsetpm: ['fnsetpm'],
  cmpps: CMP_PREDICATES.map((p) => `cmp${p}ps`), cmppd: CMP_PREDICATES.map((p) => `cmp${p}pd`),
  cmpss: CMP_PREDICATES.map((p) => `cmp${p}ss`), cmpsd: ['cmpsd', ...CMP_PREDICATES.map((p) => `cmp${p}sd`)],
};

/** Loose mnemonic comparison between a row and iced's decoding. */
export function mnemonicMatches(row: IsaRow, iced: string): boolean {
  const want = row.mnemonic.toLowerCase().replace(' (alias)', '');
  if (MNEMONIC_GROUPS[want]?.includes(iced)) return true;
  const a = canonicalMnemonic(want).replace(/[bwdq]$/, '');
  const got = canonicalMnemonic(iced);
  return got === want || got.replace(/[bwdq]$/, '') === a || got === a;
}

export type RawCheck = { ok: true; length: number; text: string } | { ok: false; reason: string };

/** Decode `bytes` (one instruction at `address`) with iced and compare with the row. */
export function checkRawEncoding(row: IsaRow, bytes: Uint8Array, address: bigint): RawCheck {
  let result: RawCheck = { ok: false, reason: 'nothing decoded' };
  forEachInstruction(bytes, address, 64, (ins) => {
    const mnemonic = canonicalMnemonic(ins.toString().split(' ').find((w) => !['lock', 'rep', 'repe', 'repne', 'xacquire', 'xrelease'].includes(w)) ?? '');
    if (ins.isInvalid) result = { ok: false, reason: 'iced: invalid instruction' };
    else if (ins.length !== bytes.length) result = { ok: false, reason: `iced decoded ${ins.length} bytes, encoded ${bytes.length}` };
    else if (!mnemonicMatches(row, mnemonic)) result = { ok: false, reason: `row ${row.mnemonic} decoded as ${mnemonic}` };
    else result = { ok: true, length: ins.length, text: ins.toString() };
    return false;
  });
  return result;
}

// ---------------------------------------------------------------------------------------------
// implicit register writes per row, from iced's instruction info on a canonical encoding

/** By row id (looked up for every generated instruction). */
const implicitWriteCache: Array<readonly number[] | undefined> = [];
const WRITE_ACCESS = new Set([OpAccess.Write, OpAccess.CondWrite, OpAccess.ReadWrite, OpAccess.ReadCondWrite]);
const EXPLICIT_G = 14;
const EXPLICIT_E = 15;

function canonicalInstruction(row: IsaRow): GeneratedInstruction {
  const opSize = operandSizes(row).at(-1)!;
  const operands = row.operands.map((f) => {
    const width = (f.size > 0 ? f.size : f.size === -2 ? 4 : opSize) as 1 | 2 | 4 | 8;
    switch (f.kind) {
      case Kind.G: return { kind: 'reg' as const, reg: makeRegister(EXPLICIT_G, width) };
      case Kind.E: case Kind.R: return row.mod === 'mem'
        ? { kind: 'mem' as const, mem: { form: 'base' as const, base: EXPLICIT_E, scale: 1 as const, disp: 0n, dispWidth: 0 as const, addressSize: 64 as const, address: 0n } }
        : { kind: 'reg' as const, reg: makeRegister(EXPLICIT_E, width) };
      case Kind.M: return { kind: 'mem' as const, mem: { form: 'base' as const, base: EXPLICIT_E, scale: 1 as const, disp: 0n, dispWidth: 0 as const, addressSize: 64 as const, address: 0n } };
      case Kind.O: return { kind: 'mem' as const, mem: { form: 'absolute' as const, scale: 1 as const, disp: 0n, dispWidth: 32 as const, addressSize: 64 as const, address: 0x20000n } };
      case Kind.Z: return { kind: 'reg' as const, reg: makeRegister((row.opcode & 7) + 8, width) };
      case Kind.B: return { kind: 'reg' as const, reg: makeRegister(13, width) };
      case Kind.Reg: return { kind: 'reg' as const, reg: makeRegister(f.reg, width) };
      case Kind.I: return { kind: 'imm' as const, value: 0n, bits: (f.size === -1 && row.handler === 'mov_imm' ? 64 : f.size === 1 ? 8 : f.size === 2 ? 16 : 32) as 8 | 16 | 32 | 64 };
      case Kind.S: return { kind: 'sreg' as const, num: 3 };
      case Kind.One: return { kind: 'one' as const };
      default: return { kind: 'implicit' as const };
    }
  });
  const rep = row.rep === 'rep' ? 'rep' as const : row.rep === 'repcc' ? 'repe' as const : undefined;
  return { rowId: row.id, row, opSize, noRex: false, operands, prefixes: { lock: false, rep, redundant: [], emptyRex: false } };
}

/** Registers (encoding numbers) a row writes beyond its explicit register operands. */
export function implicitWrites(row: IsaRow): readonly number[] {
  const cached = implicitWriteCache[row.id];
  if (cached) return cached;
  const g = canonicalInstruction(row);
  const explicit = new Set(g.operands.flatMap((o, i) => (o.kind === 'reg' && row.operands[i]!.kind !== Kind.Reg ? [o.reg.num] : [])));
  const out = new Set<number>();
  const factory = new InstructionInfoFactory();
  try {
    // legacy-only rows (POPA, PUSHA…) decode only outside 64-bit mode
    forEachInstruction(encodeInstruction(g, 0x10000n, false), 0x10000n, row.invalid64 ? 32 : 64, (ins) => {
      const info = factory.info(ins);
      for (const used of info.usedRegisters()) {
        if (WRITE_ACCESS.has(used.access) && RegisterExt.isGPR(used.register)) {
          const full = RegisterExt.fullRegister(used.register);
          const num = full - Register.RAX;
          if (num >= 0 && num < 16 && !explicit.has(num)) out.add(num);
        }
        used.free();
      }
      info.free();
      return false;
    });
  } finally {
    factory.free();
  }
  const list = [...out].sort((a, b) => a - b);
  implicitWriteCache[row.id] = list;
  return list;
}
