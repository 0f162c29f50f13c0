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
 * `int` adds, for each exception or interrupt delivered, `check_exception old: … new …` (raised
 * exceptions only) and `%6d: v=%02x e=%04x i=%d cpl=%d IP=… pc=… SP=…` followed by a full dump of
 * the state at delivery (not an instruction: it is skipped). Fields are read at fixed offsets from
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
}

export interface LogRecord {
  /** contracts/register-record.ts layout. */
  readonly words: Uint32Array;
  /** Events QEMU delivered after the previous record and before this one. */
  readonly events: readonly DeliveredEvent[];
  /** QEMU's HLT flag: the CPU sits halted (waiting for an interrupt) in this state. */
  readonly halted: boolean;
}

const GPR_LOG_ORDER = [0, 3, 1, 2, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15]; // RAX RBX RCX RDX RSI RDI RBP RSP R8… → encoding index
const C_RAX = Buffer.from('RAX=');
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

/** Shortest lengths of lines (newline excluded) whose end is searched for. */
const SEG_LINE_MIN = 43; // "ES =0000 0000000000000000 00000000 00000000"
const GPR_BLOCK = 336; // 4 lines of 4 x "RAX=%016lx " (the last separator a newline)
const RIP_LINE = 72; // "RIP=%016lx RFL=%08x [-------] CPL=0 II=0 A20=1 SMM=0 HLT=0"
/** A record is at least this long (fixed lines and shortest variable ones). */
const MIN_RECORD = 1000;
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
      if (!(b[s] === 82 && b[s + 1] === 65 && b[s + 2] === 88 && b[s + 3] === 61)) {
        // not at "RAX=": event lines (or anything else) until the next record
        s = b.indexOf(C_RAX, pos);
        if (s < 0 || s >= end) break;
        this.scanEvents(pos, s);
        pos = s;
      }
      if (end - s < MIN_RECORD) break;
      const after = this.parseRecord(s, end);
      if (after < 0) break;
      pos = after;
    }
    if (pos === this.start && end - pos > 1 << 16 && b.subarray(pos, end).indexOf(C_RAX) < 0) {
      // no record in 64 KiB: not QEMU's x86-64 cpu log
      throw new CpuLogFormatError(`no register record in ${end - pos} bytes of QEMU's log at offset ${this.consumed}: '${b.toString('latin1', pos, pos + 80)}'`);
    }
    this.consumed += pos - this.start;
    this.start = pos;
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
    const rip = s + GPR_BLOCK;
    if (b[rip] !== 82 || b[rip + 1] !== 73 || b[rip + 2] !== 80) this.fail(s, 'RIP line');
    if (b[rip + 67] !== 72 || b[rip + 70] !== 61) this.fail(s, 'HLT= field');
    // segment lines ES..GS, then LDT and TR
    let at = rip + RIP_LINE + 1;
    const segLines: number[] = this.segLines;
    for (let i = 0; i < 8; i++) {
      segLines[i] = at;
      at = CpuLogParser.lineEnd(b, at, SEG_LINE_MIN, end);
      if (at < 0) return -1;
    }
    // GDT, IDT: fixed; then the fixed lines up to CCS must be there before they are looked at
    at += 2 * 35;
    if (at + 68 + 85 + 42 + 46 > end) return -1;
    if (b[at] !== 67 || b[at + 1] !== 82 || b[at + 2] !== 48) this.fail(s, 'CR0 line');
    const cr = at;
    // CR line (67 bytes and its newline), DR0-3 (84 and a space), DR6-7 (41), CCS (46 and CCO's name), EFER (21)
    at = cr + 68 + 85 + 42;
    if (b[at] !== 67 || b[at + 1] !== 67 || b[at + 2] !== 83) this.fail(s, 'CCS line');
    at = CpuLogParser.lineEnd(b, at, 46, end);
    if (at < 0 || at + 22 > end) return -1;
    const efer = at;
    if (b[efer] !== 69 || b[efer + 4] !== 61 || b[efer + 21] !== 10) this.fail(s, 'EFER line');

    if (this.skipDump) {
      this.skipDump = false;
      return efer + 22;
    }
    if (this.slabUsed + RR.LENGTH > this.slab.length) {
      this.slab = new Uint32Array(WORDS_PER_SLAB);
      this.slabUsed = 0;
    }
    const w = this.slab.subarray(this.slabUsed, this.slabUsed + RR.LENGTH);
    this.slabUsed += RR.LENGTH;
    for (let k = 0; k < 16; k++) {
      const f = s + (k >> 2) * 84 + (k & 3) * 21 + 4;
      const idx = GPR_LOG_ORDER[k]!;
      w[RR.GPR + 2 * idx + 1] = hex32(b, f, 8);
      w[RR.GPR + 2 * idx] = hex32(b, f + 8, 8);
    }
    w[RR.RIP + 1] = hex32(b, rip + 4, 8);
    w[RR.RIP] = hex32(b, rip + 12, 8);
    w[RR.RFLAGS] = hex32(b, rip + 25, 8);
    for (let i = 0; i < 6; i++) {
      const l = segLines[i]!;
      w[RR.SEL + i] = hex32(b, l + 4, 4);
      if (i >= 4) {
        w[RR.FS_BASE + 2 * (i - 4) + 1] = hex32(b, l + 9, 8);
        w[RR.FS_BASE + 2 * (i - 4)] = hex32(b, l + 17, 8);
      }
    }
    w[RR.CR0] = hex32(b, cr + 4, 8);
    w[RR.CR2 + 1] = hex32(b, cr + 17, 8);
    w[RR.CR2] = hex32(b, cr + 25, 8);
    w[RR.CR3 + 1] = hex32(b, cr + 38, 8);
    w[RR.CR3] = hex32(b, cr + 46, 8);
    w[RR.CR4] = hex32(b, cr + 59, 8);
    w[RR.EFER] = hex32(b, efer + 13, 8);
    this.out.push({ words: w, events: this.events.length ? this.events : NO_EVENTS, halted: b[rip + 71] === 49 });
    if (this.events.length) this.events = [];
    this.sawCheck = false;
    return efer + 22;
  }

  private readonly segLines: number[] = new Array<number>(8).fill(0);
}
