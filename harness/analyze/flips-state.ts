/**
 * State features: each RFLAGS bit the instruction reads (CF into ADC/SBB/RCL, DF into string
 * operations, the condition of a CMOVcc/SETcc/Jcc…) at the value it had. The flip inverts that
 * bit in the 1-instruction case's initial RFLAGS.
 */
import { RFLAGS } from '../asm/decode.js';
import { expectSameOperands } from './expectations.js';
import { NEEDS_ISOLATION, type FeatureDefinition } from './feature.js';

const INPUT_FLAGS = ['CF', 'PF', 'AF', 'ZF', 'SF', 'OF', 'DF'] as const;

export const FLAG_IN_FEATURE: FeatureDefinition = {
  kind: 'state',
  instances: (s) =>
    INPUT_FLAGS.filter((f) => s.view.decoded.flags.read & RFLAGS[f]).map((f) => {
      const value = s.before.rflags & BigInt(RFLAGS[f]) ? 1 : 0;
      return { name: `${f} in = ${value}`, text: `${f} is ${value} on entry` };
    }),
  plans: (s, f) => {
    if (!s.isolated) return NEEDS_ISOLATION;
    const bit = BigInt(RFLAGS[f.name.slice(0, 2) as (typeof INPUT_FLAGS)[number]]);
    const value = s.before.rflags & bit ? 0 : 1;
    return [{ change: `${f.name.slice(0, 2)} in → ${value}`, rflags: s.before.rflags ^ bit, expect: expectSameOperands() }];
  },
};
