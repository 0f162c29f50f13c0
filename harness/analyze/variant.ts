/**
 * A variant of the analyzed case: the divergent instruction re-encoded and/or the initial state
 * edited, laid out again (RIP-relative operands keep their target), and checked with iced to be
 * the instruction the flip meant before it is ever run.
 */
import type { Case } from '../../corpus/case-schema.js';
import type { GprName, MemoryRegion } from '../../contracts/machine-state.js';
import { rewriteInstruction, caseInstructions, withInstructions, type CodeInstruction } from '../minimize/instructions.js';
import { comparedRegions } from '../lockstep.js';
import type { Expectation } from './expectations.js';
import { viewInstruction, type InstructionView } from './instruction-view.js';

export interface VariantPlan {
  /** What the variant is, for the experiment log, e.g. `REX.B cleared: add rcx, rax (rcx = r9's value)`. */
  readonly change: string;
  /** The divergent instruction's new bytes (unchanged when absent). */
  readonly bytes?: Uint8Array;
  /** The new encoding's RIP-relative target, when it differs from the original's. */
  readonly ripTarget?: bigint;
  /** Initial-state edits (only on a 1-instruction case, whose initial state is the one before the instruction). */
  readonly regs?: Partial<Record<GprName, bigint>>;
  readonly rflags?: bigint;
  readonly memory?: readonly MemoryRegion[];
  /** Regions to compare besides the case's own (memory a flip introduced). */
  readonly compare?: ReadonlyArray<{ readonly addr: bigint; readonly length: number }>;
  /** What the new bytes must decode to. */
  readonly expect: Expectation;
  /** GPR numbers that input resampling must leave alone (a shift count held in range, say). */
  readonly hold?: readonly number[];
  /** Input resampling must leave the memory operand alone too (its value is what the flip set). */
  readonly holdMemory?: boolean;
}

/** Plans for one feature, or why none can be built. */
export type Plans = readonly VariantPlan[] | string;

/** The case the experiments start from and the divergent instruction in it. */
export interface VariantBase {
  readonly case: Case;
  readonly index: number;
  readonly view: InstructionView;
  /** True when `case` is a 1-instruction case started from the state before the instruction. */
  readonly isolated: boolean;
}

export interface BuiltVariant {
  readonly case: Case;
  /** Index of the (re-encoded) divergent instruction. */
  readonly index: number;
  readonly view: InstructionView;
  readonly plan: VariantPlan;
}

const hasStateEdits = (p: VariantPlan): boolean => p.regs !== undefined || p.rflags !== undefined || (p.memory?.length ?? 0) > 0;

/** Build and check a variant; a string says why it cannot be built. */
export function buildVariant(base: VariantBase, plan: VariantPlan): BuiltVariant | string {
  if (hasStateEdits(plan) && !base.isolated) return 'needs a state edit, and the divergence has no 1-instruction case';
  const instructions = caseInstructions(base.case);
  const old = instructions[base.index];
  if (!old) return 'the divergent instruction is not in the case';
  let replaced: CodeInstruction = old;
  if (plan.bytes) {
    const fresh = rewriteInstruction(old, plan.bytes);
    if (!fresh) return `${Buffer.from(plan.bytes).toString('hex')} is not one valid instruction`;
    replaced = plan.ripTarget !== undefined && fresh.ripRelative ? { ...fresh, ripRelative: { ...fresh.ripRelative, target: plan.ripTarget } } : fresh;
  }
  const laidOut = withInstructions(base.case, instructions.map((x, i) => (i === base.index ? replaced : x)));
  if (!laidOut) return 'a relative displacement no longer fits after the re-encoding';
  const placed = caseInstructions(laidOut)[base.index];
  const view = placed && viewInstruction(placed.bytes, placed.address, placed.bits);
  if (!view) return 'the re-encoded instruction does not decode';
  const problem = plan.expect(base.view, view);
  if (problem) return `not the intended instruction: ${problem}`;
  const c: Case = {
    ...laidOut,
    id: `${base.case.id}-variant`,
    regs: { ...laidOut.regs, ...plan.regs },
    rflags: plan.rflags ?? laidOut.rflags,
    memory: [...laidOut.memory, ...(plan.memory ?? [])],
    compare: plan.compare?.length ? [...comparedRegions(laidOut), ...plan.compare] : laidOut.compare,
  };
  return { case: c, index: base.index, view, plan };
}
