/**
 * "Never without it" needs more than one input. When a variant agrees, the bug may only have
 * been hidden by its operand values (ADC's AF depends on CF in; DEC with these values sets no AF
 * where INC did; a CMOVcc whose condition is false moves nothing), so the variant runs again
 * with fresh data inputs — the registers it reads as data, its memory operand, a condition's
 * flags — keeping everything that makes it the variant: address registers, RSP, what the flip
 * set (a masked shift count, a flipped flag) and the inputs of the other state features (CF into
 * ADC, a CL count). One of those diverging means the feature was not what mattered.
 */
import type { Case } from '../../corpus/case-schema.js';
import { GPR_BY_ENCODING, type GprName, type MemoryRegion } from '../../contracts/machine-state.js';
import { machineForCase } from '../lockstep.js';
import { countsByCl } from './flips-operand.js';
import { caseMemoryAt, effectiveAddress } from './subject.js';
import type { BuiltVariant } from './variant.js';

export interface Resampled {
  readonly case: Case;
  /** The inputs drawn, e.g. `rax=0x…, [0x20010]=0x…`. */
  readonly inputs: string;
}

const M64 = (1n << 64n) - 1n;
/** CF PF AF ZF SF OF. */
const ARITHMETIC_FLAGS = 0x8d5;

/** Values that flip many conditions at once, drawn now and then among the uniform ones. */
const EDGES = [0n, 1n, M64, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffn, 0x80000000n, 0xffn, 0x80n, 0x7fn, 0xfn, 0x10n];

/** splitmix64: small, seedable, good enough to pick operand values. */
function rng(seed: bigint): () => bigint {
  let x = seed & M64;
  return () => {
    x = (x + 0x9e3779b97f4a7c15n) & M64;
    let z = x;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
    return z ^ (z >> 31n);
  };
}

/** A 64-bit seed from text (FNV-1a). */
export function seedOf(text: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const ch of Buffer.from(text)) h = ((h ^ BigInt(ch)) * 0x100000001b3n) & M64;
  return h;
}

/** Bytes that put carries and borrows at nibble and byte edges (AF, CF, OF need them). */
const EDGE_BYTES = [0x00n, 0xffn, 0x0fn, 0xf0n, 0x7fn, 0x80n, 0x01n];

/** A value: uniform, an edge value, or bytes drawn among EDGE_BYTES and random ones. */
function draw(next: () => bigint): bigint {
  const r = next();
  const kind = r & 3n;
  if (kind === 0n) return EDGES[Number((r >> 2n) % BigInt(EDGES.length))]!;
  if (kind === 1n) return next();
  let v = 0n;
  let bits = next();
  for (let i = 0n; i < 64n; i += 8n, bits >>= 4n) {
    const pick = Number(bits & 0xfn);
    v |= (pick < EDGE_BYTES.length ? EDGE_BYTES[pick]! : (r >> (8n + i)) & 0xffn) << i;
  }
  return v;
}

/** `count` copies of the variant with its data inputs redrawn (none when it has no data input). */
export function resampleInputs(v: BuiltVariant, count: number, seed: bigint): Resampled[] {
  // RSP, what the flip holds, a REP count (a random RCX would run a string op off the page) and
  // the inputs of state features (a shift's CL count): redrawing those would remove a condition
  // the divergence may need, and make the flip look necessary when it was not
  const holdRcx = v.view.hasRep || v.view.hasRepne || countsByCl(v.view);
  const hold = new Set([4, ...(v.plan.hold ?? []), ...(holdRcx ? [1] : [])]);
  const data = v.view.registers.filter((r) => r.read && !v.view.addressRegisters.has(r.gpr) && !hold.has(r.gpr)).map((r) => r.gpr);
  const state = machineForCase(v.case).state;
  const mem = v.view.operands[v.view.memoryOperand];
  const ea = mem?.kind === 'memory' ? effectiveAddress(mem.memory, state) : undefined;
  const size = mem?.kind === 'memory' ? Math.min(mem.size, 16) : 0;
  const memoryKnown = !v.plan.holdMemory && ea !== undefined && size > 0 && caseMemoryAt(v.case, ea, size) !== undefined;
  // a condition's flags are redrawn (a CMOVcc that does not move hides what it would have read),
  // unless the flip set them; flags an instruction computes with (CF into ADC) are a state feature: kept
  const flags = v.plan.rflags === undefined && v.view.conditional ? BigInt(v.view.decoded.flags.read & ARITHMETIC_FLAGS) : 0n;
  if (data.length === 0 && !memoryKnown && !flags) return [];
  const next = rng(seed);
  const out: Resampled[] = [];
  for (let k = 0; k < count; k++) {
    const regs: Partial<Record<GprName, bigint>> = {};
    const said: string[] = [];
    for (const n of data) {
      const value = draw(next);
      regs[GPR_BY_ENCODING[n]!] = value;
      said.push(`${GPR_BY_ENCODING[n]}=0x${value.toString(16)}`);
    }
    const memory: MemoryRegion[] = [];
    if (memoryKnown) {
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i += 8) {
        let value = draw(next);
        for (let j = i; j < Math.min(size, i + 8); j++, value >>= 8n) bytes[j] = Number(value & 0xffn);
      }
      memory.push({ addr: ea, bytes });
      said.push(`[0x${ea.toString(16)}]=${Buffer.from(bytes).toString('hex')}`);
    }
    let rflags = v.case.rflags;
    if (flags) {
      rflags = ((rflags ?? 0x2n) & ~flags) | (next() & flags);
      said.push(`rflags=0x${rflags.toString(16)}`);
    }
    out.push({ case: { ...v.case, regs: { ...v.case.regs, ...regs }, rflags, memory: [...v.case.memory, ...memory] }, inputs: said.join(', ') });
  }
  return out;
}
