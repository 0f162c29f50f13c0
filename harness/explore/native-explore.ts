/**
 * The emulator's side of the explore machine, driven from TypeScript: each candidate is entered
 * as the guest runner's IRETQ enters it (CPL 3, TF set, the same registers, segments, x87/SSE and
 * data page) and run until the CPU reaches an exception stub, and the record is written exactly
 * as the runner writes it (explore-runner.ts), checksum included. The emulator executes the
 * candidate and its exception delivery, nothing of the runner: a bug in an instruction the runner
 * uses cannot spoil every record.
 */
import type { MachineState } from '../../contracts/machine-state.js';
import type { CpuContext, DirectStop, EmulatorTarget } from '../../emulator/emulator-target.js';
import { hashRanges } from '../batch/batch-hash.js';
import {
  CODE_PAGE_END, ERROR_CODE_VECTORS, EXPLORE, FX_HASHED_QWORDS, GDT_LIMIT, REC, RECORD_BYTES, RECORD_HASHED, TSS_SELECTOR, USER_RFLAGS,
  USER_SELECTORS, userRegisters,
} from './explore-layout.js';
import type { ExploreProgram } from './explore-runner.js';
import { dataPristineImage, fxPristineImage } from './pristine.js';

/** Sreg encoding order, as CpuContext holds the segment caches. */
const ES = 0, CS = 1, DS = 3, FS = 4, GS = 5;
const USER_CODE_ATTRS = 0x00affb00;
const USER_DATA_ATTRS = 0x00cff300;
const TWO32 = 4294967296;
/** A candidate is one instruction; a few more cover an instruction the emulator wrongly lets run on. */
const MAX_INSTRUCTIONS = 4;
/** Vectors recorded when the emulator reached no exception stub (no real vector is this high: the runner's stubs push 0–255, and these sit above). */
export const STOP_VECTORS = { tripleFault: 0x100, crash: 0x101, limit: 0x102, halted: 0x103 } as const;

export interface ExploreRecord {
  /** RECORD_BYTES / 4 words, as the runner stores the record. */
  readonly words: Uint32Array;
  /** The record's checksum (a low, a high, b low, b high), as the runner stores it. */
  readonly digest: Uint32Array;
  /** The emulator shut down (triple fault) or failed: call recover() before the next candidate. */
  readonly broken: boolean;
}

export class NativeExplorer {
  private readonly ctx: CpuContext;
  private readonly stops: ReadonlySet<number>;
  private readonly dataPristine = dataPristineImage();
  private readonly fxPristine = fxPristineImage();
  private readonly pristineMem = new Uint32Array(4);
  private readonly pristineFpu = new Uint32Array(4);
  private readonly fxImage = new Uint8Array(FX_HASHED_QWORDS * 8);
  private readonly entry: CpuContext;
  private readonly window = new Uint8Array(16);

  private constructor(
    private readonly target: EmulatorTarget,
    private readonly program: ExploreProgram,
  ) {
    this.ctx = target.newContext();
    this.entry = target.newContext();
    this.stops = new Set(Array.from({ length: 256 }, (_, v) => Number(EXPLORE.stubs) + 16 * v));
    hashRanges(new Uint32Array(this.dataPristine.buffer), [{ addr: 0, qwords: 512 }], this.pristineMem);
    const fx = this.fxPristine.slice(0, FX_HASHED_QWORDS * 8);
    new DataView(fx.buffer).setUint32(28, 0, true);
    hashRanges(new Uint32Array(fx.buffer), [{ addr: 0, qwords: FX_HASHED_QWORDS }], this.pristineFpu);
    this.buildEntry();
  }

  /** Load the explore machine into `target` as the runner has it when it enters the first candidate. */
  static async create(target: EmulatorTarget, program: ExploreProgram): Promise<NativeExplorer> {
    const n = new NativeExplorer(target, program);
    await n.recover();
    return n;
  }

  /** Bring the machine back to the runner's state (after a triple fault, or to start). */
  async recover(): Promise<void> {
    const state: MachineState = {
      ...this.program.state,
      rip: EXPLORE.code,
      cr3: EXPLORE.pml4,
      gdtr: { base: EXPLORE.gdtBase, limit: GDT_LIMIT },
      idtr: { base: EXPLORE.idt, limit: 0xfff },
      tr: { selector: TSS_SELECTOR, base: EXPLORE.tss, limit: 0x67, attrs: 0x8b00 },
    };
    await this.target.reset(state, this.program.system);
    this.restoreFpu();
    this.target.loadPhysical(Number(EXPLORE.userData), this.dataPristine);
  }

  /** Run one candidate (1–15 bytes) and return its record. */
  run(bytes: Uint8Array): ExploreRecord {
    const t = this.target;
    const n = bytes.length;
    this.window.fill(0xcc);
    this.window.set(bytes, 16 - n);
    t.loadPhysical(Number(CODE_PAGE_END) - 16, this.window);
    const ctx = this.ctx;
    ctx.gpr.set(this.entry.gpr);
    ctx.segSelector.set(this.entry.segSelector);
    ctx.segBase.set(this.entry.segBase);
    ctx.segLimit.set(this.entry.segLimit);
    ctx.segAttrs.set(this.entry.segAttrs);
    ctx.rflags = Number(USER_RFLAGS);
    ctx.rip = Number(CODE_PAGE_END) - n;
    t.loadContext(ctx);
    const stop = t.runToSync(this.stops, MAX_INSTRUCTIONS);
    t.saveContext(ctx);
    return this.record(stop);
  }

  /** The user context every candidate starts from (RIP and RFLAGS set per candidate). */
  private buildEntry(): void {
    const e = this.entry;
    userRegisters().forEach((v, i) => {
      e.gpr[2 * i] = Number(v & 0xffffffffn);
      e.gpr[2 * i + 1] = Number(v >> 32n);
    });
    for (let s = ES; s <= GS; s++) {
      e.segSelector[s] = s === CS ? USER_SELECTORS.code64 : USER_SELECTORS.data;
      e.segBase[s] = 0;
      e.segLimit[s] = 0xffffffff;
      e.segAttrs[s] = s === CS ? USER_CODE_ATTRS : USER_DATA_ATTRS;
    }
  }

  private record(stop: DirectStop): ExploreRecord {
    const ctx = this.ctx;
    const words = new Uint32Array(RECORD_BYTES / 4);
    const put = (qword: number, lo: number, hi = 0) => {
      words[2 * qword] = lo >>> 0;
      words[2 * qword + 1] = hi >>> 0;
    };
    words.set(ctx.gpr, 0);
    const stub = ctx.rip - Number(EXPLORE.stubs);
    const atStub = stop === 'breakpoint' && stub >= 0 && stub < 256 * 16 && stub % 16 === 0;
    const vector = atStub ? stub / 16 : stop === 'triple-fault' ? STOP_VECTORS.tripleFault : stop === 'halted' ? STOP_VECTORS.halted : stop === 'limit' ? STOP_VECTORS.limit : STOP_VECTORS.crash;
    if (atStub) {
      const frameAt = Number(EXPLORE.stackTop) - (ERROR_CODE_VECTORS.has(vector) ? 48 : 40);
      const frame = new Uint32Array(this.target.physicalView(frameAt, 48).slice().buffer);
      let f = 0;
      if (ERROR_CODE_VECTORS.has(vector)) {
        put(REC.errorCode, frame[0]!, frame[1]!);
        f = 2;
      }
      put(REC.rip, frame[f]!, frame[f + 1]!);
      put(REC.cs, frame[f + 2]!, frame[f + 3]!);
      put(REC.rflags, frame[f + 4]!, frame[f + 5]!);
      put(REC.gpr + 4, frame[f + 6]!, frame[f + 7]!);
      put(REC.ss, frame[f + 8]!, frame[f + 9]!);
    } else {
      put(REC.rip, ctx.rip >>> 0, Math.floor(ctx.rip / TWO32));
      put(REC.rflags, ctx.rflags);
    }
    put(REC.vector, vector);
    if (vector === 14) put(REC.cr2, ctx.cr2[0]!, ctx.cr2[1]!);
    const sel = ctx.segSelector;
    put(REC.selectors, sel[DS]! | (sel[ES]! << 16), sel[FS]! | (sel[GS]! << 16));
    const h = new Uint32Array(4);
    this.memoryHash(h);
    words.set(h.subarray(0, 2), REC.memA * 2);
    words.set(h.subarray(2, 4), REC.memB * 2);
    this.fpuHash(h);
    words.set(h.subarray(0, 2), REC.fpuA * 2);
    words.set(h.subarray(2, 4), REC.fpuB * 2);
    const digest = new Uint32Array(4);
    hashRanges(words, [{ addr: 0, qwords: RECORD_HASHED }], digest);
    return { words, digest, broken: stop === 'triple-fault' || stop === 'crash' };
  }

  /** The data page's checksum; the page goes back to its pristine contents when it changed. */
  private memoryHash(out: Uint32Array): void {
    const page = this.target.physicalView(Number(EXPLORE.userData), 0x1000);
    if (Buffer.compare(page, this.dataPristine) === 0) {
      out.set(this.pristineMem);
      return;
    }
    hashRanges(new Uint32Array(page.slice().buffer), [{ addr: 0, qwords: 512 }], out);
    this.target.loadPhysical(Number(EXPLORE.userData), this.dataPristine);
  }

  /** The checksum of the FXSAVE image as the runner hashes it; the state goes back to pristine when it changed. */
  private fpuHash(out: Uint32Array): void {
    const c = this.target.internals.cpu;
    const f = c.fpu;
    const img = this.fxImage;
    img.fill(0);
    const v = new DataView(img.buffer);
    v.setUint16(0, f.fcw, true);
    v.setUint16(2, f.statusWord, true);
    v.setUint16(4, f.abridgedTagWord() & 0xff, true);
    v.setUint32(24, c.sse.mxcsr, true);
    for (let i = 0; i < 8; i++) {
      const x = f.st(i);
      v.setBigUint64(32 + 16 * i, x & 0xffffffffffffffffn, true);
      v.setUint16(40 + 16 * i, Number((x >> 64n) & 0xffffn), true);
    }
    img.set(c.sse.bytes.subarray(0, 256), 160);
    if (Buffer.compare(img, this.fxPristine.subarray(0, img.length)) === 0) {
      out.set(this.pristineFpu);
      return;
    }
    hashRanges(new Uint32Array(img.buffer), [{ addr: 0, qwords: FX_HASHED_QWORDS }], out);
    this.restoreFpu();
  }

  /** What the runner's FXRSTOR of the pristine image loads. */
  private restoreFpu(): void {
    const c = this.target.internals.cpu;
    const f = c.fpu;
    const v = new DataView(this.fxPristine.buffer);
    f.fcw = v.getUint16(0, true);
    f.loadStatusWord(v.getUint16(2, true));
    f.loadAbridgedTagWord(v.getUint16(4, true) & 0xff);
    for (let i = 0; i < 8; i++) f.setSt(i, v.getBigUint64(32 + 16 * i, true) | (BigInt(v.getUint16(40 + 16 * i, true)) << 64n));
    c.sse.mxcsr = v.getUint32(24, true);
    c.sse.bytes.set(this.fxPristine.subarray(160, 416), 0);
  }
}
