/**
 * Value classes, where they are clearly meaningful: the upper half of a 64-bit operand the
 * instruction reads. Clearing it shows whether the high bits take part in the divergence ("a
 * 64-bit ADD drops its memory source's high half"). A value class explains a divergence but
 * never tells two bugs apart, so it is reported and kept out of group keys.
 */
import type { GprName } from '../../contracts/machine-state.js';
import { GPR_BY_ENCODING } from '../../contracts/machine-state.js';
import { expectSameOperands } from './expectations.js';
import type { FeatureDefinition } from './feature.js';
import { caseMemoryAt, effectiveAddress, gprValue, littleEndian, type Subject } from './subject.js';
import type { VariantPlan } from './variant.js';

const HIGH = 0xffffffff00000000n;

interface UpperHalf {
  readonly operand: number;
  readonly label: string;
  readonly plan: VariantPlan;
}

/** The 64-bit operands read with a nonzero upper half, each with the plan that clears it (1-instruction cases only: their values are known). */
function upperHalves(s: Subject): UpperHalf[] {
  const iso = s.isolated;
  if (!iso) return [];
  const out: UpperHalf[] = [];
  s.view.operands.forEach((o, i) => {
    if (!s.view.operandRead[i] || !('size' in o) || o.size !== 8) return;
    if (o.kind === 'register' && o.gpr !== undefined && o.gpr !== 4 && !s.view.addressRegisters.has(o.gpr)) {
      const value = gprValue(s.before, o.gpr);
      if (!(value & HIGH)) return;
      const name = GPR_BY_ENCODING[o.gpr] as GprName;
      out.push({ operand: i, label: o.name, plan: { change: `upper half of ${o.name} cleared`, regs: { [name]: value & ~HIGH }, hold: [o.gpr], expect: expectSameOperands() } });
    } else if (o.kind === 'memory') {
      const ea = effectiveAddress(o.memory, s.before);
      const bytes = ea === undefined ? undefined : caseMemoryAt(iso, ea, 8);
      if (!bytes || !(littleEndian(bytes) & HIGH)) return;
      const cleared = Uint8Array.from(bytes).fill(0, 4);
      out.push({ operand: i, label: 'the memory operand', plan: { change: 'upper half of the memory operand cleared', memory: [{ addr: ea!, bytes: cleared }], holdMemory: true, expect: expectSameOperands() } });
    }
  });
  return out;
}

export const UPPER_HALF_FEATURE: FeatureDefinition = {
  kind: 'value',
  instances: (s) => upperHalves(s).map((u) => ({ name: `${u.label} upper half ≠ 0`, text: `the upper 32 bits of ${u.label} are nonzero` })),
  plans: (s, f) => {
    const u = upperHalves(s).find((x) => `${x.label} upper half ≠ 0` === f.name);
    return u ? [u.plan] : 'the operand is gone';
  },
};
