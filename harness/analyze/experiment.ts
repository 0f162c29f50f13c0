/**
 * One experiment: a variant run in lockstep (QEMU and the system under test) and what became of
 * the divergence.
 *   agrees            both agree on the variant (and on every resampling of its inputs)
 *   diverges          the same (re-encoded) instruction still diverges
 *   other-divergence  another instruction diverges first. A later one means this instruction
 *                     agreed: that counts as `agrees` for necessity. An earlier one hides it:
 *                     that counts for nothing.
 *   not-applicable    the variant cannot be built or means nothing: it does not decode as
 *                     intended, needs a state edit without a 1-instruction case, or the
 *                     reference faults where the original did not (or no longer faults as it did).
 */
import type { Case } from '../../corpus/case-schema.js';
import type { LockstepResult, LockstepRunner } from '../lockstep.js';
import { instructionIndexAt, caseInstructions } from '../minimize/instructions.js';
import { resampleInputs } from './resample.js';
import type { BuiltVariant } from './variant.js';

export type Outcome = 'agrees' | 'diverges' | 'other-divergence' | 'not-applicable';

export interface ExperimentResult {
  readonly feature: string;
  readonly change: string;
  readonly outcome: Outcome;
  /** Did the analyzed instruction itself agree? (`agrees`, or `other-divergence` after it.) */
  readonly agreedHere: boolean;
}

/**
 * A divergence in RFLAGS bits only (AF expected 1, got 0): a variant that agrees while QEMU's
 * value of those bits equals the DUT's wrong one could not have shown the bug, and does not count.
 */
export interface FlagSymptom {
  /** The differing bits. */
  readonly bits: bigint;
  /** The DUT's (wrong) values of them in the original divergence. */
  readonly wrong: bigint;
}

export interface RunContext {
  readonly runner: LockstepRunner;
  /** Set when the divergence is in RFLAGS only and the experiments run on a 1-instruction case (whose final flags are the instruction's). */
  readonly symptom?: FlagSymptom;
  /** The vector the reference raised at the instruction in the original divergence, if it faulted there. */
  readonly referenceFault?: number;
  /** Input resamplings for a variant that agrees. */
  readonly resamples: number;
  readonly seed: bigint;
  /** False once the deadline has passed: no further run starts. */
  readonly timeLeft: () => boolean;
  /** Counts lockstep runs. */
  readonly counted: () => void;
}

const VECTOR_NAMES: Record<number, string> = { 0: '#DE', 1: '#DB', 3: '#BP', 6: '#UD', 13: '#GP', 14: '#PF', 17: '#AC' };
const vectorName = (v: number): string => VECTOR_NAMES[v] ?? `vector ${v}`;

type Verdict = { outcome: Outcome; agreedHere: boolean; note?: string };

/** Most input draws for a variant whose agreeing runs could not show a flag symptom (QEMU gave the wrong value too). */
const DRAWS_PER_RESAMPLE = 4;

/**
 * A variant must leave the reference doing what it did: faulting where the original did not
 * means the operation never ran, and not faulting (or another vector) where the original did
 * means it is another operation — a #PF that pushed an exception frame is not a register read.
 */
function faultChanged(referenceFault: number | undefined, fault: { vector: number; rip: bigint } | undefined, address: bigint): string | undefined {
  const vector = fault && fault.rip === address ? fault.vector : undefined;
  if (vector === referenceFault) return undefined;
  if (referenceFault === undefined) return `faults on the reference (${vectorName(vector!)}), so the operation never ran`;
  return vector === undefined
    ? `does not fault on the reference as the original did (${vectorName(referenceFault)})`
    : `faults on the reference with ${vectorName(vector)} instead of ${vectorName(referenceFault)}`;
}

function classify(r: LockstepResult, c: Case, index: number, address: bigint, referenceFault: number | undefined): Verdict {
  if (r.outcome === 'match') {
    const changed = faultChanged(referenceFault, r.end === 'exception' ? r.exception : undefined, address);
    return changed ? { outcome: 'not-applicable', agreedHere: false, note: changed } : { outcome: 'agrees', agreedHere: true };
  }
  const d = r.divergence!;
  if (d.rip === address) {
    const changed = faultChanged(referenceFault, d.expectedException, address);
    return changed ? { outcome: 'not-applicable', agreedHere: false, note: changed } : { outcome: 'diverges', agreedHere: false };
  }
  // another instruction: after this one in the code means this one ran and agreed (straight-line
  // code; a loop back could blur it, and generated cases have none)
  const other = instructionIndexAt(caseInstructions(c), d.rip);
  return other > index
    ? { outcome: 'other-divergence', agreedHere: true, note: `instruction ${other} diverges; this one agrees` }
    : { outcome: 'other-divergence', agreedHere: false, note: `instruction ${other} diverges first` };
}

/** A run's verdict and, when it agrees, whether it could have shown the symptom. */
async function runOnce(ctx: RunContext, v: BuiltVariant, c: Case): Promise<Verdict & { informative: boolean }> {
  const address = caseInstructions(c)[v.index]!.address;
  ctx.counted();
  const verdict = classify(await ctx.runner.run(c, { mode: 'block' }), c, v.index, address, ctx.referenceFault);
  if (verdict.outcome !== 'agrees' || !ctx.symptom) return { ...verdict, informative: true };
  const reference = (await ctx.runner.reference.readState()).rflags;
  const visible = ctx.symptom.bits & ~BigInt(v.view.decoded.flags.undefined);
  return { ...verdict, informative: ((reference ^ ctx.symptom.wrong) & visible) !== 0n };
}

/**
 * Run a built variant; when it agrees, draw fresh inputs (while time is left) before believing
 * it: `resamples` of them, more (up to DRAWS_PER_RESAMPLE times as many) while no agreeing run
 * could have shown a flag symptom. If none could, the variant is `not-applicable`.
 */
export async function runExperiment(ctx: RunContext, feature: string, v: BuiltVariant): Promise<ExperimentResult> {
  const change = `${v.plan.change}: ${v.view.decoded.text}`;
  const first = await runOnce(ctx, v, v.case);
  const result = (x: Verdict, extra = ''): ExperimentResult => ({
    feature,
    change: `${change}${x.note ? ` (${x.note})` : ''}${extra}`,
    outcome: x.outcome,
    agreedHere: x.agreedHere,
  });
  if (first.outcome !== 'agrees') return result(first);
  let informative = first.informative;
  const samples = resampleInputs(v, ctx.resamples * (ctx.symptom ? DRAWS_PER_RESAMPLE : 1), ctx.seed);
  let tried = 0;
  for (const s of samples) {
    if ((tried >= ctx.resamples && informative) || !ctx.timeLeft()) break;
    tried++;
    const again = await runOnce(ctx, v, s.case);
    if (again.outcome === 'diverges') return result(again, `; diverges with other inputs: ${s.inputs}`);
    if (again.outcome === 'agrees' && again.informative) informative = true;
  }
  if (!informative) {
    const note = `the symptom could not show: in ${tried + 1} run${tried ? 's' : ''} QEMU's ${symptomText(ctx.symptom!)} was the DUT's wrong value too`;
    return { feature, change: `${change} (${note})`, outcome: 'not-applicable', agreedHere: false };
  }
  return result(first, tried ? `; agrees with ${tried} more input draw${tried > 1 ? 's' : ''} too` : '');
}

function symptomText(s: FlagSymptom): string {
  const names: string[] = [];
  for (const [name, bit] of [['CF', 0x1n], ['PF', 0x4n], ['AF', 0x10n], ['ZF', 0x40n], ['SF', 0x80n], ['OF', 0x800n], ['DF', 0x400n]] as const) {
    if (s.bits & bit) names.push(`${name}=${s.wrong & bit ? 1 : 0}`);
  }
  return names.join(' ');
}

export function notApplicable(feature: string, change: string, why: string): ExperimentResult {
  return { feature, change: `${change} (${why})`, outcome: 'not-applicable', agreedHere: false };
}
