import { RR } from '../../contracts/register-record.js';

/**
 * QEMU 7.2's per-instruction trace (`-d cpu,int,nochain` with one instruction per translation
 * block), parsed incrementally into register records. For x86-64 each record is
 * x86_cpu_dump_state's text, printed before the block runs:
 *
 *   RAX=%016lx RBX=%016lx RCX=%016lx RDX=%016lx        (4 fixed-width lines of GPRs)
 *   RIP=%016lx RFL=%08x [...] CPL=%d II=%d A20=%d SMM=%d HLT=%d
 *   ES =%04x %016lx %08x %08x ...                      (ES CS SS DS FS GS LDT TR)
 *   GDT= ... IDT= ... CR0=%08x CR2=%016lx CR3=%016lx CR4=%08x  DR0-7  CCS=...  EFER=%016lx
 *
 * Outside 64-bit code (CS.L=0: the PVH entry's 32-bit code, compatibility mode, real mode) QEMU
 * prints another format: `EAX=%08x …` (2 lines: no R8-R15), `EIP=%08x EFL=%08x …`, segment bases
 * of 8 digits, and, outside IA-32e mode (EFER.LMA=0), GDT/IDT bases and CR2/CR3 of 8 digits
 * (target/i386/cpu-dump.c: the GPR, RIP and segment lines follow HF_CS64, the GDT and CR lines
 * HF_LMA). Such a record leaves fields out (RecordFormat, UNLOGGED_WORDS).
 *
 * `int` adds, for each exception or interrupt delivered, `check_exception old: … new …` (raised
 * exceptions only) and `%6d: v=%02x e=%04x i=%d cpl=%d IP=… pc=… SP=…` followed by a full dump of
 * the state at delivery (not an instruction: it is kept with its event, DeliveredEvent.state). Fields are read at fixed offsets from
 * the bytes, without building strings; lines of variable length (segments, CCO's name) are skipped
 * by a byte loop from their shortest length (a native indexOf per field cost more in call overhead
 * than the search itself: ~2 us of the ~6 us a record took). Records' words are views into slabs,
 * not a typed array each (each its own backing store, which the collector has to sweep).
 */

export interface DeliveredEvent {
  readonly vector: number;
  readonly errorCode: number;
  /** INT n (software), as QEMU's i= says. */
  readonly software: boolean;
  /** Raised by an instruction (check_exception preceded it), not an external interrupt. */
  readonly exception: boolean;
  /** Where it was delivered (QEMU's pc=): the instruction boundary, for an external interrupt. */
  readonly pc: bigint;
  /**
   * The registers at delivery (the dump after the v= line, in the format of `stateFormat`): equal
   * to the record before it when QEMU printed that record and then left its block unexecuted
   * because the interrupt had come due (an exit requested at the block's start).
   */
  readonly state?: Uint32Array;
  readonly stateFormat?: RecordFormat;
}

/**
 * Which of x86_cpu_dump_state's formats a record came in: `long64` holds every field of the
 * register-record layout; `compat` (IA-32e mode, 32/16-bit code) and `legacy` (EFER.LMA=0) print
 * the GPRs, RIP and the FS/GS bases as 32 bits and no R8-R15; `legacy` prints CR2/CR3 as 32 bits.
 */
export type RecordFormat = 'long64' | 'compat' | 'legacy';

export interface LogRecord {
  /** contracts/register-record.ts layout; the words UNLOGGED_WORDS[format] names are 0 as parsed. */
  readonly words: Uint32Array;
  readonly format: RecordFormat;
  /** Events QEMU delivered after the previous record and before this one. */
  readonly events: readonly DeliveredEvent[];
  /** QEMU's HLT flag: the CPU sits halted (waiting for an interrupt) in this state. */
  readonly halted: boolean;
}

const GPR_LOG_ORDER = [0, 3, 1, 2, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15]; // RAX RBX RCX RDX RSI RDI RBP RSP R8… → encoding index
/** "AX=": a record starts with "RAX=" (64-bit code) or "EAX=" (anything else) at a line start. */
const C_AX = Buffer.from('AX=');
const R = 82;
const E = 69;
const C_VLINE = Buffer.from(': v=');
const C_CHECK = Buffer.from('check_exception');
const C_PC = Buffer.from(' pc=');
const NO_EVENTS: readonly DeliveredEvent[] = Object.freeze([]);

/** Hex digit values by byte (-1: not a hex digit). */
const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) HEX[97 + c] = HEX[65 + c] = 10 + c;

/** Up to 8 hex digits at `at` as an unsigned 32-bit number (NaN on a bad digit). */
function hex32(b: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = HEX[b[at + i]!]!;
    if (d < 0) return Number.NaN;
    v = v * 16 + d;
  }
  return v;
}

/**
 * Line lengths of the two formats of the GPR, RIP and segment lines and the CCS line (HF_CS64):
 * `wide` for 64-bit code, `narrow` for everything else. Lengths without the newline; `segMin` and
 * `ccsMin` are the shortest, the ends of those lines are searched for.
 */
interface CodeLayout {
  /** Bytes of the GPR lines, newlines included: 4 lines of 4 x "RAX=%016lx", or 2 of 4 x "EAX=%08x". */
  readonly gprBlock: number;
  /** Bytes per GPR line and per field in it, and hex digits per value. */
  readonly gprLine: number;
  readonly gprField: number;
  readonly digits: number;
  /** "RIP=%016lx RFL=%08x [-------] CPL=0 II=0 A20=1 SMM=0 HLT=0", or with "EIP=%08x EFL=". */
  readonly ipLine: number;
  /** "ES =0000 0000000000000000 00000000 00000000", or with an 8-digit base. */
  readonly segMin: number;
  /** "CCS=%016lx CCD=%016lx CCO=", or with 8 digits each. */
  readonly ccsMin: number;
  /** A record is at least this long (fixed lines and shortest variable ones). */
  readonly minRecord: number;
}
const WIDE: CodeLayout = { gprBlock: 336, gprLine: 84, gprField: 21, digits: 16, ipLine: 72, segMin: 43, ccsMin: 46, minRecord: 1000 };
const NARROW: CodeLayout = { gprBlock: 104, gprLine: 52, gprField: 13, digits: 8, ipLine: 64, segMin: 35, ccsMin: 30, minRecord: 700 };
/** "GDT=     %016lx %08x" (IA-32e mode) or "GDT=     %08x %08x", newline included; the same for IDT. */
const TABLE_LINE_LMA = 35;
const TABLE_LINE_LEGACY = 27;
/** "CR0=%08x CR2=%016lx CR3=%016lx CR4=%08x" (IA-32e mode) or with 8-digit CR2/CR3, newline included. */
const CR_LINE_LMA = 68;
const CR_LINE_LEGACY = 52;
/** DR0-3 (84 bytes and a space), DR6-7 (41): 16 digits in every mode. */
const DR_LINES = 85 + 42;

/**
 * The words of the register-record layout a record of each format does not hold: the upper
 * halves of the GPRs, RIP and the FS/GS bases, R8-R15 whole, and outside IA-32e mode the upper
 * halves of CR2/CR3.
 */
export const UNLOGGED_WORDS: Readonly<Record<RecordFormat, readonly number[]>> = (() => {
  const narrow: number[] = [];
  for (let i = 0; i < 8; i++) narrow.push(RR.GPR + 2 * i + 1);
  for (let i = 8; i < 16; i++) narrow.push(RR.GPR + 2 * i, RR.GPR + 2 * i + 1);
  narrow.push(RR.RIP + 1, RR.FS_BASE + 1, RR.GS_BASE + 1);
  return { long64: [], compat: narrow, legacy: [...narrow, RR.CR2 + 1, RR.CR3 + 1] };
})();

/**
 * Fill in the words `r`'s format leaves out from `from` (the emulator's registers), so that the
 * record can be compared whole: what QEMU did not print is compared when it does (its next 64-bit
 * record, or a checkpoint, where the whole state is read over gdb).
 */
export function completeRecord(r: LogRecord, from: ArrayLike<number>): void {
  for (const i of UNLOGGED_WORDS[r.format]) r.words[i] = from[i]!;
}

/** `r` says the same as the register record `w` in every word it holds. */
export function sameLogged(r: LogRecord, w: ArrayLike<number>): boolean {
  const skip = UNLOGGED_WORDS[r.format];
  for (let i = 0; i < RR.LENGTH; i++) if (r.words[i] !== w[i] && !skip.includes(i)) return false;
  return true;
}
const WORDS_PER_SLAB = RR.LENGTH * 2048;

export class CpuLogFormatError extends Error {
  override readonly name = 'CpuLogFormatError';
}

export class CpuLogParser {
  private buf: Buffer = Buffer.allocUnsafe(1 << 16);
  /** Unparsed bytes are buf[start, end). */
  private start = 0;
  private end = 0;
  private readonly out: LogRecord[] = [];
  private events: DeliveredEvent[] = [];
  private sawCheck = false;
  /** The next record is the dump that follows a `v=` line. */
  private skipDump = false;
  /** Bytes consumed so far (for error messages). */
  private consumed = 0;
  private slab = new Uint32Array(WORDS_PER_SLAB);
  private slabUsed = 0;

  /** Add bytes; complete records become available from take(). */
  feed(chunk: Uint8Array): void {
    this.readInto((buf, at, max) => {
      const n = Math.min(max, chunk.length);
      buf.set(chunk.subarray(0, n), at);
      if (n < chunk.length) throw new Error('internal: feed chunk larger than the room made for it');
      return n;
    }, chunk.length);
  }

  /**
   * Let `read` write up to `max` bytes straight into the parser's buffer at `at` (a read(2) into it:
   * no copy) and parse them; returns what `read` returned.
   */
  readInto(read: (buf: Buffer, at: number, max: number) => number, max: number): number {
    const { buf, at } = this.room(max);
    const n = read(buf, at, max);
    this.commit(n);
    return n;
  }

  /**
   * Room for `max` bytes after the unparsed ones (which move to the front), for a read that
   * completes later; nothing else may read into the parser until commit().
   */
  room(max: number): { buf: Buffer; at: number } {
    const left = this.end - this.start;
    if (left + max > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(left + max, this.buf.length * 2));
      this.buf.copy(next, 0, this.start, this.end);
      this.buf = next;
    } else if (this.start > 0) this.buf.copyWithin(0, this.start, this.end);
    this.start = 0;
    this.end = left;
    return { buf: this.buf, at: this.end };
  }

  /** `n` bytes were read into the room: parse them. */
  commit(n: number): void {
    if (n <= 0) return;
    this.end += n;
    this.parse();
  }

  /** Records parsed so far, oldest first (the internal queue is emptied). */
  take(): LogRecord[] {
    return this.out.splice(0);
  }

  get pending(): number {
    return this.out.length;
  }

  private parse(): void {
    const b = this.buf;
    const end = this.end;
    let pos = this.start;
    for (;;) {
      let s = pos;
      if (!((b[s] === R || b[s] === E) && b[s + 1] === 65 && b[s + 2] === 88 && b[s + 3] === 61)) {
        // not at "RAX="/"EAX=": event lines (or anything else) until the next record
        s = CpuLogParser.findRecord(b, pos, end);
        if (s < 0) break;
        this.scanEvents(pos, s);
        pos = s;
      }
      if (end - s < (b[s] === R ? WIDE : NARROW).minRecord) break;
      const after = this.parseRecord(s, end);
      if (after < 0) break;
      pos = after;
    }
    if (pos === this.start && end - pos > 1 << 16 && CpuLogParser.findRecord(b, pos, end) < 0) {
      // no record in 64 KiB: not QEMU's x86-64 cpu log
      throw new CpuLogFormatError(`no register record in ${end - pos} bytes of QEMU's log at offset ${this.consumed}: '${b.toString('latin1', pos, pos + 80)}'`);
    }
    this.consumed += pos - this.start;
    this.start = pos;
  }

  /** Where the next record ("RAX=" or "EAX=" at a line start) begins in b[from, end), or -1. */
  private static findRecord(b: Buffer, from: number, end: number): number {
    for (let i = from; ; ) {
      const at = b.indexOf(C_AX, i + 1);
      if (at < 0 || at >= end) return -1;
      const s = at - 1;
      if ((b[s] === R || b[s] === E) && (s === from || b[s - 1] === 10)) return s;
      i = at;
    }
  }

  /** `check_exception` and `v=` lines between two records. */
  private scanEvents(from: number, to: number): void {
    if (to - from < 10) return;
    // searched within the gap only: a search to the end of a large chunk per record is quadratic
    const gap = this.buf.subarray(from, to);
    if (gap.indexOf(C_CHECK) >= 0) this.sawCheck = true;
    const rel = gap.indexOf(C_VLINE);
    if (rel < 0) return;
    const b = this.buf;
    const v = from + rel;
    // ": v=%02x e=%04x i=%d"
    const vector = hex32(b, v + 4, 2);
    const errorCode = hex32(b, v + 9, 4);
    const software = b[v + 16] === 49; // '1'
    const pcAt = gap.indexOf(C_PC, rel);
    const pc = pcAt < 0 ? -1n : (BigInt(hex32(b, from + pcAt + 4, 8)) << 32n) | BigInt(hex32(b, from + pcAt + 12, 8));
    this.events.push({ vector, errorCode, software, exception: this.sawCheck, pc });
    this.sawCheck = false;
    this.skipDump = true;
  }

  /** Position after the newline ending the line that has at least `min` bytes from `at`; -1 past `end`. */
  private static lineEnd(b: Uint8Array, at: number, min: number, end: number): number {
    for (let i = at + min; i < end; i++) if (b[i] === 10) return i + 1;
    return -1;
  }

  private fail(at: number, what: string): never {
    throw new CpuLogFormatError(`QEMU's log record at offset ${this.consumed + at - this.start} has no ${what} where x86-64 dumps put it (a 32-bit CPU, or another QEMU version's format?)`);
  }

  /** Parse the record at `s`; the position after it, or -1 when it is not complete before `end`. */
  private parseRecord(s: number, end: number): number {
    const b = this.buf;
    const code = b[s] === R ? WIDE : NARROW;
    const ip = s + code.gprBlock;
    if (b[ip + 1] !== 73 || b[ip + 2] !== 80) this.fail(s, 'RIP/EIP line');
    const hlt = ip + code.ipLine - 5;
    if (b[hlt] !== 72 || b[hlt + 3] !== 61) this.fail(s, 'HLT= field');
    // segment lines ES..GS, then LDT and TR
    let at = ip + code.ipLine + 1;
    const segLines: number[] = this.segLines;
    for (let i = 0; i < 8; i++) {
      segLines[i] = at;
      at = CpuLogParser.lineEnd(b, at, code.segMin, end);
      if (at < 0) return -1;
    }
    // GDT, IDT (their length says whether the CPU is in IA-32e mode); then the fixed lines up to
    // CCS must be there before they are looked at
    if (at + TABLE_LINE_LMA > end) return -1;
    const lma = b[at + TABLE_LINE_LEGACY - 1] !== 10;
    at += 2 * (lma ? TABLE_LINE_LMA : TABLE_LINE_LEGACY);
    const crLine = lma ? CR_LINE_LMA : CR_LINE_LEGACY;
    if (at + crLine + DR_LINES + code.ccsMin > end) return -1;
    if (b[at] !== 67 || b[at + 1] !== 82 || b[at + 2] !== 48) this.fail(s, 'CR0 line');
    const cr = at;
    at = cr + crLine + DR_LINES;
    if (b[at] !== 67 || b[at + 1] !== 67 || b[at + 2] !== 83) this.fail(s, 'CCS line');
    at = CpuLogParser.lineEnd(b, at, code.ccsMin, end);
    if (at < 0 || at + 22 > end) return -1;
    const efer = at;
    if (b[efer] !== 69 || b[efer + 4] !== 61 || b[efer + 21] !== 10) this.fail(s, 'EFER line');

    if (this.slabUsed + RR.LENGTH > this.slab.length) {
      this.slab = new Uint32Array(WORDS_PER_SLAB);
      this.slabUsed = 0;
    }
    const w = this.slab.subarray(this.slabUsed, this.slabUsed + RR.LENGTH);
    this.slabUsed += RR.LENGTH;
    const wide = code === WIDE;
    for (let k = 0; k < (wide ? 16 : 8); k++) {
      const f = s + (k >> 2) * code.gprLine + (k & 3) * code.gprField + 4;
      const idx = GPR_LOG_ORDER[k]!;
      if (wide) {
        w[RR.GPR + 2 * idx + 1] = hex32(b, f, 8);
        w[RR.GPR + 2 * idx] = hex32(b, f + 8, 8);
      } else {
        w[RR.GPR + 2 * idx + 1] = 0;
        w[RR.GPR + 2 * idx] = hex32(b, f, 8);
      }
    }
    if (!wide) for (let k = 8; k < 16; k++) w[RR.GPR + 2 * k] = w[RR.GPR + 2 * k + 1] = 0;
    const d = code.digits;
    w[RR.RIP + 1] = wide ? hex32(b, ip + 4, 8) : 0;
    w[RR.RIP] = hex32(b, ip + 4 + d - 8, 8);
    w[RR.RFLAGS] = hex32(b, ip + d + 9, 8);
    for (let i = 0; i < 6; i++) {
      const l = segLines[i]!;
      w[RR.SEL + i] = hex32(b, l + 4, 4);
      if (i >= 4) {
        w[RR.FS_BASE + 2 * (i - 4) + 1] = wide ? hex32(b, l + 9, 8) : 0;
        w[RR.FS_BASE + 2 * (i - 4)] = hex32(b, l + 9 + d - 8, 8);
      }
    }
    w[RR.CR0] = hex32(b, cr + 4, 8);
    if (lma) {
      w[RR.CR2 + 1] = hex32(b, cr + 17, 8);
      w[RR.CR2] = hex32(b, cr + 25, 8);
      w[RR.CR3 + 1] = hex32(b, cr + 38, 8);
      w[RR.CR3] = hex32(b, cr + 46, 8);
      w[RR.CR4] = hex32(b, cr + 59, 8);
    } else {
      w[RR.CR2 + 1] = 0;
      w[RR.CR2] = hex32(b, cr + 17, 8);
      w[RR.CR3 + 1] = 0;
      w[RR.CR3] = hex32(b, cr + 30, 8);
      w[RR.CR4] = hex32(b, cr + 43, 8);
    }
    w[RR.EFER] = hex32(b, efer + 13, 8);
    const format: RecordFormat = wide ? 'long64' : lma ? 'compat' : 'legacy';
    if (this.skipDump) {
      // the state at delivery, not an instruction: kept with its event
      this.skipDump = false;
      const last = this.events[this.events.length - 1];
      if (last) this.events[this.events.length - 1] = { ...last, state: w, stateFormat: format };
      return efer + 22;
    }
    this.out.push({ words: w, format, events: this.events.length ? this.events : NO_EVENTS, halted: b[hlt + 4] === 49 });
    if (this.events.length) this.events = [];
    this.sawCheck = false;
    return efer + 22;
  }

  private readonly segLines: number[] = new Array<number>(8).fill(0);
}
