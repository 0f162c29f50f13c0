import { QemuTarget } from '../oracle/qemu/qemu-target.js';
import type { ExecutionTarget } from '../contracts/execution-target.js';
import { BatchScreen, runnerWithGuestScrub } from './batch/batch-screen.js';
import type { LockstepRunner } from './lockstep.js';
import { createDut, type DutSpec } from './targets.js';

/** A reference QEMU, a system under test, and the runner between them; closed together. */
export class LockstepSession {
  private constructor(
    readonly reference: QemuTarget,
    readonly dut: ExecutionTarget,
    readonly runner: LockstepRunner,
  ) {}

  /** `timeoutMs`: the reference QEMU's per-request gdb timeout (`--timeout`; the DUT's travels in its spec). */
  static async open(dut: DutSpec, cpuModel?: string, options: { readonly timeoutMs?: number } = {}): Promise<LockstepSession> {
    const reference = await QemuTarget.launch({ cpuModel, timeoutMs: options.timeoutMs });
    try {
      const d = await createDut(dut, cpuModel);
      return new LockstepSession(reference, d, runnerWithGuestScrub(new BatchScreen(reference, d)));
    } catch (err) {
      await reference.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.reference.close(), this.dut.close()]);
  }
}
