/**
 * Legal prefixes for one instruction of a row: LOCK only on rows that allow it with a memory
 * destination, REP/REPE/REPNE only on string rows, and (raw mode only) redundant prefixes that
 * keystone never emits: a second 0x66, an unused REX, a segment override the instruction ignores.
 * Operand-size 0x66 and REX.W follow from the operation size; 0x67 and FS/GS overrides from the
 * memory operand (memory-operand.ts).
 */
import fc from 'fast-check';
import type { IsaRow } from '../../emulator/isa/row.js';

export type RepPrefix = 'rep' | 'repe' | 'repne';

export interface PrefixChoice {
  /** LOCK, if the row allows it and the destination is memory. */
  readonly lock: boolean;
  readonly rep?: RepPrefix;
  /** Raw mode: extra prefix bytes placed before the real ones (ignored by the CPU). */
  readonly redundant: readonly number[];
  /** Raw mode: emit an (empty) REX prefix 0x40 even when no register needs it. */
  readonly emptyRex: boolean;
}

const REDUNDANT_BYTES = [0x2e, 0x3e, 0x26, 0x36] as const; // CS/DS/ES/SS overrides: no effect in 64-bit mode

export function prefixArbitrary(row: IsaRow): fc.Arbitrary<PrefixChoice> {
  const rep: fc.Arbitrary<RepPrefix | undefined> =
    row.rep === 'rep' ? fc.constantFrom<RepPrefix | undefined>(undefined, 'rep', 'rep')
      : row.rep === 'repcc' ? fc.constantFrom<RepPrefix | undefined>(undefined, 'repe', 'repne')
        : fc.constant(undefined);
  return fc.record({
    lock: row.lock ? fc.boolean() : fc.constant(false),
    rep,
    redundant: fc.oneof(
      { weight: 4, arbitrary: fc.constant<number[]>([]) },
      { weight: 1, arbitrary: fc.array(fc.constantFrom(...REDUNDANT_BYTES), { minLength: 1, maxLength: 2 }) },
    ),
    emptyRex: fc.constantFrom(false, false, false, true),
  });
}
