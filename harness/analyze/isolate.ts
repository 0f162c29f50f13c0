/**
 * The cheapest reduction there is: the divergent instruction alone, started from the reference's
 * state just before it. If that still diverges with the same signature, the case is a
 * 1-instruction case at the cost of one run (two more when earlier instructions wrote memory it
 * reads), and its initial state is exactly the state the experiments want to edit.
 */
import { caseCodeAddress, type Case } from '../../corpus/case-schema.js';
import type { MachineState, MemoryRegion } from '../../contracts/machine-state.js';
import { comparedRegions, type Divergence, type LockstepRunner } from '../lockstep.js';
import { instructionIndexAt, caseInstructions, withInstructions } from '../minimize/instructions.js';
import { divergenceSignature } from '../signature.js';

export interface Isolation {
  /** One instruction, its registers, RFLAGS and FS/GS bases the reference's before it. */
  readonly case: Case;
  readonly divergence: Divergence;
  /**
   * It diverges with the original signature (a true 1-instruction case). Otherwise the same
   * instruction form diverges in the same non-flag fields, with other flags differing: the same
   * bug on other values (a wrong address read, say, finds other bytes there). Good enough for
   * experiments; a minimizer wanting the same signature should check this.
   */
  readonly sameSignature: boolean;
  /** It was run here (false for a divergence at instruction 0, isolated without a run). */
  readonly ran: boolean;
  /** Whose memory it starts from: the case's initial memory, or the reference's just before the instruction. */
  readonly memory: 'initial' | 'before';
}

export interface IsolationAttempt {
  /** Undefined when the instruction alone does not diverge the same way. */
  readonly isolation?: Isolation;
  /** Lockstep runs spent. */
  readonly runs: number;
}

export interface IsolateOptions {
  /** Date.now() after which no further run starts. */
  readonly deadline?: number;
}

/** The divergent instruction of `c` alone, from `before`, with `memory`; undefined if it cannot be laid out. */
export function isolatedCase(c: Case, index: number, before: MachineState, memory: readonly MemoryRegion[]): Case | undefined {
  const ins = caseInstructions(c)[index];
  if (!ins) return undefined;
  const base: Case = {
    ...c,
    id: `${c.id}-isolated`,
    regs: { ...before.gpr },
    rflags: before.rflags,
    fsBase: before.fsBase || undefined,
    gsBase: before.gsBase || undefined,
    // XMM and MXCSR as the instruction found them (the x87 tags cannot be set over gdb: x87 and
    // MMX state starts from the reset state, as in every case)
    sse: before.sse && !isResetSse(before.sse) ? before.sse : undefined,
    memory: [...memory],
    compare: comparedRegions(c),
    expected: undefined,
    provenance: { ...c.provenance, note: `instruction ${index} of ${c.id} alone, from the reference's state before it` },
  };
  return withInstructions(base, [ins]);
}

const isResetSse = (s: NonNullable<MachineState['sse']>): boolean => s.mxcsr === 0x1f80 && s.xmm.every((x) => x === 0n);

/**
 * Position in `c`'s code of the instruction at `rip` (Divergence.index counts instructions
 * retired, and a REP iteration or a loop is one more: it is not a position), or -1.
 */
export function positionOf(c: Case, rip: bigint): number {
  return instructionIndexAt(caseInstructions(c), rip);
}

/** Isolate `d`: at most three runs (the instruction alone; the prefix, to read the reference's memory; the instruction again). */
export async function isolateDivergence(runner: LockstepRunner, c: Case, d: Divergence, options: IsolateOptions = {}): Promise<IsolationAttempt> {
  const signature = divergenceSignature(d);
  const timeLeft = () => options.deadline === undefined || Date.now() < options.deadline;
  // A case with a reset prologue keeps state where a gdb stub cannot write it (MSRs, debug
  // registers, XCR0: the system family): its instruction alone would read what QEMU ran before.
  if (c.keep || c.writesSystemState) return { runs: 0 };
  const instructions = caseInstructions(c);
  const position = instructionIndexAt(instructions, d.rip);
  let runs = 0;
  if (position < 0) return { runs };
  const attempt = async (memory: readonly MemoryRegion[], kind: Isolation['memory']): Promise<Isolation | undefined> => {
    const iso = isolatedCase(c, position, d.before, memory);
    if (!iso || !timeLeft()) return undefined;
    runs++;
    const r = await runner.run(iso, { mode: 'block' });
    const x = r.divergence;
    if (!x || x.rip !== caseCodeAddress(iso)) return undefined;
    const same = divergenceSignature(x);
    if (same === signature) return { case: iso, divergence: x, memory: kind, sameSignature: true, ran: true };
    return withoutFlags(same) === withoutFlags(signature) ? { case: iso, divergence: x, memory: kind, sameSignature: false, ran: true } : undefined;
  };
  if (d.index === 0) {
    // The first instruction retired starts from `before`, and what follows cannot change how it diverged: no run needed.
    const iso = isolatedCase(c, 0, d.before, c.memory);
    return { isolation: iso && { case: iso, divergence: d, memory: 'initial', sameSignature: true, ran: false }, runs };
  }
  const first = await attempt(c.memory, 'initial');
  if (first?.sameSignature || !timeLeft()) return { isolation: first, runs };
  // Earlier instructions may have written memory the divergent one reads: take the reference's.
  // (a REP iteration's or a loop's earlier passes are not replayed: the signature check says whether that mattered)
  const prefix = withInstructions(c, instructions.slice(0, position));
  if (!prefix) return { isolation: first, runs };
  runs++;
  const ran = await runner.run(prefix, { mode: 'block' });
  if (ran.outcome !== 'match' || ran.end !== 'completed') return { isolation: first, runs };
  const regions = [...c.memory.map((m) => ({ addr: m.addr, length: m.bytes.length })), ...comparedRegions(c)];
  const memory: MemoryRegion[] = [];
  for (const r of regions) memory.push({ addr: r.addr, bytes: await runner.reference.readMemory(r.addr, r.length, 'phys') });
  const second = await attempt(memory, 'before');
  return { isolation: second?.sameSignature ? second : first ?? second, runs };
}

/** A signature without its individual flags: `OR r/m8, imm8 rip-rel :: rflags.PF,rflags.SF,memory` → `OR r/m8, imm8 rip-rel :: memory`. */
function withoutFlags(signature: string): string {
  const [form, what = ''] = signature.split(' :: ');
  return `${form} :: ${what.split(',').filter((f) => !f.startsWith('rflags')).join(',')}`;
}
