/**
 * What a candidate did, read from its record (explore-layout.ts REC), and how two records are
 * compared: the instruction's length (from where the fetch faulted or where the single-step trap
 * left RIP), the exception it raised, and its effect (registers, RFLAGS, data selectors, the data
 * page, x87/SSE), with RFLAGS bits the SDM leaves undefined masked, and the results of
 * RDTSC/RDTSCP/RDRAND/RDSEED followed from QEMU as the campaign's sync rules declare.
 */
import { GPR_BY_ENCODING } from '../../contracts/machine-state.js';
import { followedFields, resultRuleFor } from '../sync-rules.js';
import { CODE_PAGE_END, REC } from './explore-layout.js';
import { NEEDS_MORE } from './tunnel.js';

const TWO32 = 4294967296;
const DB = 1;
const PF = 14;
const END = Number(CODE_PAGE_END);

const qword = (w: Uint32Array, q: number) => w[2 * q]! + w[2 * q + 1]! * TWO32;
const big = (w: Uint32Array, q: number) => (BigInt(w[2 * q + 1]!) << 32n) | BigInt(w[2 * q]!);

/** #PF error code bit I/D: the access was an instruction fetch (reported with EFER.NXE set, as in the explore machine). */
const PF_FETCH = 0x10;

/** The record is the fetch of the candidate's instruction running past its last byte: #PF on the instruction, at the page end, on a fetch (a data access to the page end has the same RIP and CR2). */
function fetchRanPast(words: Uint32Array, length: number): boolean {
  return words[2 * REC.vector] === PF && (words[2 * REC.errorCode]! & PF_FETCH) !== 0 && qword(words, REC.rip) === END - length && qword(words, REC.cr2) === END;
}

/**
 * The walk's view of a record (explore/tunnel.ts outcomes): `F` the fetch ran past the candidate's
 * bytes, `tL` it retired with length L, `b` it retired and branched, `xV` it raised vector V,
 * `yV` vector V elsewhere than at the instruction (after it let execution run on).
 */
export function fingerprint(words: Uint32Array, length: number): string {
  const vector = words[2 * REC.vector]!;
  const rip = qword(words, REC.rip);
  const start = END - length;
  if (fetchRanPast(words, length)) return NEEDS_MORE;
  if (vector === DB) {
    const l = rip - start;
    return l >= 1 && l <= length ? `t${l}` : 'b';
  }
  return rip === start ? `x${vector}` : `y${vector}`;
}

/**
 * The walk's view of a record (what tunnel.ts compares to decide whether a byte is boring):
 * `F` the fetch ran past the candidate's bytes, `d` it decoded (whatever it then did). The walk
 * steers by length alone, as sandsifter's does: what an instruction does past its decoding can
 * depend on the values of its displacement (a memory operand that faults or not, and QEMU 7.2
 * loads some operands before it raises #UD), and a walk steered by that would never skip through
 * a displacement. Opcode and ModRM bytes are walked value by value anyway; every candidate's
 * exception and effect are compared in full regardless.
 */
export function walkOutcome(words: Uint32Array, length: number): string {
  return fetchRanPast(words, length) ? NEEDS_MORE : 'd';
}

const VECTOR_NAMES: Record<number, string> = { 0: '#DE', 1: '#DB', 3: '#BP', 4: '#OF', 5: '#BR', 6: '#UD', 7: '#NM', 8: '#DF', 10: '#TS', 11: '#NP', 12: '#SS', 13: '#GP', 14: '#PF', 16: '#MF', 17: '#AC', 18: '#MC', 19: '#XM' };

/** Emulator stops that are no exception (native-explore.ts STOP_VECTORS). */
const STOP_NAMES: Record<number, string> = { 0x100: 'triple fault', 0x101: 'internal error', 0x102: 'no exception after 4 instructions', 0x103: 'halted' };

export function vectorName(v: number): string {
  return VECTOR_NAMES[v] ?? STOP_NAMES[v] ?? `vector ${v}`;
}

/** One line: what the candidate did on one side. */
export function describeOutcome(words: Uint32Array, length: number): string {
  const fp = fingerprint(words, length);
  const vector = words[2 * REC.vector]!;
  const err = words[2 * REC.errorCode]!;
  if (fp === NEEDS_MORE) return `needs more than ${length} byte${length === 1 ? '' : 's'} (instruction fetch #PF at the page end)`;
  if (fp.startsWith('t')) return `executes (length ${fp.slice(1)})`;
  if (fp === 'b') return `executes, continues at 0x${big(words, REC.rip).toString(16)}`;
  const name = vectorName(vector);
  const code = [8, 10, 11, 12, 13, 14, 17].includes(vector) ? `(0x${err.toString(16)})` : '';
  const cr2 = vector === PF ? ` at 0x${big(words, REC.cr2).toString(16)}` : '';
  return fp.startsWith('y') ? `runs on, then ${name}${code}${cr2} at 0x${big(words, REC.rip).toString(16)}` : `${name}${code}${cr2}`;
}

export type DisagreementKind = 'length' | 'fault' | 'effect';

export interface RecordComparison {
  /** undefined when the records agree (after masking). */
  readonly kind?: DisagreementKind;
  /** What differs: `length`, `vector`, `error code`, `CR2`, `RIP`, register names, `RFLAGS (CF,ZF)`, `memory`, `x87/SSE`, selectors. */
  readonly fields: readonly string[];
  /** RFLAGS bits that differed but are undefined for the instruction, or followed by a sync rule's name. */
  readonly masked: readonly string[];
}

/** What the comparison needs to know of the instruction (from iced-x86), when it decodes. */
export interface InstructionInfo {
  readonly mnemonic: string;
  readonly text: string;
  /** RFLAGS bits the SDM leaves undefined after it. */
  readonly undefinedFlags: number;
}

const FLAG_BITS: ReadonlyArray<[string, number]> = [['CF', 0x1], ['PF', 0x4], ['AF', 0x10], ['ZF', 0x40], ['SF', 0x80], ['TF', 0x100], ['IF', 0x200], ['DF', 0x400], ['OF', 0x800], ['NT', 0x4000], ['RF', 0x10000], ['AC', 0x40000]];

function flagList(mask: number): string {
  const names = FLAG_BITS.filter(([, b]) => mask & b).map(([n]) => n);
  const rest = mask & ~FLAG_BITS.reduce((a, [, b]) => a | b, 0);
  if (rest) names.push(`0x${rest.toString(16)}`);
  return names.join(',');
}

const SELECTOR_NAMES = ['DS', 'ES', 'FS', 'GS'];

/** Compare QEMU's record with the emulator's for a candidate of `length` bytes. */
export function compareRecords(qemu: Uint32Array, emu: Uint32Array, length: number, info: InstructionInfo | undefined): RecordComparison {
  const fq = fingerprint(qemu, length);
  const fe = fingerprint(emu, length);
  const masked: string[] = [];
  if (fq !== fe) {
    if (fq === NEEDS_MORE || fe === NEEDS_MORE || (fq.startsWith('t') && fe.startsWith('t'))) return { kind: 'length', fields: ['length'], masked };
    const bothRan = (fq.startsWith('t') || fq === 'b') && (fe.startsWith('t') || fe === 'b');
    const fields = [...(qemu[2 * REC.vector] !== emu[2 * REC.vector] ? ['vector'] : []), ...(big(qemu, REC.rip) !== big(emu, REC.rip) ? ['RIP'] : [])];
    return { kind: bothRan ? 'effect' : 'fault', fields, masked };
  }
  const fields: string[] = [];
  const executed = fq.startsWith('t') || fq === 'b';
  if (!executed) {
    if (qemu[2 * REC.errorCode] !== emu[2 * REC.errorCode]) fields.push('error code');
    if (big(qemu, REC.cr2) !== big(emu, REC.cr2)) fields.push('CR2');
  }
  if (big(qemu, REC.rip) !== big(emu, REC.rip)) fields.push('RIP');
  const rule = executed ? resultRuleFor(info?.mnemonic) : undefined;
  const followed = rule && info ? followedFields(rule, info.text) : [];
  GPR_BY_ENCODING.forEach((name, i) => {
    let a = big(qemu, REC.gpr + i);
    let b = big(emu, REC.gpr + i);
    const f = followed.find((x) => x.gpr === name);
    if (f) {
      const mask = f.bits === 64 ? (1n << 64n) - 1n : (1n << BigInt(f.bits)) - 1n;
      if ((a ^ b) & mask) masked.push(rule!.name);
      a &= ~mask;
      b &= ~mask;
    }
    if (a !== b) fields.push(name);
  });
  const fa = qemu[2 * REC.rflags]! ^ emu[2 * REC.rflags]!;
  const undefinedFlags = (executed ? (info?.undefinedFlags ?? 0) : 0) | (rule ? rule.flags : 0);
  if (fa & ~undefinedFlags) fields.push(`RFLAGS (${flagList(fa & ~undefinedFlags)})`);
  if (fa & undefinedFlags) masked.push(`RFLAGS (${flagList(fa & undefinedFlags)})`);
  for (let s = 0; s < 4; s++) {
    const shift = 16 * (s % 2);
    const w = 2 * REC.selectors + (s >> 1);
    if (((qemu[w]! >>> shift) & 0xffff) !== ((emu[w]! >>> shift) & 0xffff)) fields.push(SELECTOR_NAMES[s]!);
  }
  if (big(qemu, REC.cs) !== big(emu, REC.cs) || big(qemu, REC.ss) !== big(emu, REC.ss)) fields.push('CS/SS');
  if (big(qemu, REC.memA) !== big(emu, REC.memA) || big(qemu, REC.memB) !== big(emu, REC.memB)) fields.push('memory');
  if (big(qemu, REC.fpuA) !== big(emu, REC.fpuA) || big(qemu, REC.fpuB) !== big(emu, REC.fpuB)) fields.push('x87/SSE');
  if (fields.length === 0) return { fields, masked };
  const faultFields = fields.every((f) => f === 'error code' || f === 'CR2');
  return { kind: faultFields ? 'fault' : 'effect', fields, masked };
}
