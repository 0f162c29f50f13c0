import { EmulatorTarget } from '../emulator/emulator-target.js';
import { MODELED_CPUS, modelForQemuCpu, type CpuModel } from '../emulator/cpu/cpu-model.js';
import { isMutantName, MUTANT_NAMES, setMutants, type MutantName } from '../emulator/mutants.js';
import type { ExecutionTarget } from '../contracts/execution-target.js';
import { UsageError } from '../util/errors.js';

export { MUTANT_NAMES };

/**
 * The emulator's CPU model for QEMU's `--cpu` (default qemu64): both sides must model the same
 * CPU, or every instruction one of them lacks reads as a divergence.
 */
export function emulatorModelFor(cpu = 'qemu64'): CpuModel {
  const model = modelForQemuCpu(cpu);
  if (!model) throw new UsageError(`--cpu '${cpu}' is not a CPU the emulator models; it models ${MODELED_CPUS} (or compare QEMU with itself: --dut qemu)`);
  return model;
}

/** Our emulator as the system under test (modelling QEMU's `cpu`), with the planted bugs named by --inject switched on. */
export function createEmulatorDut(inject: readonly string[], cpu?: string): ExecutionTarget {
  const model = emulatorModelFor(cpu);
  const names: MutantName[] = [];
  for (const name of inject) {
    if (!isMutantName(name)) throw new UsageError(`unknown --inject '${name}'; valid mutants: ${MUTANT_NAMES.join(', ')}`);
    names.push(name);
  }
  setMutants(names);
  const target = new EmulatorTarget({ model });
  return names.length ? Object.assign(target, { name: `emulator+${names.join('+')}` }) : target;
}
