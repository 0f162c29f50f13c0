/**
 * One generated instruction: a row's random choices resolved against what the program so far has
 * fixed (address registers pinned to initial values, registers already overwritten), then spelled
 * as keystone Intel text. Resolution keeps every memory access inside the scratch window: explicit
 * memory operands (memory-operand.ts), string pointers RSI/RDI with a small RCX for REP, XLAT's RBX,
 * BT's bit offset, and RBP for LEAVE/ENTER. An instruction that cannot be made valid is dropped.
 */
import { Kind } from '../../emulator/isa/operand-forms.js';
import type { IsaRow } from '../../emulator/isa/row.js';
import { formatImmediate, type ImmediateBits } from './immediates.js';
import { formatMemoryOperand, resolveMemoryOperand, type AddressingState, type MemoryOperand, type ScratchWindow } from './memory-operand.js';
import type { InstructionChoice } from './operands.js';
import { operandIsWritten } from './operands.js';
import type { PrefixChoice } from './prefixes.js';
import { registerName, type RegisterOperand } from './registers.js';
import { canonicalRegister, type SrcInstruction, type SrcOperand } from '../asm/operands.js';
import { textMnemonic } from './row-catalog.js';

export type GeneratedOperand =
  | { readonly kind: 'reg'; readonly reg: RegisterOperand }
  | { readonly kind: 'mem'; readonly mem: MemoryOperand; readonly size?: number }
  | { readonly kind: 'imm'; readonly value: bigint; readonly bits: ImmediateBits }
  | { readonly kind: 'sreg'; readonly num: number }
  | { readonly kind: 'one' }
  | { readonly kind: 'implicit' };

export interface GeneratedInstruction {
  readonly rowId: number;
  readonly row: IsaRow;
  readonly opSize: 2 | 4 | 8;
  readonly noRex: boolean;
  readonly operands: readonly GeneratedOperand[];
  readonly prefixes: PrefixChoice;
}

/** Program-wide state the resolution reads and updates. */
export interface ProgramState extends AddressingState {
  readonly window: ScratchWindow;
  /** Raw mode: [disp32] operands allowed (keystone makes them RIP-relative). */
  readonly absoluteAllowed: boolean;
  /** Worst-case bytes string instructions move their pointers (grows the compared region). */
  stringDrift: number;
}

export const RCX = 1;
export const RBX = 3;
export const RSP = 4;
export const RBP = 5;
export const RSI = 6;
export const RDI = 7;
const SREG = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];

/** The full register an operand writes (AH → RAX). */
export function registerNumber(r: RegisterOperand): number {
  return r.high ? r.num - 4 : r.num;
}

function memorySpan(inst: InstructionChoice, size: number | undefined): number {
  if (inst.row.handler === 'cmpxchg8b') return inst.opSize === 8 ? 16 : 8;
  return size ?? 1;
}

/** Pins set while resolving one instruction, with what they replaced, to undo them if it fails. */
type PinUndo = Array<[number, bigint | undefined]>;

function setPin(s: ProgramState, undo: PinUndo, reg: number, value: bigint): void {
  undo.push([reg, s.pins.get(reg)]);
  s.pins.set(reg, value);
}

/** Pin `reg` to `value` unless it is already pinned or written; false when it cannot hold `ok` values. */
function pinPointer(s: ProgramState, undo: PinUndo, reg: number, value: bigint, ok: (v: bigint) => boolean, allowDrifted: boolean): boolean {
  if (s.drifted.has(reg)) return allowDrifted;
  if (s.written.has(reg)) return false;
  const pinned = s.pins.get(reg);
  if (pinned !== undefined) return ok(pinned);
  setPin(s, undo, reg, value);
  return true;
}

const inWindow = (s: ProgramState, room: number) => (v: bigint): boolean =>
  v >= s.window.start && v + BigInt(room) <= s.window.start + BigInt(s.window.length);

function windowPoint(s: ProgramState, fraction: number, align: number): bigint {
  const off = Math.floor(fraction * s.window.length);
  return s.window.start + BigInt(off - (off % align));
}

/**
 * Resolve one instruction against the program state (which it updates). Returns undefined when the
 * instruction would need a register that an earlier instruction has already overwritten.
 */
export function resolveInstruction(c: InstructionChoice, s: ProgramState, implicitWrites: readonly number[]): GeneratedInstruction | undefined {
  const row = c.row;
  let prefixes = c.prefixes;
  const operands: GeneratedOperand[] = [];
  // an undo log rather than a copy of the pins per instruction (most instructions do not fail)
  const undo: PinUndo = [];
  const fail = (): undefined => {
    for (let k = undo.length - 1; k >= 0; k--) {
      const [reg, before] = undo[k]!;
      if (before === undefined) s.pins.delete(reg);
      else s.pins.set(reg, before);
    }
    return undefined;
  };
  let hasMemory = false;
  for (const [i, o] of c.operands.entries()) {
    if (o.kind !== 'mem') {
      operands.push(o);
      continue;
    }
    hasMemory = true;
    const span = memorySpan(c, o.size);
    let choice = o.choice;
    if (span === 16) choice = { ...choice, targetFraction: 0 }; // CMPXCHG16B needs 16-byte alignment: window start is aligned
    const r = resolveMemoryOperand(choice, s, { span, noRex: c.noRex, window: s.window, absoluteAllowed: s.absoluteAllowed || row.operands[i]?.kind === Kind.O });
    for (const [reg, v] of r.pins) setPin(s, undo, reg, v);
    const size = row.operands.some((f) => f.kind === Kind.S) ? 2 : row.handler === 'cmpxchg8b' ? span : row.handler === 'lea' ? undefined : o.size ?? (row.forms === 'M' ? 1 : undefined);
    operands[i] = { kind: 'mem', mem: r.operand, size };
  }
  // BT/BTS/BTR/BTC with a memory operand and a register bit offset: keep the offset inside the operand
  if (row.handler === 'bt' && hasMemory && operands[1]?.kind === 'reg') {
    const reg = registerNumber(operands[1].reg);
    const bitOffset = BigInt(c.pointers.count * 4) % BigInt(c.opSize * 8);
    if (!pinPointer(s, undo, reg, bitOffset, (v) => v < BigInt(c.opSize * 8), false)) return fail();
  }
  // string instructions: RSI (X) / RDI (Y) inside the window with room both ways, RCX small for REP
  const usesX = row.operands.some((f) => f.kind === Kind.X);
  const usesY = row.operands.some((f) => f.kind === Kind.Y);
  if (usesX || usesY) {
    const size = row.operands.some((f) => f.size === 1) ? 1 : c.opSize;
    const maxCount = prefixes.rep ? 16 : 1;
    const room = Math.min(0x400, s.window.length >> 2);
    const ok = (v: bigint): boolean => inWindow(s, 0)(v);
    if (usesX && !pinPointer(s, undo, RSI, windowPoint(s, 0.25 + c.pointers.sourceFraction / 2, size), ok, true)) return fail();
    if (usesY && !pinPointer(s, undo, RDI, windowPoint(s, 0.25 + c.pointers.destinationFraction / 2, size), ok, true)) return fail();
    // a drifted RCX is only bounded if a REP count pinned it first
    if (prefixes.rep && !pinPointer(s, undo, RCX, BigInt(c.pointers.count), (v) => v <= 64n, s.pins.has(RCX))) prefixes = { ...prefixes, rep: undefined };
    s.stringDrift += Math.min(room, maxCount * size);
  }
  if (row.handler === 'xlat' && !pinPointer(s, undo, RBX, s.window.start + BigInt(Math.floor(c.pointers.sourceFraction * Math.max(0, s.window.length - 256))), inWindow(s, 256), false)) return fail();
  if ((row.handler === 'leave' || row.handler === 'enter') && !pinPointer(s, undo, RBP, (s.pins.get(RSP) ?? 0x10000n) - 0x80n, () => true, false)) return fail();
  // record what this instruction destroys
  for (const [i, o] of operands.entries()) {
    if (o.kind === 'reg' && (operandIsWritten(row, i) || row.operands[i]?.kind === Kind.Reg)) s.written.add(registerNumber(o.reg));
  }
  for (const r of implicitWrites) {
    if ((usesX || usesY) && r === RCX && !prefixes.rep) continue; // the row's REP form writes RCX, this one does not
    if ((usesX || usesY) && (r === RSI || r === RDI || r === RCX)) s.drifted.add(r);
    else s.written.add(r);
  }
  if (hasMemory && prefixes.lock && !(row.operands[0]?.kind === Kind.E && operands[0]?.kind === 'mem')) prefixes = { ...prefixes, lock: false };
  if (!hasMemory && prefixes.lock) prefixes = { ...prefixes, lock: false };
  return { rowId: row.id, row, opSize: c.opSize, noRex: c.noRex, operands, prefixes };
}

/** `g`'s RIP-relative memory operand, if it has one. */
export function ripOperand(g: GeneratedInstruction): MemoryOperand | undefined {
  const o = g.operands.find((x) => x.kind === 'mem' && x.mem.form === 'rip');
  return o?.kind === 'mem' ? o.mem : undefined;
}

/** The displacement `g`'s RIP-relative operand needs to reach its target when `g` ends at `nextIp`; undefined when it has none. */
export function ripDisplacement(g: GeneratedInstruction, nextIp: bigint): bigint | undefined {
  const m = ripOperand(g);
  return m === undefined ? undefined : m.address - nextIp;
}

/**
 * What the checked assembler's parser reads from `formatInstruction(g, ripDisp)`, built from `g`
 * directly: generated programs skip parsing their own text (program.spec.ts checks that the two
 * are equal on every generated line).
 */
export function sourceInstruction(g: GeneratedInstruction, ripDisp?: bigint): SrcInstruction {
  const prefixes: string[] = [];
  if (g.prefixes.lock) prefixes.push('lock');
  if (g.prefixes.rep) prefixes.push(g.prefixes.rep);
  const mnemonic = g.row.forms === 'Zv,Iv' && g.opSize === 8 ? 'movabs' : textMnemonic(g.row, g.opSize);
  if (mnemonic === 'movsd') return { prefixes, mnemonic, operands: [stringOperand('rdi'), stringOperand('rsi')] };
  if (g.row.operands.some((f) => f.kind === Kind.X || f.kind === Kind.Y)) return { prefixes, mnemonic, operands: [] };
  const operands: SrcOperand[] = [];
  for (const o of g.operands) {
    switch (o.kind) {
      case 'reg': operands.push({ kind: 'reg', reg: canonicalRegister(o.reg.name)! }); break;
      case 'mem': operands.push(sourceMemoryOperand(o.mem, o.size, ripDisp ?? o.mem.disp)); break;
      case 'imm': operands.push({ kind: 'imm', value: o.value }); break;
      case 'sreg': operands.push({ kind: 'reg', reg: SREG[o.num]! }); break;
      case 'one': operands.push({ kind: 'imm', value: 1n }); break;
      case 'implicit': break;
    }
  }
  return { prefixes, mnemonic, operands };
}

const stringOperand = (base: string): SrcOperand => ({ kind: 'mem', size: 4, seg: undefined, base, index: undefined, scale: 1, disp: 0n });

/** formatMemoryOperand's text as parsed: no base or index is an unsigned absolute displacement. */
function sourceMemoryOperand(m: MemoryOperand, size: number | undefined, ripDisp: bigint): SrcOperand {
  const width = m.addressSize === 64 ? 8 : 4;
  const base = m.form === 'rip' ? 'rip' : m.base !== undefined ? canonicalRegister(registerName(m.base, width)) : undefined;
  const index = m.index !== undefined ? canonicalRegister(registerName(m.index, width)) : undefined;
  const d = m.form === 'rip' ? ripDisp : m.disp;
  const disp = base === undefined && index === undefined ? BigInt.asUintN(m.addressSize, d) : d;
  return { kind: 'mem', size, seg: m.segment, base, index, scale: index !== undefined ? m.scale : 1, disp };
}

/** Keystone Intel text for `g`. `ripDisp` gives the RIP displacement (computed from the layout). */
export function formatInstruction(g: GeneratedInstruction, ripDisp?: bigint): string {
  const words: string[] = [];
  if (g.prefixes.lock) words.push('lock');
  if (g.prefixes.rep) words.push(g.prefixes.rep);
  const mnemonic = g.row.forms === 'Zv,Iv' && g.opSize === 8 ? 'movabs' : textMnemonic(g.row, g.opSize);
  const ops: string[] = [];
  for (const o of g.operands) {
    switch (o.kind) {
      case 'reg': ops.push(o.reg.name); break;
      case 'mem': ops.push(formatMemoryOperand(o.mem, o.size, ripDisp)); break;
      case 'imm': ops.push(formatImmediate(o.value)); break;
      case 'sreg': ops.push(SREG[o.num]!); break;
      case 'one': ops.push('1'); break;
      case 'implicit': break;
    }
  }
  const isString = g.row.operands.some((f) => f.kind === Kind.X || f.kind === Kind.Y);
  // keystone reads a bare `movsd` as the SSE instruction; the explicit-operand spelling is the string op
  if (mnemonic === 'movsd') ops.splice(0, ops.length, 'dword ptr [rdi]', 'dword ptr [rsi]');
  words.push(mnemonic);
  if (ops.length > 0 && (!isString || mnemonic === 'movsd')) words.push(ops.join(', '));
  // one join, so a flat string: the encoding cache (assemble-many.ts) hashes and compares it
  return words.join(' ');
}
