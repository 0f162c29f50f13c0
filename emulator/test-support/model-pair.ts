import { afterAll, beforeAll } from 'vitest';
import { QemuTarget } from '../../oracle/qemu/qemu-target.js';
import { modelForQemuCpu } from '../cpu/cpu-model.js';
import { EmulatorTarget } from '../emulator-target.js';

/**
 * A real QEMU started with `-cpu <cpu>` and an emulator with the model that `cpu` names, for the
 * spec file that calls this at its top level (the QEMU starts before its tests and stops after).
 */
export function qemuAndEmulatorWith(cpu: string): { readonly qemu: QemuTarget; readonly emu: EmulatorTarget } {
  const pair: { qemu?: QemuTarget; emu?: EmulatorTarget } = {};
  beforeAll(async () => {
    pair.qemu = await QemuTarget.launch({ cpuModel: cpu });
    pair.emu = new EmulatorTarget({ model: modelForQemuCpu(cpu)! });
  }, 60_000);
  afterAll(async () => {
    await pair.qemu?.close();
  });
  return {
    get qemu() {
      return pair.qemu!;
    },
    get emu() {
      return pair.emu!;
    },
  };
}
