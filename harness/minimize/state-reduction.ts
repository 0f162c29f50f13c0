/**
 * Initial-state reduction driven by ddmin: which registers matter, which bits of their values
 * matter, which memory bytes matter. ddmin finds a 1-minimal set in O(k log k) predicate calls
 * where trying one register / bit / chunk at a time would need k calls per round.
 */
import type { Case } from '../../corpus/case-schema.js';
import type { GprName, MemoryRegion } from '../../contracts/machine-state.js';
import { comparedRegions } from '../lockstep.js';
import type { BudgetedPredicate } from './budgeted-predicate.js';
import { ddmin } from './ddmin.js';

/** Memory is reduced in aligned 8-byte chunks: small enough to isolate a qword operand, few enough to stay cheap. */
export const MEMORY_CHUNK = 8;
/** Bit-level reduction of memory runs on at most this many surviving chunks (each costs ~2·log2(bits) calls). */
const MAX_CHUNKS_FOR_BIT_REDUCTION = 16;

/** One applied reduction and the case it produced (a reduction returns them in order; none = no change). */
export interface AppliedStep {
  readonly step: string;
  readonly case: Case;
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

/** Set bits of `value`, lowest first, so ddmin prefers keeping small values. */
function setBits(value: bigint): bigint[] {
  const out: bigint[] = [];
  for (let bit = 0n; value >> bit; bit++) if ((value >> bit) & 1n) out.push(1n << bit);
  return out;
}

/** The smallest set of `value`'s bits (as a value) for which `fails` still holds; `keep` bits always stay set. */
async function reduceBits(value: bigint, fails: (v: bigint) => Promise<boolean>, predicate: BudgetedPredicate, keep = 0n): Promise<bigint> {
  const bits = setBits(value & ~keep);
  if (bits.length === 0) return value;
  const r = await ddmin(bits, (subset) => fails(subset.reduce((a, b) => a | b, keep)), { budget: predicate.remaining, tryEmpty: true });
  const reduced = r.items.reduce((a, b) => a | b, keep);
  // One bit is left: when any non-zero value will do, 1 reads better than, say, 0x100.
  if (keep === 0n && r.items.length === 1 && reduced !== 1n && (await fails(1n))) return 1n;
  return reduced;
}

/** Drop every initial register that does not matter (back to its default: 0, RSP at the stack top). */
export async function reduceRegisterSet(c: Case, predicate: BudgetedPredicate): Promise<AppliedStep[]> {
  const names = (Object.keys(c.regs) as GprName[]).filter((n) => c.regs[n] !== undefined);
  if (names.length === 0) return [];
  const only = (kept: readonly GprName[]): Case => ({ ...c, regs: Object.fromEntries(kept.map((n) => [n, c.regs[n]])) });
  const r = await ddmin(names, (kept) => predicate.test(only(kept)), { budget: predicate.remaining, tryEmpty: true });
  const dropped = names.filter((n) => !r.items.includes(n));
  return dropped.length ? [{ step: `reset registers that do not matter: ${dropped.join(', ')}`, case: only(r.items) }] : [];
}

/** Each remaining register and RFLAGS reduced to the fewest set bits that still fail (lowest bits preferred). */
export async function reduceRegisterValues(c: Case, predicate: BudgetedPredicate): Promise<AppliedStep[]> {
  let current = c;
  const steps: AppliedStep[] = [];
  for (const name of Object.keys(current.regs) as GprName[]) {
    const value = current.regs[name];
    if (value === undefined || value === 0n) continue;
    const withValue = (v: bigint): Case => ({ ...current, regs: { ...current.regs, [name]: v } });
    const reduced = await reduceBits(value, (v) => predicate.test(withValue(v)), predicate);
    if (reduced !== value) {
      current = withValue(reduced);
      steps.push({ step: `${name} ${hex(value)} → ${hex(reduced)}`, case: current });
    }
  }
  const rflags = current.rflags;
  if (rflags !== undefined && rflags !== 0x2n) {
    // Bit 1 of RFLAGS is reserved and always set.
    const withFlags = (v: bigint): Case => ({ ...current, rflags: v });
    const reduced = await reduceBits(rflags, (v) => predicate.test(withFlags(v)), predicate, 0x2n);
    if (reduced !== rflags) {
      current = withFlags(reduced);
      steps.push({ step: `rflags ${hex(rflags)} → ${hex(reduced)}`, case: current });
    }
  }
  return steps;
}

/**
 * Make the compared memory explicit and make it cover every memory region. Compared regions
 * are zeroed on every reset, so afterwards zeroing or dropping case memory means "these bytes
 * are 0" on every target, instead of "whatever the previous case left there".
 */
export function pinComparedMemory(c: Case): Case {
  const compare = [...comparedRegions(c)];
  for (const m of c.memory) {
    const end = m.addr + BigInt(m.bytes.length);
    const covered = compare.some((r) => r.addr <= m.addr && end <= r.addr + BigInt(r.length));
    if (!covered && m.bytes.length > 0) compare.push({ addr: m.addr, length: m.bytes.length });
  }
  return { ...c, compare };
}

interface Chunk {
  readonly region: number;
  readonly offset: number;
}

function withChunks(c: Case, kept: readonly Chunk[], replace?: { chunk: Chunk; bytes: Uint8Array }): Case {
  const memory = c.memory.map((m, region): MemoryRegion => {
    const bytes = new Uint8Array(m.bytes.length);
    for (const k of kept) if (k.region === region) bytes.set(m.bytes.subarray(k.offset, k.offset + MEMORY_CHUNK), k.offset);
    if (replace?.chunk.region === region) bytes.set(replace.bytes, replace.chunk.offset);
    return { addr: m.addr, bytes };
  });
  return { ...c, memory };
}

/** Regions cut to their non-zero chunks (zero memory needs no region once compared memory is pinned). */
export function trimMemory(c: Case): Case {
  const memory: MemoryRegion[] = [];
  for (const m of c.memory) {
    let first = m.bytes.findIndex((b) => b !== 0);
    if (first < 0) continue;
    first -= first % MEMORY_CHUNK;
    let last = m.bytes.length - 1;
    while (m.bytes[last] === 0) last--;
    const end = Math.min(m.bytes.length, last + MEMORY_CHUNK - (last % MEMORY_CHUNK));
    memory.push({ addr: m.addr + BigInt(first), bytes: m.bytes.slice(first, end) });
  }
  return { ...c, memory };
}

function readChunk(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  return v;
}

function chunkBytes(value: bigint, length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => Number((value >> BigInt(8 * i)) & 0xffn));
}

/** Zero the memory that does not matter (ddmin over 8-byte chunks), reduce the rest bit by bit, trim. */
export async function reduceMemory(c: Case, predicate: BudgetedPredicate): Promise<AppliedStep[]> {
  if (c.memory.length === 0) return [];
  const pinned = pinComparedMemory(c);
  const chunks: Chunk[] = [];
  pinned.memory.forEach((m, region) => {
    for (let offset = 0; offset < m.bytes.length; offset += MEMORY_CHUNK) {
      if (m.bytes.subarray(offset, offset + MEMORY_CHUNK).some((b) => b !== 0)) chunks.push({ region, offset });
    }
  });
  const steps: AppliedStep[] = [];
  const before = c.memory.reduce((n, m) => n + m.bytes.length, 0);
  const r = await ddmin(chunks, (kept) => predicate.test(withChunks(pinned, kept)), { budget: predicate.remaining, tryEmpty: true });
  // The pinned case itself is only known to fail once a candidate built on it has failed.
  let current = r.items.length < chunks.length ? withChunks(pinned, r.items) : pinned;
  if (r.items.length < chunks.length) {
    steps.push({ step: `zero memory that does not matter: ${chunks.length} → ${r.items.length} non-zero ${MEMORY_CHUNK}-byte chunks`, case: current });
  }

  for (const chunk of r.items.slice(0, MAX_CHUNKS_FOR_BIT_REDUCTION)) {
    const region = current.memory[chunk.region]!;
    const bytes = region.bytes.subarray(chunk.offset, chunk.offset + MEMORY_CHUNK);
    const value = readChunk(bytes);
    const withValue = (v: bigint) => withChunks(current, r.items, { chunk, bytes: chunkBytes(v, bytes.length) });
    const reduced = await reduceBits(value, (v) => predicate.test(withValue(v)), predicate);
    if (reduced !== value) {
      current = withValue(reduced);
      steps.push({ step: `memory ${hex(region.addr + BigInt(chunk.offset))}: ${hex(value)} → ${hex(reduced)}`, case: current });
    }
  }

  // Trimming changes nothing the targets see (compared memory is zeroed on reset), but check it anyway.
  const trimmed = trimMemory(current);
  const after = trimmed.memory.reduce((n, m) => n + m.bytes.length, 0);
  if (after < before && (await predicate.test(trimmed))) {
    steps.push({ step: `trim memory: ${before} → ${after} bytes in ${trimmed.memory.length} region(s)`, case: trimmed });
  }
  return steps;
}
