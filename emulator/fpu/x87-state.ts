import { expOf, J_BIT, sigOf } from './floatx80.js';
import { type FloatStatus, statusFromFcw } from './status.js';

/** FSW bits beyond the six exception flags. */
export const FSW_SF = 0x40;
export const FSW_ES = 0x80;
export const FSW_C0 = 0x100;
export const FSW_C1 = 0x200;
export const FSW_C2 = 0x400;
export const FSW_C3 = 0x4000;
export const FSW_B = 0x8000;
export const FSW_CC = FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3;
const FSW_TOP = 0x3800;

/** Full-tag-word values (FSTENV/FSAVE). */
export const enum Tag {
  Valid = 0,
  Zero = 1,
  Special = 2,
  Empty = 3,
}

/**
 * The x87 register file as QEMU 7.2 keeps it: eight physical registers R0–R7 holding raw 80-bit
 * values, TOP, one empty bit per register (QEMU tracks only empty/valid; FSTENV derives the
 * full tag from the value), FCW, FSW (TOP kept apart), and the last instruction/operand
 * pointers that FSTENV stores. QEMU ignores the tags on pushes and pops: no stack-fault
 * detection, so neither is there any here.
 */
export class X87 {
  readonly regs: bigint[] = Array<bigint>(8).fill(0n);
  readonly empty = new Uint8Array(8).fill(1);
  top = 0;
  fcw = 0x37f;
  /** FSW without the TOP field. */
  fsw = 0;
  /** Last x87 instruction: RIP offset and CS selector. */
  fip = 0n;
  fcs = 0;
  /** Last memory operand: effective address (before the segment base) and selector. */
  fdp = 0n;
  fds = 0;

  /** ST(i) → physical register number. */
  phys(i: number): number {
    return (this.top + i) & 7;
  }

  st(i: number): bigint {
    return this.regs[(this.top + i) & 7]!;
  }

  setSt(i: number, v: bigint): void {
    this.regs[(this.top + i) & 7] = v;
  }

  push(v: bigint): void {
    this.top = (this.top - 1) & 7;
    this.empty[this.top] = 0;
    this.regs[this.top] = v;
  }

  pop(): void {
    this.empty[this.top] = 1;
    this.top = (this.top + 1) & 7;
  }

  /** FSW as software sees it (FNSTSW): TOP in bits 13–11. */
  get statusWord(): number {
    return (this.fsw & ~FSW_TOP) | (this.top << 11);
  }

  /** FLDENV/FRSTOR: B follows ES. */
  loadStatusWord(v: number): void {
    this.top = (v >> 11) & 7;
    this.fsw = v & ~FSW_TOP & ~FSW_B & 0xffff;
    if (this.fsw & FSW_ES) this.fsw |= FSW_B;
  }

  /** Rounding environment for an arithmetic instruction. */
  status(): FloatStatus {
    return statusFromFcw(this.fcw);
  }

  /** Fold an operation's exception flags into FSW; any unmasked pending exception sets ES and B. */
  raise(flags: number): void {
    this.fsw |= flags;
    if (this.fsw & ~this.fcw & 0x3f) this.fsw |= FSW_ES | FSW_B;
  }

  /** FNINIT. */
  init(): void {
    this.fcw = 0x37f;
    this.fsw = 0;
    this.top = 0;
    this.empty.fill(1);
    this.fip = 0n;
    this.fcs = 0;
    this.fdp = 0n;
    this.fds = 0;
  }

  /** Full tag of physical register r (FSTENV's encoding). */
  tagOf(r: number): Tag {
    if (this.empty[r]) return Tag.Empty;
    const v = this.regs[r]!;
    const e = expOf(v);
    const s = sigOf(v);
    if (e === 0 && s === 0n) return Tag.Zero;
    if (e === 0 || e === 0x7fff || (s & J_BIT) === 0n) return Tag.Special;
    return Tag.Valid;
  }

  /** 16-bit tag word, two bits per physical register. */
  fullTagWord(): number {
    let w = 0;
    for (let r = 7; r >= 0; r--) w = (w << 2) | this.tagOf(r);
    return w;
  }

  /** FXSAVE's abridged tag: bit r set when R(r) is not empty. */
  abridgedTagWord(): number {
    let w = 0;
    for (let r = 0; r < 8; r++) if (!this.empty[r]) w |= 1 << r;
    return w;
  }

  /** From a full tag word: only "empty" (11) is kept, as QEMU does. */
  loadFullTagWord(w: number): void {
    for (let r = 0; r < 8; r++) this.empty[r] = ((w >> (2 * r)) & 3) === 3 ? 1 : 0;
  }

  loadAbridgedTagWord(w: number): void {
    for (let r = 0; r < 8; r++) this.empty[r] = (w >> r) & 1 ? 0 : 1;
  }
}
