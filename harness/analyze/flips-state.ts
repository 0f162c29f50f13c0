/**
 * Input flags: each RFLAGS bit the instruction reads, at the value it had. The flip inverts that
 * bit in the 1-instruction case's initial RFLAGS.
 */
import { RFLAGS } from '../asm/decode.js';
import { expectSameOperands } from './expectations.js';
import { NEEDS_ISOLATION, type FeatureDefinition, type FeatureInstance } from './feature.js';
import type { Subject } from './subject.js';
import type { Plans } from './variant.js';

const INPUT_FLAGS = ['CF', 'PF', 'AF', 'ZF', 'SF', 'OF', 'DF'] as const;

/** The input flags of `s` at their values, as feature instances. */
function inputFlags(s: Subject) {
  return INPUT_FLAGS.filter((f) => s.view.decoded.flags.read & RFLAGS[f]).map((f) => {
    const value = s.before.rflags & BigInt(RFLAGS[f]) ? 1 : 0;
    return { name: `${f} in = ${value}`, text: `${f} is ${value} on entry` };
  });
}

function flipFlag(s: Subject, f: FeatureInstance): Plans {
  if (!s.isolated) return NEEDS_ISOLATION;
  const bit = BigInt(RFLAGS[f.name.slice(0, 2) as (typeof INPUT_FLAGS)[number]]);
  const value = s.before.rflags & bit ? 0 : 1;
  return [{ change: `${f.name.slice(0, 2)} in → ${value}`, rflags: s.before.rflags ^ bit, expect: expectSameOperands() }];
}

/** Flags an instruction computes with (CF into ADC/SBB/RCL/RCR, DF into string operations). */
export const FLAG_IN_FEATURE: FeatureDefinition = {
  kind: 'state',
  instances: (s) => (s.view.conditional ? [] : inputFlags(s)),
  plans: flipFlag,
};

/**
 * The flags of a condition (CMOVcc, SETcc, Jcc): flipping one mostly says whether the move or
 * the jump happens, and a bug in the operand it moves cannot show when it does not. A value
 * class, then, reported but never keyed on (a bug in the condition itself is keyed on the mnemonic).
 */
export const CONDITION_FEATURE: FeatureDefinition = {
  kind: 'value',
  instances: (s) => (s.view.conditional ? inputFlags(s) : []),
  plans: flipFlag,
};
