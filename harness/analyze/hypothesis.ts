/**
 * A hypothesis: the root cause of one signature's divergence as the experiments found it — the
 * features without which it never diverged (the mnemonic among them when every sibling row
 * agreed or there was none), else the fields that differ and in which direction. Its key is what
 * groups merge on; `matchesHypothesis` lets another signature join without being run.
 */
import type { DivergenceReport, Experiment } from '../campaign-result.js';
import { flagNames, type FieldDiff } from '../compare.js';
import type { FeatureKind } from './feature.js';
import { presentFeatures } from './features.js';
import { subjectOf } from './subject.js';

export interface NecessaryFeature {
  /** e.g. `REX.B`, `0x66`, `CF in = 1`, `SBB` (the mnemonic). */
  readonly name: string;
  /** e.g. `REX.B is set (…)`. */
  readonly text: string;
  readonly kind: FeatureKind;
}

/**
 * How the mnemonic fared: every sibling agreed (necessary), one diverged (not necessary), there
 * was no sibling row to try (necessary, untested), or the deadline came first (not necessary: unknown).
 */
export type MnemonicTest = 'necessary' | 'not-necessary' | 'no-sibling' | 'not-run';

export interface Hypothesis {
  /** The signature whose case was analyzed. */
  readonly signature: string;
  readonly caseId: string;
  /** The analyzed divergent instruction, e.g. `sbb ax, bx`. */
  readonly instruction: string;
  /** Its mnemonic, upper-case. */
  readonly mnemonic: string;
  /** The experiments ran on a 1-instruction case (state features could be flipped). */
  readonly isolated: boolean;
  /** The divergence happened again before the experiments (else none ran). */
  readonly reproduced: boolean;
  /** In FEATURES order, implied ones left out (RIP-relative implies memory operand); no value class. */
  readonly necessary: readonly NecessaryFeature[];
  /** Value classes without which it agreed too ("the memory operand's upper half is nonzero"): said, never keyed on. */
  readonly valueClasses: readonly NecessaryFeature[];
  readonly mnemonicTest: MnemonicTest;
  /** What differs, flags bit by bit with their direction: `rflags.AF 1→0`, `gpr`, `memory`. */
  readonly fields: readonly string[];
  readonly experiments: readonly Experiment[];
  /** What groups merge on: the necessary feature names joined by ` + `, else `fields: …`. */
  readonly key: string;
  /** False when the deadline stopped the experiments early. */
  readonly complete: boolean;
  readonly seconds: number;
  /** Lockstep runs spent (isolation included). */
  readonly runs: number;
  /** Who is who in the text: `QEMU`, `emulator`. */
  readonly labels: { readonly reference: string; readonly dut: string };
}

/** The differing fields of a divergence (or its report), each RFLAGS bit with its direction. */
export function fieldChanges(d: {
  readonly diffs: readonly FieldDiff[];
  readonly memoryDiffs: readonly unknown[];
  readonly expectedException?: { readonly vector: number };
  readonly actualException?: { readonly vector: number };
}): string[] {
  const out = new Set<string>();
  for (const x of d.diffs) {
    if (x.path === 'rflags') {
      const names = flagNames(x.expected ^ x.actual);
      for (const n of names ? names.split(' ') : []) {
        const bit = BigInt(FLAG_BITS[n]!);
        out.add(`rflags.${n} ${x.expected & bit ? 1 : 0}→${x.actual & bit ? 1 : 0}`);
      }
      if (!names) out.add('rflags');
    } else out.add(x.path.replace(/^gpr\..*/, 'gpr').replace(/^sse\.xmm\[\d+\]/, 'xmm'));
  }
  if (d.memoryDiffs.length) out.add('memory');
  if (d.expectedException?.vector !== d.actualException?.vector) {
    out.add(`exception ${d.expectedException?.vector ?? '-'}/${d.actualException?.vector ?? '-'}`);
  }
  return [...out].sort();
}

const FLAG_BITS: Record<string, number> = { CF: 0x1, PF: 0x4, AF: 0x10, ZF: 0x40, SF: 0x80, TF: 0x100, IF: 0x200, DF: 0x400, OF: 0x800 };

export function hypothesisKey(necessary: readonly NecessaryFeature[], fields: readonly string[]): string {
  return necessary.length ? necessary.map((f) => f.name).join(' + ') : `fields: ${fields.join(', ')}`;
}

/** `rflags.AF 1→0` → `rflags.AF differs (QEMU 1, emulator 0)`. */
function fieldText(field: string, labels: Hypothesis['labels']): string {
  const flag = /^(rflags\.\w+) (\d)→(\d)$/.exec(field);
  if (flag) return `${flag[1]} differs (${labels.reference} ${flag[2]}, ${labels.dut} ${flag[3]})`;
  const exception = /^exception (\S+)\/(\S+)$/.exec(field);
  if (exception) return `the exception differs (${labels.reference} ${exception[1]}, ${labels.dut} ${exception[2]})`;
  return `${field} differs`;
}

export function listOf(items: readonly string[], max = 5): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')}…`;
}

/**
 * The sentence a person reads. `mnemonics` are those of the group's signatures (the analyzed
 * one alone when omitted), e.g. "diverges when REX.B is set (…); never without it — in ADD, MOV,
 * SHL… (any mnemonic)" or "rflags.AF differs (QEMU 1, emulator 0) after ADD/SUB/INC; no encoding
 * feature needed".
 */
export function describeHypothesis(h: Hypothesis, mnemonics: readonly string[] = [h.mnemonic]): string {
  const others = h.necessary.filter((f) => f.kind !== 'mnemonic');
  const mnemonic = h.necessary.find((f) => f.kind === 'mnemonic');
  const why = h.mnemonicTest === 'no-sibling' ? 'no sibling row to test it against' : 'every sibling row agrees';
  let text: string;
  if (others.length) {
    text = `diverges when ${others.map((f) => f.text).join(' and ')}; never without ${others.length > 1 ? 'any one of them' : 'it'}`;
    text += mnemonic ? ` — only in ${mnemonic.name} (${why})` : ` — in ${listOf(mnemonics)} (any mnemonic)`;
  } else if (mnemonic) {
    text = `diverges in ${mnemonic.name} whatever its prefixes and operands (${why}); ${h.fields.map((f) => fieldText(f, h.labels)).join(', ')}`;
  } else {
    text = `${h.fields.map((f) => fieldText(f, h.labels)).join(', ')} after ${listOf(mnemonics).replace(/, /g, '/')}; no encoding feature needed`;
    if (h.mnemonicTest === 'no-sibling') text += ` (${h.mnemonic} has no sibling row to test the mnemonic against)`;
  }
  if (h.valueClasses.length) text += `; the values matter too: ${h.valueClasses.map((f) => f.text).join(' and ')}`;
  if (!h.reproduced) text += ' [the divergence did not reproduce: no experiment ran]';
  else if (!h.isolated) text += ' [no 1-instruction case: state features untested]';
  if (!h.complete) text += ' [experiments cut short by the deadline]';
  return text;
}

/**
 * Does `report`'s divergence fit the hypothesis, judged from its divergent instruction's bytes
 * and the state before it (nothing is run)? Its own signature always does; otherwise every
 * necessary feature must be present, or — for a hypothesis with none — the same fields must
 * differ in the same directions.
 */
export function matchesHypothesis(h: Hypothesis, report: DivergenceReport): boolean {
  if (report.signature === h.signature) return true;
  if (h.necessary.length === 0) {
    const fields = fieldChanges(report);
    return fields.length === h.fields.length && fields.every((f, i) => f === h.fields[i]);
  }
  const ins = report.program[report.index];
  const s = ins && subjectOf(ins.bytes, ins.address, report.before, undefined, report.codeBits ?? 64);
  if (!s) return false;
  const present = new Set(presentFeatures(s).map((f) => f.name));
  return h.necessary.every((f) => present.has(f.name));
}
