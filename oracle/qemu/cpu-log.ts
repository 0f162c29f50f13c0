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
 * the bytes, without building strings.
 */

export interface DeliveredEvent {
  readonly vector: number;
  readonly errorCode: number;
  /** INT n (software), as QEMU's i= says. */
  readonly software: boolean;
  /** Raised by an instruction (check_exception preceded it), not an external interrupt. */
  readonly exception: boolean;
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
const C_EFER = Buffer.from('EFER=');
const C_VLINE = Buffer.from(': v=');
const C_CHECK = Buffer.from('check_exception');
const SEG_KEYS = ['\nES =', '\nCS =', '\nSS =', '\nDS =', '\nFS =', '\nGS ='].map((k) => Buffer.from(k));
const C_CR0 = Buffer.from('CR0=');

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Up to 8 hex digits at `at` as an unsigned 32-bit number (NaN on a bad digit). */
function hex32(b: Buffer, at: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = hexDigit(b[at + i]!);
    if (d < 0) return Number.NaN;
    v = v * 16 + d;
  }
  return v;
}

export class CpuLogFormatError extends Error {
  override readonly name = 'CpuLogFormatError';
}

export class CpuLogParser {
  private buf: Buffer = Buffer.alloc(0);
  private readonly out: LogRecord[] = [];
  private events: DeliveredEvent[] = [];
  private sawCheck = false;
  /** The next record is the dump that follows a `v=` line. */
  private skipDump = false;
  /** Bytes consumed so far (for error messages). */
  private consumed = 0;

  /** Add bytes; complete records become available from take(). */
  feed(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      const rax = this.buf.indexOf(C_RAX, pos);
      if (rax < 0) break;
      this.scanEvents(pos, rax);
      const efer = this.buf.indexOf(C_EFER, rax);
      if (efer < 0) {
        pos = rax;
        break;
      }
      const end = this.buf.indexOf(10, efer); // the newline after EFER=
      if (end < 0) {
        pos = rax;
        break;
      }
      const record = this.parseRecord(rax, efer);
      if (this.skipDump) this.skipDump = false;
      else {
        this.out.push(record);
        this.events = [];
        this.sawCheck = false;
      }
      pos = end + 1;
    }
    if (pos === 0 && this.buf.indexOf(C_RAX) < 0 && this.buf.length > 1 << 16) {
      // no record in 64 KiB: not QEMU's x86-64 cpu log
      throw new CpuLogFormatError(`no register record in ${this.buf.length} bytes of QEMU's log at offset ${this.consumed}: '${this.buf.toString('latin1', 0, 80)}'`);
    }
    this.consumed += pos;
    this.buf = this.buf.subarray(pos);
  }

  /** Records parsed so far, oldest first (the internal queue is emptied). */
  take(): LogRecord[] {
    return this.out.splice(0);
  }

  get pending(): number {
    return this.out.length;
  }

  /** `check_exception` and `v=` lines between two records. */
  private scanEvents(from: number, to: number): void {
    if (to - from < 10) return;
    const b = this.buf;
    if (b.indexOf(C_CHECK, from) >= 0 && b.indexOf(C_CHECK, from) < to) this.sawCheck = true;
    const v = b.indexOf(C_VLINE, from);
    if (v < 0 || v >= to) return;
    // ": v=%02x e=%04x i=%d"
    const vector = hex32(b, v + 4, 2);
    const errorCode = hex32(b, v + 9, 4);
    const software = b[v + 16] === 49; // '1'
    this.events.push({ vector, errorCode, software, exception: this.sawCheck });
    this.sawCheck = false;
    this.skipDump = true;
  }

  private parseRecord(s: number, efer: number): LogRecord {
    const b = this.buf;
    const w = new Uint32Array(RR.LENGTH);
    for (let k = 0; k < 16; k++) {
      const at = s + (k >> 2) * 84 + (k & 3) * 21 + 4;
      const idx = GPR_LOG_ORDER[k]!;
      w[RR.GPR + 2 * idx + 1] = hex32(b, at, 8);
      w[RR.GPR + 2 * idx] = hex32(b, at + 8, 8);
    }
    const rip = s + 336;
    if (b[rip] !== 82 || b[rip + 1] !== 73 || b[rip + 2] !== 80) throw new CpuLogFormatError(`QEMU's log record at offset ${this.consumed + s} has no RIP line where x86-64 dumps put it (a 32-bit CPU?)`);
    w[RR.RIP + 1] = hex32(b, rip + 4, 8);
    w[RR.RIP] = hex32(b, rip + 12, 8);
    w[RR.RFLAGS] = hex32(b, rip + 25, 8);
    const hlt = b.indexOf('HLT=', rip);
    let at = rip;
    for (let i = 0; i < 6; i++) {
      at = b.indexOf(SEG_KEYS[i]!, at);
      w[RR.SEL + i] = hex32(b, at + 5, 4);
      if (i >= 4) {
        w[RR.FS_BASE + 2 * (i - 4) + 1] = hex32(b, at + 10, 8);
        w[RR.FS_BASE + 2 * (i - 4)] = hex32(b, at + 18, 8);
      }
    }
    const cr = b.indexOf(C_CR0, at);
    w[RR.CR0] = hex32(b, cr + 4, 8);
    w[RR.CR2 + 1] = hex32(b, cr + 17, 8);
    w[RR.CR2] = hex32(b, cr + 25, 8);
    w[RR.CR3 + 1] = hex32(b, cr + 38, 8);
    w[RR.CR3] = hex32(b, cr + 46, 8);
    w[RR.CR4] = hex32(b, cr + 59, 8);
    w[RR.EFER] = hex32(b, efer + 13, 8);
    return { words: w, events: this.events, halted: b[hlt + 4] === 49 };
  }
}
