import { EmulatorTarget } from '../emulator/emulator-target.js';
import { isMutantName, MUTANT_NAMES, setMutants, type MutantName } from '../emulator/mutants.js';
import type { ExecutionTarget } from '../contracts/execution-target.js';
import { UsageError } from '../util/errors.js';

export { MUTANT_NAMES };

/** Our emulator as the system under test, with the planted bugs named by --inject switched on. */
export function createEmulatorDut(inject: readonly string[]): ExecutionTarget {
  const names: MutantName[] = [];
  for (const name of inject) {
    if (!isMutantName(name)) throw new UsageError(`unknown --inject '${name}'; valid mutants: ${MUTANT_NAMES.join(', ')}`);
    names.push(name);
  }
  setMutants(names);
  const target = new EmulatorTarget();
  return names.length ? Object.assign(target, { name: `emulator+${names.join('+')}` }) : target;
}
