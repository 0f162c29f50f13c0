/**
 * The features an analysis flips, in the order a group key lists them: the mnemonic first, then
 * prefixes, operand forms and immediates, then input state, then value classes (never in a key).
 */
import type { FeatureDefinition, FeatureInstance } from './feature.js';
import {
  DIRECTION_FEATURE, IMMEDIATE_COUNT_FEATURE, MEMORY_FEATURE, NEGATIVE_IMMEDIATE_FEATURE, REGISTER_FEATURE, RIP_RELATIVE_FEATURE,
  SHIFT_COUNT_FEATURE,
} from './flips-operand.js';
import { ADDRESS_SIZE_FEATURE, LOCK_FEATURE, OPERAND_SIZE_FEATURE, REP_FEATURE, REX_FEATURE, SEGMENT_FEATURE } from './flips-prefix.js';
import { CONDITION_FEATURE, FLAG_IN_FEATURE } from './flips-state.js';
import { UPPER_HALF_FEATURE } from './flips-value.js';
import { MNEMONIC_FEATURE } from './siblings.js';
import type { Subject } from './subject.js';

export const FEATURES: readonly FeatureDefinition[] = [
  MNEMONIC_FEATURE,
  REX_FEATURE,
  OPERAND_SIZE_FEATURE,
  ADDRESS_SIZE_FEATURE,
  SEGMENT_FEATURE,
  LOCK_FEATURE,
  REP_FEATURE,
  MEMORY_FEATURE,
  REGISTER_FEATURE,
  RIP_RELATIVE_FEATURE,
  DIRECTION_FEATURE,
  NEGATIVE_IMMEDIATE_FEATURE,
  IMMEDIATE_COUNT_FEATURE,
  SHIFT_COUNT_FEATURE,
  FLAG_IN_FEATURE,
  CONDITION_FEATURE,
  UPPER_HALF_FEATURE,
];

export interface PresentFeature extends FeatureInstance {
  readonly definition: FeatureDefinition;
}

/** Every feature present in the subject's instruction and state, in FEATURES order. */
export function presentFeatures(s: Subject): PresentFeature[] {
  return FEATURES.flatMap((definition) => definition.instances(s).map((f) => ({ ...f, definition })));
}

/**
 * Features implied by another one: a RIP-relative operand, or a memory source/destination, is
 * a memory operand, so "memory operand" adds nothing to a key that has them.
 */
export function withoutImplied(names: readonly string[]): string[] {
  const impliesMemory = names.some((n) => n === 'RIP-relative' || n === 'memory source' || n === 'memory destination');
  return names.filter((n) => !(impliesMemory && n === 'memory operand'));
}
