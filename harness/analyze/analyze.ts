/**
 * Root cause by experiment. On a diverging case (ideally minimized), isolate the divergent
 * instruction, then flip one feature of it at a time — encoding (REX bits, prefixes, operand
 * forms, the immediate), input state (flags, shift count), the mnemonic (sibling rows) — and keep
 * the features whose removal makes the divergence go away, with fresh inputs too: "diverges when
 * REX.B is set; never without it". Time-bounded: experiments stop at the deadline and the
 * hypothesis says it is incomplete.
 *
 * Entry points:
 *   analyzeDivergence (here) and isolateDivergence (isolate.ts) run the targets;
 *   uncovered, groupDivergences, annotateReports (group.ts) and matchesHypothesis,
 *   describeHypothesis (hypothesis.ts) are pure: the campaign analyzes uncovered()[0] in a
 *   worker, repeats while its budget lasts, then groups every signature.
 */
import type { Case } from '../../corpus/case-schema.js';
import type { Experiment } from '../campaign-result.js';
import type { Divergence, LockstepRunner } from '../lockstep.js';
import { caseInstructions } from '../minimize/instructions.js';
import { divergenceSignature } from '../signature.js';
import { notApplicable, runExperiment, type ExperimentResult, type FlagSymptom, type RunContext } from './experiment.js';
import { presentFeatures, withoutImplied, type PresentFeature } from './features.js';
import { fieldChanges, hypothesisKey, type Hypothesis, type MnemonicTest, type NecessaryFeature } from './hypothesis.js';
import { isolateDivergence, positionOf } from './isolate.js';
import { seedOf } from './resample.js';
import { MAX_SIBLINGS } from './siblings.js';
import { subjectOf, type Subject } from './subject.js';
import { buildVariant, type VariantBase } from './variant.js';

export interface AnalyzeOptions {
  /** Date.now() after which no further lockstep run starts (worker threads share the wall clock). */
  readonly deadline?: number;
  /** Fresh-input runs of a variant that agrees, before it counts as agreeing (default 3). */
  readonly resamples?: number;
}

export const DEFAULT_RESAMPLES = 3;

interface FeatureOutcome {
  readonly feature: PresentFeature;
  readonly results: ExperimentResult[];
  /** The deadline stopped it before every variant ran. */
  readonly cut: boolean;
}

/** Who is who in hypothesis texts. */
function labels(runner: LockstepRunner): Hypothesis['labels'] {
  const label = (name: string, known: string) => (name.toLowerCase().startsWith(known.toLowerCase()) ? known : name);
  return { reference: label(runner.reference.name, 'QEMU'), dut: label(runner.dut.name, 'emulator') };
}

/**
 * Analyze the divergence `d` of case `c` on `runner` (the reference and the system under test
 * that produced it). A divergence that does not reproduce gets a hypothesis without experiments
 * (`reproduced: false`, keyed on the differing fields); a target that fails (QEMU gone) throws,
 * as it does for any run, and the caller restarts it.
 */
export async function analyzeDivergence(runner: LockstepRunner, c: Case, d: Divergence, options: AnalyzeOptions = {}): Promise<Hypothesis> {
  const t0 = performance.now();
  const deadline = options.deadline;
  const timeLeft = () => deadline === undefined || Date.now() < deadline;
  const signature = divergenceSignature(d);
  let runs = 0;
  const attempt = timeLeft() ? await isolateDivergence(runner, c, d, { deadline }) : { runs: 0 };
  runs += attempt.runs;
  const iso = attempt.isolation;
  let cutShort = !iso && !timeLeft(); // isolation may not have had its runs
  const base = iso ? { case: iso.case, index: 0, divergence: iso.divergence } : { case: c, index: positionOf(c, d.rip), divergence: d };
  const ins = caseInstructions(base.case)[base.index];
  const subject = ins && !ins.invalid ? subjectOf(ins.bytes, ins.address, base.divergence.before, iso?.case, ins.bits) : undefined;

  // Experiments on a divergence that no longer happens would find every feature "necessary":
  // the case they start from must still diverge at that instruction (isolation ran it, or run it now).
  let reproduced = iso?.ran ?? false;
  if (!reproduced) {
    if (timeLeft()) {
      runs++;
      reproduced = ins !== undefined && (await runner.run(base.case, { mode: 'block' })).divergence?.rip === ins.address;
    } else cutShort = true;
  }

  let outcomes: FeatureOutcome[] = [];
  if (subject && ins && reproduced) {
    const expected = base.divergence.expectedException;
    const ctx: RunContext = {
      runner,
      symptom: iso ? flagSymptom(base.divergence) : undefined,
      referenceFault: expected !== undefined && expected.rip === ins.address ? expected.vector : undefined,
      resamples: options.resamples ?? DEFAULT_RESAMPLES,
      seed: seedOf(`${c.id}|${signature}`),
      timeLeft,
      counted: () => runs++,
    };
    outcomes = await flipEach(ctx, subject, { case: base.case, index: base.index, view: subject.view, isolated: iso !== undefined });
    cutShort ||= outcomes.some((o) => o.cut);
  }

  const mnemonicTest = testMnemonic(outcomes.find((o) => o.feature.definition.kind === 'mnemonic'));
  const others = outcomes.filter((o) => o.feature.definition.kind !== 'mnemonic' && isNecessary(o));
  // A mnemonic without a sibling to test it is kept beside other necessary features (PUSH with a
  // negative immediate), not alone: with nothing else found, the differing fields say more than
  // an untested mnemonic, and they keep one bug seen in many such instructions one group.
  const mnemonicNecessary = mnemonicTest === 'necessary' || (mnemonicTest === 'no-sibling' && others.some((o) => o.feature.definition.kind !== 'value'));
  const necessaryNames = withoutImplied(
    [...others, ...outcomes.filter((o) => o.feature.definition.kind === 'mnemonic' && mnemonicNecessary)].map((o) => o.feature.name),
  );
  // in FEATURES order (the mnemonic first), whatever order they ran in
  const found: NecessaryFeature[] = (subject ? presentFeatures(subject) : [])
    .filter((f) => necessaryNames.includes(f.name))
    .map((f) => ({ name: f.name, text: f.text, kind: f.definition.kind }));
  const necessary = found.filter((f) => f.kind !== 'value');
  const fields = fieldChanges(d);
  return {
    signature,
    caseId: c.id,
    instruction: ins?.text ?? d.instruction?.text ?? '(unknown)',
    mnemonic: subject?.view.mnemonic ?? d.instruction?.mnemonic.toUpperCase() ?? '?',
    isolated: iso !== undefined,
    reproduced,
    necessary,
    valueClasses: found.filter((f) => f.kind === 'value'),
    mnemonicTest,
    fields,
    experiments: outcomes.flatMap((o) => o.results).map(({ feature, change, outcome }): Experiment => ({ feature, change, outcome })),
    key: hypothesisKey(necessary, fields),
    complete: !cutShort && subject !== undefined,
    seconds: (performance.now() - t0) / 1000,
    runs,
    labels: labels(runner),
  };
}

/** Flip every present feature of the subject, one variant at a time, until the deadline. */
async function flipEach(ctx: RunContext, subject: Subject, base: VariantBase): Promise<FeatureOutcome[]> {
  const features = presentFeatures(subject);
  // the mnemonic (up to MAX_SIBLINGS sibling rows) is the dearest feature: it runs last
  const order = [...features.filter((f) => f.definition.kind !== 'mnemonic'), ...features.filter((f) => f.definition.kind === 'mnemonic')];
  const outcomes: FeatureOutcome[] = [];
  for (const feature of order) {
    const plans = feature.definition.plans(subject, feature);
    if (typeof plans === 'string') {
      outcomes.push({ feature, results: [notApplicable(feature.name, `${feature.name} not flipped`, plans)], cut: false });
      continue;
    }
    const results: ExperimentResult[] = [];
    let cut = false;
    let ran = 0;
    for (const plan of plans) {
      if (feature.definition.kind === 'mnemonic' && ran >= MAX_SIBLINGS) break;
      const v = buildVariant(base, plan);
      if (typeof v === 'string') {
        // a sibling row that iced reads as another form is skipped quietly: it was never a sibling
        if (feature.definition.kind !== 'mnemonic') results.push(notApplicable(feature.name, plan.change, v));
        continue;
      }
      if (!ctx.timeLeft()) {
        cut = true;
        break;
      }
      ran++;
      results.push(await runExperiment({ ...ctx, seed: ctx.seed ^ seedOf(plan.change) }, feature.name, v));
    }
    outcomes.push({ feature, results, cut });
  }
  return outcomes;
}

/** The divergence's RFLAGS bits and the DUT's values of them, when nothing else differs. */
function flagSymptom(d: Divergence): FlagSymptom | undefined {
  if (d.memoryDiffs.length || d.diffs.some((x) => x.path !== 'rflags')) return undefined;
  if (d.expectedException?.vector !== d.actualException?.vector || d.expectedStop.kind !== d.actualStop.kind) return undefined;
  const bits = d.diffs.reduce((m, x) => m | (x.expected ^ x.actual), 0n);
  const actual = d.diffs[0]?.actual ?? 0n;
  return bits ? { bits, wrong: actual & bits } : undefined;
}

/** Experiments that ran and say something about this instruction (n/a ones, and an earlier instruction diverging, do not). */
const informative = (r: ExperimentResult): boolean => r.outcome !== 'not-applicable' && !(r.outcome === 'other-divergence' && !r.agreedHere);

/** Necessary: at least one variant ran, and with each one the instruction agreed. */
function isNecessary(o: FeatureOutcome): boolean {
  const ran = o.results.filter(informative);
  return ran.length > 0 && ran.every((r) => r.agreedHere);
}

function testMnemonic(o: FeatureOutcome | undefined): MnemonicTest {
  if (!o) return 'not-run';
  const ran = o.results.filter(informative);
  if (ran.length === 0) return o.cut ? 'not-run' : 'no-sibling'; // none, or none that could be built
  if (!ran.every((r) => r.agreedHere)) return 'not-necessary';
  return o.cut ? 'not-run' : 'necessary';
}
