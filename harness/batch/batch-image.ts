/**
 * Stages a batch of cases for the guest-side runner (batch-layout.ts): per case a descriptor
 * (registers, RFLAGS, FS/GS bases, where its copy and hash lists are), a copy list (code with a
 * trampoline to the runner, memory regions, zeroed compared regions: the bytes a per-case reset
 * writes) and a hash list (the compared regions). Everything goes in one contiguous write.
 * Each case is first described once (caseImage): the guest serializer here and the emulator's
 * native batch (native-batch.ts) both follow that description, so the two cannot drift apart.
 */
import type { Case } from '../../corpus/case-schema.js';
import { GPR_BY_ENCODING, type MemoryRegion } from '../../contracts/machine-state.js';
import { jumpTo, LAYOUT } from '../../contracts/test-machine.js';
import { OpKind, Register, type Instruction } from 'iced-x86';
import { describe, forEachInstruction, icedRflagsToArch, mnemonicOf, type DecodedInstruction } from '../asm/decode.js';
import { comparedRegions, zeroedComparedRegions } from '../lockstep.js';
import { xorshift64Next } from '../generate/xorshift64.js';
import { BATCH, BATCH_CODE_PAGE_STOP, COPY_SOURCE, CTRL, DESC } from './batch-layout.js';

/** Bits 63..47 all equal. */
const isCanonical = (v: bigint) => BigInt.asIntN(48, v) === BigInt.asIntN(64, v);

/** A region to write: `bytes`, or `length` zeros. Numbers: every address is below 2^32. */
interface Piece {
  readonly addr: number;
  readonly length: number;
  readonly bytes: Uint8Array | undefined;
}

/** Pieces grouped where they overlap or touch once widened to whole qwords: [start, end) of each group and its pieces (indexes, callers' order). */
function qwordGroups(pieces: readonly Piece[]): Array<{ start: number; end: number; members: number[] }> {
  const order = pieces.map((_, i) => i).sort((a, b) => pieces[a]!.addr - pieces[b]!.addr || a - b);
  const out: Array<{ start: number; end: number; members: number[] }> = [];
  for (let g = 0; g < order.length; ) {
    const first = pieces[order[g]!]!;
    let end = (first.addr + first.length + 7) & ~7;
    let h = g + 1;
    while (h < order.length && (pieces[order[h]!]!.addr & ~7) <= end) {
      const p = pieces[order[h]!]!;
      end = Math.max(end, (p.addr + p.length + 7) & ~7);
      h++;
    }
    out.push({ start: first.addr & ~7, end, members: order.slice(g, h).sort((a, b) => a - b) });
    g = h;
  }
  return out;
}

/**
 * Pieces merged where they overlap or touch once widened to whole qwords, later pieces winning,
 * gaps between them filled with zeros: what the runner copies with `rep movsq`. Each region's
 * bytes start 4-byte aligned in their buffer (copyEntries reads them as 32-bit words).
 */
function mergeQwords(pieces: readonly Piece[]): Array<{ addr: number; bytes: Uint8Array }> {
  return qwordGroups(pieces).map(({ start, end, members }) => {
    const only = members.length === 1 ? pieces[members[0]!]! : undefined;
    // a lone piece that is already whole qwords, aligned in its buffer, is used as it is
    if (only?.bytes && only.addr === start && only.length === end - start && (only.bytes.byteOffset & 3) === 0) return { addr: start, bytes: only.bytes };
    const bytes = new Uint8Array(end - start);
    for (const i of members) {
      const p = pieces[i]!;
      if (p.bytes) bytes.set(p.bytes, p.addr - start);
      else if (members.length > 1) bytes.fill(0, p.addr - start, p.addr - start + p.length);
    }
    return { addr: start, bytes };
  });
}

/** Regions widened to whole qwords (gaps between them filled with zeros), for `rep movsq` and the hash. */
export function qwordAligned(regions: readonly MemoryRegion[]): MemoryRegion[] {
  return mergeQwords(regions.map((r) => ({ addr: Number(r.addr), length: r.bytes.length, bytes: r.bytes }))).map((r) => ({ addr: BigInt(r.addr), bytes: r.bytes }));
}

/**
 * Instructions whose effects the batch record does not capture (control and system registers,
 * descriptor tables, MSRs, XCR0, segment loads): a case with one runs alone, where everything is
 * compared. x87/MMX/SSE state is captured by a `simd` batch (batch-layout.ts CTRL.simd).
 */
const SYSTEM_MNEMONICS = new Set(['wrmsr', 'lgdt', 'lidt', 'lldt', 'ltr', 'swapgs', 'wrfsbase', 'wrgsbase', 'invlpg', 'clts', 'xrstor', 'xsetbv', 'cli', 'sti']);
/** Mnemonics that use x87/MMX/SSE state without naming an x87, MMX or XMM register. */
const SIMD_STATE_MNEMONICS = new Set(['ldmxcsr', 'stmxcsr', 'emms', 'wait']);

/** How a batch treats an instruction: 'simd' (recorded by a simd batch), 'outside' (runs alone), or undefined. */
export type BatchClass = 'simd' | 'outside' | undefined;

/** The same classification on an instruction's text (kept to check `classOf` against: batch-image.spec.ts). */
export function batchClassByText(ins: Pick<DecodedInstruction, 'mnemonic' | 'text'>): BatchClass {
  if (
    SYSTEM_MNEMONICS.has(ins.mnemonic) ||
    (ins.mnemonic === 'mov' && /\b(cr|dr)\d/.test(ins.text)) ||
    // POP into a segment register (a memory operand with an FS/GS override is fine)
    (ins.mnemonic === 'pop' && /^pop [defgs]s$/.test(ins.text)) ||
    (ins.mnemonic === 'mov' && /^mov [defgs]s,/.test(ins.text))
  ) return 'outside';
  if (ins.mnemonic.startsWith('f') || SIMD_STATE_MNEMONICS.has(ins.mnemonic) || /\b[xy]?mm\d|\bst\d|\bst\(/.test(ins.text)) return 'simd';
  return undefined;
}

const inRange = (r: Register, lo: Register, hi: Register) => r >= lo && r <= hi;
/** Segment registers a POP or MOV may load (not CS). */
const LOADABLE_SEGMENT = new Set<Register>([Register.ES, Register.SS, Register.DS, Register.FS, Register.GS]);

/**
 * batchClassByText from iced's operands instead of its formatted text: formatting is most of
 * a decode's cost (measured: 20–50 µs per 10-instruction case with text, 3 µs without).
 */
function classOf(ins: Instruction, mnemonic: string): BatchClass {
  if (SYSTEM_MNEMONICS.has(mnemonic)) return 'outside';
  let simd = mnemonic.startsWith('f') || SIMD_STATE_MNEMONICS.has(mnemonic);
  for (let i = 0; i < ins.opCount; i++) {
    if (ins.opKind(i) !== OpKind.Register) continue;
    const r = ins.opRegister(i);
    if (inRange(r, Register.MM0, Register.MM7) || inRange(r, Register.XMM0, Register.YMM31) || inRange(r, Register.ST0, Register.ST7)) simd = true;
    if (mnemonic === 'mov' && (inRange(r, Register.CR0, Register.CR15) || inRange(r, Register.DR0, Register.DR15))) return 'outside';
    if (i === 0 && (mnemonic === 'pop' || mnemonic === 'mov') && LOADABLE_SEGMENT.has(r)) return 'outside';
  }
  return simd ? 'simd' : undefined;
}

/** What the batch checks need of each instruction of a case (no text: see outsideRecordOf). */
interface BatchView {
  readonly mnemonic: string;
  readonly invalid: boolean;
  readonly modified: number;
  readonly undefined: number;
  /** The instruction's text when the batch record does not cover its effects. */
  readonly outside?: string;
  /** It uses x87/MMX/SSE state: the case needs a simd batch. */
  readonly simd: boolean;
}

/** A case's code decoded once for batchIneligible and finalUndefinedFlags (both run per screened case). */
const DECODED = new WeakMap<Uint8Array, BatchView[]>();
function decodedCode(c: Case): BatchView[] {
  let d = DECODED.get(c.code);
  if (!d) {
    const views: BatchView[] = [];
    forEachInstruction(c.code, LAYOUT.code, 64, (ins, offset) => {
      const invalid = ins.isInvalid;
      const mnemonic = invalid ? 'invalid' : mnemonicOf(ins);
      const kind = invalid ? undefined : classOf(ins, mnemonic);
      const outside = kind === 'outside' ? describe(ins, c.code, offset).text : undefined;
      // the two masks used (flagsOf would read six, each a call into iced's wasm)
      const modified = icedRflagsToArch(ins.rflagsModified);
      const undef = icedRflagsToArch(ins.rflagsUndefined);
      views.push({ mnemonic, invalid, modified, undefined: undef, simd: kind === 'simd', ...(outside !== undefined ? { outside } : {}) });
    });
    DECODED.set(c.code, (d = views));
  }
  return d;
}

/** Why a case cannot run in a batch (then it runs alone), or undefined. */
export function batchIneligible(c: Case): string | undefined {
  if (c.code.length + 5 > Number(BATCH_CODE_PAGE_STOP - LAYOUT.code)) return 'code too long';
  const outside = decodedCode(c).find((v) => v.outside !== undefined);
  if (outside) return `'${outside.outside}' changes state the batch record does not hold`;
  // the runner starts every case of a simd batch from the clean state
  if (c.sse) return 'initial XMM/MXCSR state';
  for (const r of [...c.memory.map((m) => ({ addr: m.addr, length: m.bytes.length })), ...comparedRegions(c)]) {
    if (r.addr < LAYOUT.stackBase || r.addr + BigInt(r.length) > LAYOUT.unmapped) return 'memory outside the test machine';
  }
  // the runner loads the bases with WRMSR, which raises #GP on a non-canonical one
  if (!isCanonical(c.fsBase ?? 0n) || !isCanonical(c.gsBase ?? 0n)) return 'FS/GS base is not canonical';
  return undefined;
}

/** The bytes a per-case reset writes: compared regions the case does not fill (zeros), code + trampoline, memory. */
function caseWrites(c: Case, caseDone: bigint): Array<{ addr: number; bytes: Uint8Array }> {
  const pieces: Piece[] = zeroedComparedRegions(c).map((r) => ({ addr: Number(r.addr), length: r.bytes.length, bytes: undefined }));
  pieces.push({ addr: Number(LAYOUT.code), length: c.code.length, bytes: c.code });
  for (const m of c.memory) pieces.push({ addr: Number(m.addr), length: m.bytes.length, bytes: m.bytes });
  const trampoline = jumpTo(LAYOUT.code + BigInt(c.code.length), caseDone);
  pieces.push({ addr: Number(trampoline.addr), length: trampoline.bytes.length, bytes: trampoline.bytes });
  return mergeQwords(pieces);
}

function hashRanges(c: Case): HashRange[] {
  const pieces = comparedRegions(c).map((r) => ({ addr: Number(r.addr), length: r.length, bytes: undefined }));
  return qwordGroups(pieces).map((g) => ({ addr: g.start, qwords: (g.end - g.start) / 8 }));
}

/** Runner overhead per case in instructions, besides copying and hashing. */
const PER_CASE_OVERHEAD = 400;
/** A REP string op can run until it leaves the mapped stack/code/data pages. */
const LONGEST_STRING_RUN = 0x30000;

/**
 * A copy-list entry: `bytes` at `addr` (physical; the batch maps it 1:1). The runner copies
 * them ('bytes'), or makes them itself from the qword `lo`/`hi` (halves), `qwords` of them: all
 * equal to it ('fill'), or each the xorshift64 step of the one before, `lo`/`hi` being the qword
 * just before the run ('xorshift', the generator's scratch fill: harness/generate/xorshift64.ts).
 * `bytes` are what it makes (the entry was found in them), so an in-process target just copies.
 */
export type CopyEntry =
  | { readonly kind: 'bytes'; readonly addr: number; readonly bytes: Uint8Array }
  | { readonly kind: 'fill' | 'xorshift'; readonly addr: number; readonly bytes: Uint8Array; readonly qwords: number; readonly lo: number; readonly hi: number };

/** Compared qwords: `qwords` of them from `addr` (qword-aligned). */
export interface HashRange {
  readonly addr: number;
  readonly qwords: number;
}

/**
 * One case as a batch runs it, the single description both executors follow: the guest
 * runner reads it from its descriptor and lists (stageBatch serializes it), the emulator's
 * native batch (native-batch.ts) performs it from TypeScript.
 */
export interface CaseImage {
  /** GPRs in encoding order as 32-bit halves (low, high): the descriptor's first 16 qwords. */
  readonly gpr: Uint32Array;
  readonly rflags: bigint;
  readonly fsBase: bigint;
  readonly gsBase: bigint;
  readonly rip: bigint;
  /** What the runner writes before entering the case, in order. */
  readonly copies: readonly CopyEntry[];
  /** What its record's checksum covers, in order. */
  readonly hashes: readonly HashRange[];
  /** The case uses x87/MMX/SSE state: it runs in a simd batch (batch-layout.ts CTRL.simd). */
  readonly simd: boolean;
  /**
   * Instructions granted to the case itself within the batch budget (at least its maxSteps
   * counted as a per-case lockstep counts them, REP iterations included, and one string op
   * running across every mapped page).
   */
  readonly allowance: number;
}

/** Runs of at least this many generated qwords are made by the runner instead of sent over gdb. */
const MIN_FILL_QWORDS = 8;
/** Runner instructions per qword of an xorshift run (batch-layout.ts copy_xorshift). */
export const XORSHIFT_QWORD_INSNS = 13;

const step = new Uint32Array(2);
/** generatedRun's kind of run (kept out of its result: it runs once per qword staged). */
let runKind: 'fill' | 'xorshift' = 'fill';

/** Where the run of qwords from `i` (at least 1) that repeat qword i-… ends: equal to the one before (fill) or its xorshift64 step (runKind says which). */
function generatedRun(q: Uint32Array, i: number, n: number): number {
  let j = i + 1;
  while (j < n && q[2 * j] === q[2 * i] && q[2 * j + 1] === q[2 * i + 1]) j++;
  runKind = 'fill';
  if (j - i >= MIN_FILL_QWORDS || i === 0) return j;
  // qword i onwards as the xorshift64 stream continuing from qword i-1
  step[0] = q[2 * i - 2]!;
  step[1] = q[2 * i - 1]!;
  j = i;
  while (j < n) {
    xorshift64Next(step);
    if (step[0] !== q[2 * j] || step[1] !== q[2 * j + 1]) break;
    j++;
  }
  if (j - i < MIN_FILL_QWORDS) return i + 1;
  runKind = 'xorshift';
  return j;
}

function copyEntries(writes: ReadonlyArray<{ addr: number; bytes: Uint8Array }>): CopyEntry[] {
  const out: CopyEntry[] = [];
  for (const w of writes) {
    // mergeQwords's regions are fresh, so aligned for a Uint32Array
    const q = new Uint32Array(w.bytes.buffer, w.bytes.byteOffset, w.bytes.byteLength / 4);
    const n = w.bytes.length / 8;
    const addr = w.addr;
    let start = 0; // first qword not yet emitted
    let i = 0;
    while (i < n) {
      const end = generatedRun(q, i, n);
      if (end - i >= MIN_FILL_QWORDS) {
        if (i > start) out.push({ kind: 'bytes', addr: addr + start * 8, bytes: w.bytes.subarray(start * 8, i * 8) });
        const from = runKind === 'fill' ? i : i - 1;
        out.push({ kind: runKind, addr: addr + i * 8, bytes: w.bytes.subarray(i * 8, end * 8), qwords: end - i, lo: q[2 * from]!, hi: q[2 * from + 1]! });
        start = end;
      }
      i = end;
    }
    if (n > start) out.push({ kind: 'bytes', addr: addr + start * 8, bytes: w.bytes.subarray(start * 8) });
  }
  return out;
}

/** The case as a batch runs it, its trampoline jumping to `caseDone` (batchIneligible(c) must be undefined). */
export function caseImage(c: Case, caseDone: bigint): CaseImage {
  const gpr = new Uint32Array(32);
  const halves = new DataView(gpr.buffer);
  for (let n = 0; n < 16; n++) {
    const name = GPR_BY_ENCODING[n]!;
    halves.setBigUint64(8 * n, c.regs[name] ?? (name === 'rsp' ? LAYOUT.stackTop : 0n), true);
  }
  return {
    gpr,
    rflags: c.rflags ?? 0x2n,
    fsBase: c.fsBase ?? 0n,
    gsBase: c.gsBase ?? 0n,
    rip: LAYOUT.code,
    copies: copyEntries(caseWrites(c, caseDone)),
    hashes: hashRanges(c),
    simd: decodedCode(c).some((v) => v.simd),
    allowance: c.maxSteps * 4 + LONGEST_STRING_RUN,
  };
}

const ENTRY_BYTES = 32;

export interface StagedBatch {
  /** Control block (index 0, count, serial) and the descriptors + staged memory. */
  readonly writes: MemoryRegion[];
  readonly count: number;
  /** Stamped on every record of the batch (RECORD.serial). */
  readonly serial: bigint;
  /** Some case uses x87/MMX/SSE state: every case starts from the clean state and its record hashes the state it leaves. */
  readonly simd: boolean;
  /** The staged cases, in order (`count` of them). */
  readonly images: readonly CaseImage[];
  /** A generous instruction budget for the whole batch (runner overhead plus every case's allowance). */
  readonly budget: number;
}

/**
 * Stage the first cases of `cases` (all batch-eligible) that fit: at most BATCH.maxCases, and
 * as many as the staging area holds. `count` says how many were staged. `serial` must differ
 * from the serial of the batch a target ran before (BatchScreen counts them).
 */
export function stageBatch(all: readonly Case[], caseDone: bigint, serial = 0n): StagedBatch {
  const cases = all.slice(0, BATCH.maxCases);
  const base = BATCH.descs;
  const chunks: Uint8Array[] = [];
  const images: CaseImage[] = [];
  // descriptors are sized for every candidate; the ones past the last case that fits stay unused
  let cursor = base + BigInt(cases.length * BATCH.descBytes);
  const descs = new Uint8Array(cases.length * BATCH.descBytes);
  const dv = new DataView(descs.buffer);
  let budget = 0;
  for (const [i, c] of cases.entries()) {
    const image = caseImage(c, caseDone);
    const entries = image.copies;
    const hashes = image.hashes;
    const lists = new Uint8Array(entries.length * ENTRY_BYTES + hashes.length * 16);
    const payloadBytes = entries.reduce((n, e) => n + (e.kind === 'bytes' ? e.bytes.length : 0), 0);
    if (cursor + BigInt(lists.length + payloadBytes) > BATCH.areaEnd) break;
    const d = i * BATCH.descBytes;
    for (let k = 0; k < 32; k++) dv.setUint32(d + DESC.gpr + 4 * k, image.gpr[k]!, true);
    dv.setBigUint64(d + DESC.rflags, image.rflags, true);
    dv.setBigUint64(d + DESC.fsBase, image.fsBase, true);
    dv.setBigUint64(d + DESC.gsBase, image.gsBase, true);
    dv.setBigUint64(d + DESC.rip, image.rip, true);
    const lv = new DataView(lists.buffer);
    const copyPtr = cursor;
    const hashPtr = cursor + BigInt(entries.length * ENTRY_BYTES);
    let data = cursor + BigInt(lists.length);
    const payload: Uint8Array[] = [];
    entries.forEach((e, k) => {
      const o = k * ENTRY_BYTES;
      lv.setBigUint64(o, BigInt(e.addr), true);
      if (e.kind === 'bytes') {
        lv.setBigUint64(o + 8, data, true);
        lv.setBigUint64(o + 16, BigInt(e.bytes.length / 8), true);
        payload.push(e.bytes);
        data += BigInt(e.bytes.length);
        budget += e.bytes.length / 8;
      } else {
        lv.setBigUint64(o + 8, e.kind === 'fill' ? COPY_SOURCE.fill : COPY_SOURCE.xorshift, true);
        lv.setBigUint64(o + 16, BigInt(e.qwords), true);
        lv.setUint32(o + 24, e.lo, true);
        lv.setUint32(o + 28, e.hi, true);
        budget += e.kind === 'fill' ? e.qwords : e.qwords * XORSHIFT_QWORD_INSNS;
      }
    });
    hashes.forEach((h, k) => {
      lv.setBigUint64(entries.length * ENTRY_BYTES + k * 16, BigInt(h.addr), true);
      lv.setBigUint64(entries.length * ENTRY_BYTES + k * 16 + 8, BigInt(h.qwords), true);
      budget += h.qwords * 5;
    });
    dv.setBigUint64(d + DESC.copyCount, BigInt(entries.length), true);
    dv.setBigUint64(d + DESC.copyPtr, copyPtr, true);
    dv.setBigUint64(d + DESC.hashCount, BigInt(hashes.length), true);
    dv.setBigUint64(d + DESC.hashPtr, hashPtr, true);
    chunks.push(lists, ...payload);
    cursor = data;
    budget += PER_CASE_OVERHEAD + image.allowance;
    images.push(image);
  }
  const count = images.length;
  const simd = images.some((i) => i.simd);
  const staged = new Uint8Array(Number(cursor - base));
  staged.set(descs, 0);
  let off = descs.length;
  for (const ch of chunks) {
    staged.set(ch, off);
    off += ch.length;
  }
  const ctrl = new Uint8Array(32);
  new DataView(ctrl.buffer).setBigUint64(CTRL.count, BigInt(count), true);
  new DataView(ctrl.buffer).setBigUint64(CTRL.serial, serial, true);
  new DataView(ctrl.buffer).setBigUint64(CTRL.simd, simd ? 1n : 0n, true);
  // FXRSTOR, FXSAVE and the 52-qword checksum per case
  if (simd) budget += count * 2 * (6 + 4 * 52);
  return { writes: [{ addr: BATCH.ctrl, bytes: ctrl }, { addr: base, bytes: staged }], count, serial, simd, images, budget };
}

/** Control transfers: with one, the code does not run straight through once. */
const CONTROL_FLOW = /^(j|call|ret|loop|int|iret|sys|hlt|ud)/;

/**
 * RFLAGS bits left undefined at the end of a case that runs straight through: for each flag, the
 * last instruction that modifies it leaves it undefined (iced-x86's flag info, as the per-case
 * lockstep masks them instruction by instruction). Undefined when the code has control flow, so
 * that which instruction wrote a flag last cannot be told from the bytes alone. A difference
 * that flows on into registers or memory (ADC, SETcc, PUSHF…) still shows there; as in any
 * block-mode comparison, a flag that differed mid-case and was overwritten later does not.
 */
export function finalUndefinedFlags(c: Case): bigint | undefined {
  const decoded = decodedCode(c);
  if (decoded.some((d) => d.invalid || CONTROL_FLOW.test(d.mnemonic))) return undefined;
  let mask = 0n;
  for (const d of decoded) mask = (mask & ~BigInt(d.modified)) | BigInt(d.undefined);
  return mask;
}
