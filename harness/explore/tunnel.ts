/**
 * The tunnelling walk over byte strings (sandsifter's "tunnel" search, with the skip-ahead of
 * its successors): run a candidate, learn its length, advance the LAST byte of that length; when
 * that byte wraps, move one byte left; when a candidate turns out to need more bytes than it has
 * (its fetch runs into the unmapped page), widen it by a zero byte. A byte whose values keep
 * giving the same outcome (an immediate, a displacement) is skipped through quickly: after
 * `sameBeforeSkip` equal outcomes in a row only the first value of each remaining high nibble is
 * tried, and after `nibbleSkips` of those the rest of the byte is skipped. Any new outcome or
 * length puts the marker at the end of the new instruction again, so structure (ModRM, SIB,
 * prefixes that change the length) is walked value by value.
 *
 * The walk is a pure state machine: `current()` is the next candidate, `advance(outcome)` moves
 * on. Outcomes are opaque strings; the explorer combines both targets' outcomes into one, so a
 * byte range is skipped only when both sides agree it is boring. `clone()` snapshots the walk,
 * which is what lets the explorer run candidates ahead speculatively and rewind.
 */

/** The longest x86 instruction. */
export const MAX_INSTRUCTION_BYTES = 15;

/** An outcome meaning "the instruction needs more bytes than the candidate has": widen. */
export const NEEDS_MORE = 'F';

/**
 * Defaults measured by walking the space with iced-x86 as both sides (candidates, 4 legacy maps /
 * whole space): (4, 2, 2) 8.2M / 15.3M; (6, 3, 2) 11.3M / 21M. Walking the byte after the opcode
 * in full is what reaches every ModRM value; fewer equal outcomes before a skip mostly saves on
 * displacement and immediate bytes.
 */
export const TUNNEL_DEFAULTS = { sameBeforeSkip: 4, nibbleSkips: 2, fullBytes: 2 } as const;

export interface TunnelSeed {
  /** Fixed leading bytes (prefixes, escape bytes, VEX/EVEX payload); the walk never changes them. */
  readonly fixed: Uint8Array;
  /** Values of the first walked byte (the opcode) that the walk skips: prefixes and escapes other seeds cover. */
  readonly excluded?: ReadonlySet<number>;
  /** Only opcode values from..to (inclusive; default 0x00..0xff). */
  readonly opcodes?: readonly [number, number];
}

export interface TunnelOptions {
  /** Equal outcomes in a row before a byte's low nibble is skipped (default 4). */
  readonly sameBeforeSkip?: number;
  /** High nibbles tried one value each before the rest of the byte is skipped (default 2). */
  readonly nibbleSkips?: number;
  /** Walk every value of the first this-many bytes after the fixed part (default 2: the opcode and, usually, ModRM). */
  readonly fullBytes?: number;
}

/** Counts for the coverage figure. */
export interface TunnelCounts {
  /** Candidates produced (each run once on every target). */
  candidates: number;
  /** Values of the opcode byte reached (out of 256 minus the excluded ones). */
  opcodes: number;
  /** Byte values after the opcode tried directly. */
  tailTried: number;
  /** Byte values after the opcode skipped by the skip-ahead. */
  tailSkipped: number;
}

export class Tunnel {
  private bytes: Uint8Array;
  private len: number;
  private marker: number;
  private same = 0;
  private nibbles = 0;
  private lastOutcome = '';
  private lastLen = 0;
  private finished = false;
  readonly counts: TunnelCounts;
  private readonly fixedLen: number;
  private readonly sameBeforeSkip: number;
  private readonly nibbleLimit: number;
  private readonly fullBytes: number;
  private readonly lastOpcode: number;

  constructor(
    readonly seed: TunnelSeed,
    options: TunnelOptions = {},
  ) {
    this.fixedLen = seed.fixed.length;
    if (this.fixedLen >= MAX_INSTRUCTION_BYTES) throw new RangeError(`a seed of ${this.fixedLen} fixed bytes leaves nothing to walk`);
    this.sameBeforeSkip = options.sameBeforeSkip ?? TUNNEL_DEFAULTS.sameBeforeSkip;
    this.nibbleLimit = options.nibbleSkips ?? TUNNEL_DEFAULTS.nibbleSkips;
    this.fullBytes = options.fullBytes ?? TUNNEL_DEFAULTS.fullBytes;
    this.bytes = new Uint8Array(MAX_INSTRUCTION_BYTES);
    this.bytes.set(seed.fixed);
    this.len = this.fixedLen + 1;
    this.marker = this.fixedLen;
    this.counts = { candidates: 0, opcodes: 0, tailTried: 0, tailSkipped: 0 };
    const [first, last] = seed.opcodes ?? [0, 0xff];
    if (!(Number.isInteger(first) && Number.isInteger(last) && first >= 0 && first <= last && last <= 0xff)) throw new RangeError(`opcode range ${first}..${last} is not within 0x00..0xff`);
    this.lastOpcode = last;
    this.bytes[this.fixedLen] = first;
    // the first opcode value may itself be excluded
    if (seed.excluded?.has(first)) this.stepOpcode();
    if (!this.finished) this.counts.opcodes = 1;
  }

  get done(): boolean {
    return this.finished;
  }

  /** The candidate to run next (a copy). */
  current(): Uint8Array {
    return this.bytes.slice(0, this.len);
  }

  /** The opcode byte of the current candidate (the first walked byte). */
  get opcode(): number {
    return this.bytes[this.fixedLen]!;
  }

  /** Feed the outcome of `current()` and move to the next candidate. */
  advance(outcome: string): void {
    if (this.finished) throw new Error('the walk is over');
    this.counts.candidates++;
    if (outcome === NEEDS_MORE && this.len < MAX_INSTRUCTION_BYTES) {
      this.bytes[this.len] = 0;
      this.len++;
      return;
    }
    if (outcome !== this.lastOutcome || this.len !== this.lastLen) {
      this.marker = this.len - 1;
      this.same = 0;
      this.nibbles = 0;
      this.lastOutcome = outcome;
      this.lastLen = this.len;
    } else if (this.marker >= this.fixedLen + this.fullBytes && ++this.same >= this.sameBeforeSkip) {
      const v = this.bytes[this.marker]!;
      if (this.nibbles >= this.nibbleLimit) {
        this.counts.tailSkipped += 0xff - v;
        this.bytes[this.marker] = 0xff;
      } else {
        this.nibbles++;
        this.counts.tailSkipped += 0x0f - (v & 0x0f);
        this.bytes[this.marker] = v | 0x0f;
      }
    }
    this.increment();
  }

  private increment(): void {
    for (;;) {
      if (this.marker < this.fixedLen) {
        this.finished = true;
        return;
      }
      if (this.marker === this.fixedLen) {
        this.stepOpcode();
        return;
      }
      const v = this.bytes[this.marker]!;
      if (v === 0xff) {
        this.bytes[this.marker] = 0;
        this.marker--;
        this.same = 0;
        this.nibbles = 0;
        continue;
      }
      this.bytes[this.marker] = v + 1;
      this.counts.tailTried++;
      if (this.mayShorten(v + 1)) this.len = this.marker + 1;
      return;
    }
  }

  /**
   * Whether the instruction may have got shorter when the marker's byte became `value`, so the
   * candidate must be widened again from the marker (the bytes after it belonged to the last
   * instruction). Inside the fully walked bytes (opcode, ModRM) anything goes. The byte after
   * them is a SIB byte for many instructions, and a SIB byte drops its 32-bit displacement when
   * its base leaves 101 (SDM Vol. 2 Table 2-3): only then. Displacement and immediate bytes never
   * change the length, and re-widening after each of their values would double the walk.
   */
  private mayShorten(value: number): boolean {
    const sib = this.fixedLen + this.fullBytes;
    return this.marker < sib || (this.marker === sib && (value & 7) === 6);
  }


  /** Next opcode value that is not excluded; the walk ends after the last one. */
  private stepOpcode(): void {
    const at = this.fixedLen;
    let v = this.bytes[at]!;
    do {
      if (v >= this.lastOpcode) {
        this.finished = true;
        return;
      }
      v++;
    } while (this.seed.excluded?.has(v));
    this.bytes[at] = v;
    this.len = at + 1;
    this.marker = at;
    this.same = 0;
    this.nibbles = 0;
    // the new opcode's first outcome must put the marker at its end, whatever the last one was
    this.lastOutcome = '';
    this.lastLen = 0;
    this.counts.opcodes++;
  }

  /** An independent copy (the explorer rewinds to one when a target's outcome was mispredicted). */
  clone(): Tunnel {
    const t = Object.create(Tunnel.prototype) as Tunnel;
    Object.assign(t, this);
    t.bytes = this.bytes.slice();
    (t as { counts: TunnelCounts }).counts = { ...this.counts };
    return t;
  }
}
