import type { Subject } from './subject.js';
import type { Plans } from './variant.js';

/**
 * One encoding or state feature of the divergent instruction that can be flipped. `instances`
 * says whether (and how) the feature is present — from the instruction's bytes and the state
 * before it alone, so that other reports can be tested against a hypothesis without running
 * anything — and `plans` builds the variants that remove it.
 */
export interface FeatureDefinition {
  /**
   * encoding: the bytes change; state: a specific input changes (a flag, a shift count);
   * mnemonic: sibling rows; value: an operand's value class (never part of a group key: that
   * the values matter says nothing about which bug it is).
   */
  readonly kind: FeatureKind;
  readonly instances: (s: Subject) => FeatureInstance[];
  readonly plans: (s: Subject, f: FeatureInstance) => Plans;
}

export type FeatureKind = 'encoding' | 'state' | 'mnemonic' | 'value';

export interface FeatureInstance {
  /** Stable name, used in group keys: `REX.B`, `0x66`, `CF in = 1`, `ADD`. */
  readonly name: string;
  /** How a hypothesis says it: `REX.B is set (it extends ModRM.rm, the base or the opcode register)`. */
  readonly text: string;
}

export const NEEDS_ISOLATION = 'needs a state edit, and the divergence has no 1-instruction case';
