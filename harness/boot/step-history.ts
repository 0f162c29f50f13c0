import type { GprName, MachineState } from '../../contracts/machine-state.js';
import { RR, recordToState } from '../../contracts/register-record.js';
import type { DataAccess } from '../../emulator/harness-hooks.js';
import type { DeviceAccess } from './device-log.js';

/**
 * What the lockstep remembers of the instructions it compared, for the report's last
 * instructions and its backward trace: every instruction of a recent window in full (address,
 * bytes, text, the emulator's data reads and writes, device accesses), and for all of the run the
 * last instruction that wrote each physical byte and each general register.
 */

export interface StepRecord {
  /** Position in the lockstep: 0 is the instruction at the start point. */
  readonly index: number;
  readonly rip: bigint;
  readonly bytes: Uint8Array;
  readonly text: string;
  readonly reads: readonly DataAccess[];
  readonly writes: ReadonlyArray<DataAccess & { readonly old: Uint8Array }>;
  readonly gprsWritten: readonly GprName[];
  readonly devices: readonly DeviceAccess[];
  /** Rules that made the emulator follow QEMU at this instruction. */
  readonly followed: readonly string[];
}

const PAGE = 4096;

export class StepHistory {
  private readonly ring: Array<StepRecord | undefined>;
  /** Per physical page: the index of the last instruction that wrote each byte, -1 for none. */
  private readonly writers = new Map<number, Int32Array>();
  private readonly regWriters = new Map<GprName, number>();
  /** Register states before the most recent instructions (the trace computes operand addresses from them). */
  private readonly states: Array<{ index: number; state: MachineState } | undefined>;

  constructor(
    readonly capacity = 100_000,
    readonly stateCapacity = 4096,
  ) {
    this.ring = new Array<StepRecord | undefined>(capacity);
    this.states = new Array<{ index: number; state: MachineState } | undefined>(stateCapacity);
    this.records = new Uint32Array(stateCapacity * RR.LENGTH);
    this.recordIndex = new Float64Array(stateCapacity).fill(-1);
  }

  /** Register records before the most recent instructions (a copy into one slab: no allocation per instruction). */
  private readonly records: Uint32Array;
  private readonly recordIndex: Float64Array;

  /** Remember the state before instruction `index` (kept for the last stateCapacity instructions). */
  keepState(index: number, state: MachineState): void {
    this.states[index % this.stateCapacity] = { index, state };
  }

  /**
   * Remember the registers before instruction `index` as a register record (contracts/register-
   * record.ts): what a streaming lockstep has for every instruction at the cost of a copy.
   */
  keepRecord(index: number, words: Uint32Array): void {
    const slot = index % this.stateCapacity;
    this.records.set(words, slot * RR.LENGTH);
    this.recordIndex[slot] = index;
  }

  /** The registers before `index`: a full state when one was kept, else a register record's fields. */
  stateBefore(index: number): MachineState | undefined {
    const s = this.states[index % this.stateCapacity];
    if (s?.index === index) return s.state;
    const slot = index % this.stateCapacity;
    if (this.recordIndex[slot] !== index) return undefined;
    return recordToState(this.records.subarray(slot * RR.LENGTH, (slot + 1) * RR.LENGTH));
  }

  add(r: StepRecord): void {
    this.ring[r.index % this.capacity] = r;
    for (const w of r.writes) for (const p of w.phys) this.markWritten(p.addr, p.length, r.index);
    for (const g of r.gprsWritten) this.regWriters.set(g, r.index);
  }

  /** Record `index` as the last writer of [addr, addr+length) (page by page). */
  markWritten(addr: number, length: number, index: number): void {
    let a = addr;
    const end = addr + length;
    while (a < end) {
      const page = Math.floor(a / PAGE);
      const stop = Math.min(end, (page + 1) * PAGE);
      let arr = this.writers.get(page);
      if (!arr) this.writers.set(page, (arr = new Int32Array(PAGE).fill(-1)));
      arr.fill(index, a - page * PAGE, stop - page * PAGE);
      a = stop;
    }
  }

  /** The record of instruction `index`, while it is inside the window. */
  get(index: number): StepRecord | undefined {
    const r = this.ring[index % this.capacity];
    return r?.index === index ? r : undefined;
  }

  /** The last `n` records up to and including `last`, oldest first. */
  lastN(last: number, n: number): StepRecord[] {
    const out: StepRecord[] = [];
    for (let i = Math.max(0, last - n + 1); i <= last; i++) {
      const r = this.get(i);
      if (r) out.push(r);
    }
    return out;
  }

  /** The last instruction (before `before`) that wrote physical byte `addr`, or undefined. */
  lastWriterOf(addr: number, before = Number.MAX_SAFE_INTEGER): number | undefined {
    const w = this.writers.get(Math.floor(addr / PAGE))?.[addr % PAGE];
    if (w === undefined || w < 0) return undefined;
    if (w < before) return w;
    // the byte's last writer is the instruction itself: look for an earlier write in the window
    for (let i = before - 1; i >= Math.max(0, before - this.capacity); i--) {
      const r = this.get(i);
      if (r?.writes.some((x) => x.phys.some((p) => addr >= p.addr && addr < p.addr + p.length))) return i;
    }
    return undefined;
  }

  /** The last instruction (before `before`) that wrote register `g`, per iced-x86's register usage. */
  lastWriterOfRegister(g: GprName, before: number): number | undefined {
    const w = this.regWriters.get(g);
    if (w !== undefined && w < before) return w;
    for (let i = before - 1; i >= Math.max(0, before - this.capacity); i--) {
      const r = this.get(i);
      if (r?.gprsWritten.includes(g)) return i;
    }
    return undefined;
  }

  /** Physical pages the emulator wrote during the run. */
  get pagesWritten(): number {
    return this.writers.size;
  }
}
