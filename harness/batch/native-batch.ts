/**
 * The emulator's side of a batch, run from TypeScript instead of by the guest runner.
 *
 * The guest runner (batch-layout.ts) exists because a gdb stub takes ~25 packets per case; an
 * in-process emulator needs no runner, and running it there made every instruction the runner
 * uses a single point of failure: with a planted bug in one of them (`--inject rex-b-ignored`:
 * the runner's `mov rdi, [r8]`) every record of every batch differed and no case was settled by
 * a batch. Here each case of the batch (its CaseImage, the description the guest runner's
 * staging is serialized from) is entered the way the runner's IRETQ enters it, run to its
 * trampoline's target or an exception stub, and recorded byte for byte as the runner records
 * it. The emulator runs the case's own instructions and nothing else.
 *
 * State that carries from one case to the next in the guest batch carries here too, because the
 * cases run in order on one CPU that is reset only when the batch starts, as the guest batch's
 * load resets it: CR2, x87 state, MSRs, DR6, port devices, memory the copy lists do not rewrite.
 * Not reproduced: what only the runner's own instructions leave behind (its stack, the
 * descriptor and save areas, the retired-instruction count the emulator's TSC follows: a case
 * reading the TSC gets another value, as it does from QEMU, so it is never settled by a batch
 * anyway). The emulator models no interrupt shadow, so there is none to carry.
 */
import type { ExecutionTarget } from '../../contracts/execution-target.js';
import type { MachineState, MemoryRegion } from '../../contracts/machine-state.js';
import { SEGMENT_ATTRS, SELECTORS } from '../../contracts/test-machine.js';
import type { CpuContext, DirectStop, EmulatorTarget } from '../../emulator/emulator-target.js';
import { hashRanges } from './batch-hash.js';
import type { CaseImage, StagedBatch } from './batch-image.js';
import { BATCH, BATCH_TABLES, batchStops, ERROR_CODE_VECTORS, RECORD, RECORD_STATUS, SIMD_IMAGE_BYTES, TSS_SELECTOR, type BatchProgram } from './batch-layout.js';

/** An in-process target that can run a batch natively (EmulatorTarget). */
export type NativeBatchTarget = ExecutionTarget & Pick<EmulatorTarget, 'newContext' | 'loadContext' | 'saveContext' | 'physicalView' | 'loadPhysical' | 'runToSync' | 'resetSimd' | 'simdImage'>;

export function isNativeBatchTarget(t: ExecutionTarget): t is NativeBatchTarget {
  const n = t as Partial<NativeBatchTarget>;
  return typeof n.newContext === 'function' && typeof n.loadContext === 'function' && typeof n.saveContext === 'function' && typeof n.runToSync === 'function' &&
    typeof n.physicalView === 'function' && typeof n.loadPhysical === 'function' && typeof n.resetSimd === 'function' && typeof n.simdImage === 'function';
}

/**
 * RFLAGS bits IRETQ loads from its frame at CPL 0 (SDM Vol. 2 IRET, IA-32e mode): CF PF AF ZF
 * SF TF IF DF OF IOPL NT RF AC VIF VIP ID, not VM. The runner's own flags supply the rest,
 * which are the fixed bit 1 alone: its POPFQ of 0x2 after a completed case, and exception
 * delivery, clear VM, and no instruction sets a reserved bit.
 */
const IRETQ_CPL0_LOADS = 0x3d7fd5;
const FIXED_ONE = 0x2;
/** PUSHFQ stores RFLAGS with RF (bit 16) and VM (bit 17) clear (SDM Vol. 2 PUSHF). */
const PUSHF_CLEARS = 0x30000;

/** Sreg encoding order, as CpuContext holds the segment caches. */
const ES = 0, CS = 1, DS = 3, FS = 4, GS = 5;
const TWO32 = 4294967296;
const signed = (v: bigint) => Number(BigInt.asIntN(64, v));

/**
 * Runs staged batches natively on in-process targets; one per BatchProgram (what it derives from
 * the program is computed once).
 */
export class NativeBatch {
  /** Every stop of the batch on the emulator: the cases' end, the 256 exception stubs, and the batch's own stops. */
  private readonly stops: ReadonlySet<number>;
  private readonly caseDone: number;
  /** The CPU as the runner has it when it first enters a case, before the case's own registers. */
  private readonly start: MachineState;
  /** The TSS descriptor's type byte as LTR leaves it (busy). */
  private readonly tssBusy: { addr: bigint; bytes: Uint8Array };
  private readonly hash = new Uint32Array(4);
  /** A simd batch's FXSAVE image of the case just run, hashed into its record. */
  private readonly simdImage = new Uint32Array(SIMD_IMAGE_BYTES / 4);
  private readonly simdView = new DataView(this.simdImage.buffer);

  constructor(program: BatchProgram) {
    this.caseDone = Number(program.caseDone);
    const stubs = Array.from({ length: 256 }, (_, v) => Number(BATCH.stubs) + 16 * v);
    this.stops = new Set([this.caseDone, ...stubs, ...batchStops(program).map(Number)]);
    // program.state is the test machine's (the gateway switches CR3, the runner loads the tables)
    this.start = {
      ...program.state,
      cr3: BATCH.pml4,
      gdtr: { ...BATCH_TABLES.gdt },
      idtr: { ...BATCH_TABLES.idt },
      tr: { ...BATCH_TABLES.tr },
    };
    this.tssBusy = { addr: BATCH.gdtBase + BigInt(TSS_SELECTOR) + 5n, bytes: Uint8Array.of(0x8b) };
  }

  /**
   * Run the batch's images in order on `t` and return their records, count × BATCH.recordBytes,
   * as the guest runner would have written them; a case that did not end has
   * RECORD_STATUS.unfinished. The records are also stored at BATCH.results, where the runner
   * leaves them. `t` must hold the batch's system memory (program.system), or get it in `memory`.
   */
  async run(t: NativeBatchTarget, batch: Pick<StagedBatch, 'images' | 'serial' | 'simd'>, memory: readonly MemoryRegion[] = []): Promise<Uint8Array> {
    const images = batch.images;
    const serial = [Number(batch.serial & 0xffffffffn), Number((batch.serial >> 32n) & 0xffffffffn)] as const;
    const records = new Uint8Array(images.length * BATCH.recordBytes);
    const words = new Uint32Array(records.buffer);
    const view = new DataView(records.buffer);
    const ctx = t.newContext();
    let ram = await this.enterBatch(t, ctx, memory);
    let mem = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
    for (let i = 0; i < images.length; i++) {
      const image = images[i]!;
      this.copy(t, image);
      this.enterCase(ctx, image);
      t.loadContext(ctx);
      if (batch.simd) t.resetSimd();
      // The case's own allowance, enforced per case. A gdb stub has one budget for the whole
      // batch (QEMU: a wall-clock deadline for StagedBatch.budget instructions), so there a case
      // may run past its allowance when the cases before it used less of theirs; here it is
      // unfinished, never settled, and the per-case lockstep (c.maxSteps on both) decides it.
      const stop = t.runToSync(this.stops, image.allowance);
      t.saveContext(ctx);
      const at = i * BATCH.recordBytes;
      this.record(ctx, stop, image, mem, ram, words, view, at);
      if (batch.simd && view.getUint32(at + RECORD.status, true) !== RECORD_STATUS.unfinished) this.recordSimd(t, words, at >>> 2);
      words[(at + RECORD.serial) >>> 2] = serial[0];
      words[((at + RECORD.serial) >>> 2) + 1] = serial[1];
      t.loadPhysical(Number(BATCH.results) + at, records.subarray(at, at + BATCH.recordBytes));
      // a triple fault shuts the CPU down until a reset; the guest batch would have ended there
      if (stop === 'triple-fault') {
        ram = await this.enterBatch(t, ctx);
        mem = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
      }
    }
    return records;
  }

  /** The CPU reset as a guest batch's load resets it, then the tables the runner loads. */
  private async enterBatch(t: NativeBatchTarget, ctx: CpuContext, memory: readonly MemoryRegion[] = []): Promise<Uint32Array> {
    await t.reset(this.start, [...memory, this.tssBusy]);
    t.saveContext(ctx);
    const bytes = t.physicalView(0, Number(BATCH.areaEnd));
    return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
  }

  /** The runner's copy list: the bytes it copies, fills or generates (the xorshift64 runs too: CopyEntry). */
  private copy(t: NativeBatchTarget, image: CaseImage): void {
    for (const e of image.copies) t.loadPhysical(e.addr, e.bytes);
  }

  /**
   * Registers as the runner leaves them at its IRETQ: MOV of the data selector to DS, ES, FS,
   * GS and SS, WRMSR of the FS and GS bases, then the frame {RIP, code64, RFLAGS, RSP, data}.
   * CR2 stays as the previous case left it.
   */
  private enterCase(ctx: CpuContext, image: CaseImage): void {
    ctx.gpr.set(image.gpr);
    ctx.rip = signed(image.rip);
    ctx.rflags = FIXED_ONE | (Number(image.rflags & 0x3fffffn) & IRETQ_CPL0_LOADS);
    for (let s = ES; s <= GS; s++) {
      ctx.segSelector[s] = s === CS ? SELECTORS.code64 : SELECTORS.data;
      ctx.segBase[s] = 0;
      ctx.segLimit[s] = 0xffffffff;
      ctx.segAttrs[s] = s === CS ? SEGMENT_ATTRS.code64 : SEGMENT_ATTRS.data;
    }
    ctx.segBase[FS] = image.fsBase === 0n ? 0 : signed(image.fsBase);
    ctx.segBase[GS] = image.gsBase === 0n ? 0 : signed(image.gsBase);
  }

  /**
   * The record the runner writes at case_done or through an exception stub. `ram`/`mem`: the
   * batch area from address 0; `words`/`view`: the records, this one at byte `at`.
   */
  private record(ctx: CpuContext, stop: DirectStop, image: CaseImage, mem: DataView, ram: Uint32Array, words: Uint32Array, view: DataView, at: number): void {
    const w = at >>> 2;
    const stub = ctx.rip - Number(BATCH.stubs);
    const vector = stub >= 0 && stub < 256 * 16 && stub % 16 === 0 ? stub / 16 : -1;
    const completed = stop === 'breakpoint' && ctx.rip === this.caseDone;
    // the IST stack, unless the case jumped into a stub with a stack of its own
    const sp = ctx.gpr[9] === 0 ? ctx.gpr[8]! : Infinity;
    const frameFits = sp + 48 <= mem.byteLength;
    if (!completed && !(stop === 'breakpoint' && vector >= 0 && frameFits)) {
      view.setUint32(at + RECORD.status, RECORD_STATUS.unfinished, true);
      return;
    }
    words.set(ctx.gpr, w + (RECORD.gpr >>> 2));
    if (completed) {
      words[w + (RECORD.rflags >>> 2)] = ctx.rflags & ~PUSHF_CLEARS;
      words[w + (RECORD.status >>> 2)] = RECORD_STATUS.completed;
    } else {
      // the stub pushes 0 where it expects no error code, then the vector; the runner pops
      // them and the frame above, reading the stack as its stub table says
      // (the batch area is mapped 1:1)
      let p = sp;
      words[w + (RECORD.vector >>> 2)] = vector;
      if (ERROR_CODE_VECTORS.has(vector)) {
        copyQword(mem, p, words, w + (RECORD.errorCode >>> 2));
        p += 8;
      }
      copyQword(mem, p, words, w + (RECORD.frameRip >>> 2));
      copyQword(mem, p + 8, words, w + (RECORD.frameCs >>> 2));
      copyQword(mem, p + 16, words, w + (RECORD.rflags >>> 2));
      copyQword(mem, p + 24, words, w + ((RECORD.gpr + 4 * 8) >>> 2));
      copyQword(mem, p + 32, words, w + (RECORD.frameSs >>> 2));
      words[w + (RECORD.cr2 >>> 2)] = ctx.cr2[0]!;
      words[w + (RECORD.cr2 >>> 2) + 1] = ctx.cr2[1]!;
      words[w + (RECORD.status >>> 2)] = RECORD_STATUS.exception;
    }
    const sel = at + RECORD.selectors;
    view.setUint16(sel, ctx.segSelector[DS]!, true);
    view.setUint16(sel + 2, ctx.segSelector[ES]!, true);
    view.setUint16(sel + 4, ctx.segSelector[FS]!, true);
    view.setUint16(sel + 6, ctx.segSelector[GS]!, true);
    putSigned(words, w + (RECORD.fsBase >>> 2), ctx.segBase[FS]!);
    putSigned(words, w + (RECORD.gsBase >>> 2), ctx.segBase[GS]!);
    const h = this.hash;
    hashRanges(ram, image.hashes, h);
    words[w + (RECORD.hash >>> 2)] = h[0]!;
    words[w + (RECORD.hash >>> 2) + 1] = h[1]!;
    words[w + (RECORD.hash2 >>> 2)] = h[2]!;
    words[w + (RECORD.hash2 >>> 2) + 1] = h[3]!;
  }

  /** A simd batch's checksum of the x87/SSE state the case leaves, as the runner's FXSAVE and loop compute it. */
  private recordSimd(t: NativeBatchTarget, words: Uint32Array, w: number): void {
    t.simdImage(this.simdView);
    const h = this.hash;
    hashRanges(this.simdImage, SIMD_IMAGE_RANGE, h);
    words[w + (RECORD.simdHash >>> 2)] = h[0]!;
    words[w + (RECORD.simdHash >>> 2) + 1] = h[1]!;
    words[w + (RECORD.simdHash2 >>> 2)] = h[2]!;
    words[w + (RECORD.simdHash2 >>> 2) + 1] = h[3]!;
  }
}

const SIMD_IMAGE_RANGE = [{ addr: 0, qwords: SIMD_IMAGE_BYTES / 8 }] as const;

function copyQword(from: DataView, byte: number, to: Uint32Array, j: number): void {
  to[j] = from.getUint32(byte, true);
  to[j + 1] = from.getUint32(byte + 4, true);
}

/** A signed linear address (a segment base) as the qword RDMSR reads. */
function putSigned(words: Uint32Array, i: number, v: number): void {
  const hi = Math.floor(v / TWO32);
  words[i] = (v - hi * TWO32) >>> 0;
  words[i + 1] = hi >>> 0;
}
