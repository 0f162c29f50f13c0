import { EmulatorTarget } from '../emulator/emulator-target.js';
import type { ExecutionTarget } from '../target/execution-target.js';
import { UsageError } from '../util/errors.js';

/** Planted bugs (mutants) the emulator can be built with, for proving the harness finds them. */
export const MUTANT_NAMES: readonly string[] = [];

export function createEmulatorDut(inject: readonly string[]): ExecutionTarget {
  for (const name of inject) {
    if (!MUTANT_NAMES.includes(name)) {
      throw new UsageError(`unknown --inject '${name}'; valid mutants: ${MUTANT_NAMES.join(', ') || '(none yet)'}`);
    }
  }
  return new EmulatorTarget();
}
