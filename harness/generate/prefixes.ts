/**
 * Legal prefixes for one instruction of a row: LOCK only on rows that allow it with a memory
 * destination, REP/REPE/REPNE only on string rows, and (raw mode only) redundant prefixes that
 * keystone never emits: a second 0x66, an unused REX, a segment override the instruction ignores.
 * Operand-size 0x66 and REX.W follow from the operation size; 0x67 and FS/GS overrides from the
 * memory operand (memory-operand.ts).
 */
import type fc from 'fast-check';
import { G, type Gen } from './gen.js';
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
  return prefixGen(row).arb;
}

const REDUNDANT_GEN: Gen<readonly number[]> = G.oneof<readonly number[]>(
  { weight: 4, gen: G.constant<readonly number[]>([]) },
  { weight: 1, gen: G.array(G.constantFrom<number>(...REDUNDANT_BYTES), { minLength: 1, maxLength: 2 }) },
);
const EMPTY_REX_GEN = G.constantFrom(false, false, false, true);

export function prefixGen(row: IsaRow): Gen<PrefixChoice> {
  const rep: Gen<RepPrefix | undefined> =
    row.rep === 'rep' ? G.constantFrom<RepPrefix | undefined>(undefined, 'rep', 'rep')
      : row.rep === 'repcc' ? G.constantFrom<RepPrefix | undefined>(undefined, 'repe', 'repne')
        : G.constant(undefined);
  return G.record<PrefixChoice & Record<string, unknown>>({
    lock: row.lock ? G.boolean() : G.constant(false),
    rep,
    redundant: REDUNDANT_GEN,
    emptyRex: EMPTY_REX_GEN,
  });
}
