import type { KernelQemu, RunOutcome } from '../../oracle/qemu/kernel-qemu.js';
import { compareStates } from '../compare.js';
import type { CheckpointResult } from './checkpoint.js';
import type { LockstepEnd, LockstepOptions, LockstepResult, Mismatch } from './gdb-lockstep.js';
import { codeBitness, instructionInfo } from './instruction-info.js';
import { kernelQemuDut } from './pair-dut.js';
import { compareQemuRam } from './qemu-pair-lockstep.js';
import { StepHistory } from './step-history.js';

/**
 * `--dut qemu --channel block`: QEMU against a second QEMU over a whole boot, at QEMU's own speed.
 * Under -icount both execute the same instruction stream, so nothing is stepped: both run freely
 * to the same exact instruction count (KernelQemu.runToIcount), every `checkpointEvery`
 * instructions, and there everything is compared: registers, descriptor caches, control and
 * table registers, x87/SSE state, and all of RAM. A difference is reported at the first
 * checkpoint that shows it, with the stretch it happened in (the gdb-channel pair, --from the last
 * clean count, narrows it to the instruction). This is the check that the boot is deterministic
 * and that the harness reaches the same machine twice, to BOOT-OK and the power-off.
 */

/** A checkpoint interval when none is given (the CLI's 100,000 suits a lockstep, not this). */
export const PAIR_CHECKPOINT_DEFAULT = 100_000_000;
/** Below this a stretch costs more in exact stops (~0.5 s each) than in running. */
const PAIR_CHECKPOINT_MIN = 1_000_000;

/**
 * Both QEMUs run to exactly the same instruction count, `target` or, when a late stop carried one
 * past it (runToIcount's 'budget'; likelier with two QEMUs sharing the cores), the count that one
 * reached: the other is brought there (the last stretch by gdb single steps, exact).
 */
export async function runBothTo(a: KernelQemu, b: KernelQemu, target: number): Promise<[RunOutcome, RunOutcome]> {
  let [ra, rb] = await Promise.all([a.runToIcount(target), b.runToIcount(target)]);
  for (let tries = 0; tries < 4 && ra.kind !== 'shutdown' && rb.kind !== 'shutdown' && ra.icount !== rb.icount; tries++) {
    if (ra.icount < rb.icount) ra = await a.runToIcount(rb.icount);
    else rb = await b.runToIcount(ra.icount);
  }
  return [ra, rb];
}

export class QemuPairCheckpoints {
  private readonly checkpoints: CheckpointResult[] = [];

  constructor(
    private readonly oracle: KernelQemu,
    private readonly dut: KernelQemu,
    /** Reads a QEMU's serial console so far (for --until boot-ok: both must print the marker). */
    private readonly consoles: { readonly oracle: () => Promise<string>; readonly dut: () => Promise<string> },
  ) {}

  async run(options: LockstepOptions = {}): Promise<LockstepResult> {
    const t0 = performance.now();
    const icountStart = await this.oracle.icount();
    const every = Math.max(PAIR_CHECKPOINT_MIN, options.checkpointEvery || PAIR_CHECKPOINT_DEFAULT);
    const last = Math.min(options.untilIcount ?? Number.MAX_SAFE_INTEGER, icountStart + (options.maxSteps ?? Number.MAX_SAFE_INTEGER));
    let icount = icountStart;
    let end: LockstepEnd = 'budget';
    let error: string | undefined;
    let mismatch: Mismatch | undefined;
    let finalState = await this.oracle.target.readState({ system: true });
    try {
      for (;;) {
        if (options.shouldStop?.()) {
          end = 'interrupted';
          break;
        }
        const target = Math.min(icount + every, last);
        const [a, b] = await runBothTo(this.oracle, this.dut, target);
        const shutdown = a.kind === 'shutdown' || b.kind === 'shutdown';
        if (!shutdown && a.icount !== b.icount) throw new Error(`the two QEMUs could not be stopped at the same instruction near ${target.toLocaleString('en-US')} (${a.icount.toLocaleString('en-US')} and ${b.icount.toLocaleString('en-US')})`);
        const t = performance.now();
        const [qs, ds] = shutdown ? [undefined, undefined] : await Promise.all([this.oracle.target.readState({ system: true }), this.dut.target.readState({ system: true })]);
        const systemDiffs = qs && ds ? compareStates(qs, ds) : [];
        // one shut down and the other did not, or at another instruction
        if (shutdown && a.kind !== b.kind) systemDiffs.push({ path: 'shutdown', width: 1, expected: a.kind === 'shutdown' ? 1n : 0n, actual: b.kind === 'shutdown' ? 1n : 0n });
        else if (shutdown && a.icount !== b.icount) systemDiffs.push({ path: 'icount', width: 64, expected: BigInt(a.icount), actual: BigInt(b.icount) });
        const { pagesDiffering, memory } = shutdown ? { pagesDiffering: 0, memory: [] } : await compareQemuRam(this.oracle, kernelQemuDut(this.dut));
        icount = a.icount;
        this.checkpoints.push({ index: icount - icountStart, ms: performance.now() - t, pagesDiffering, systemDiffs });
        if (qs) finalState = qs;
        if (systemDiffs.length || pagesDiffering) {
          const state = qs ?? finalState;
          const bytes = await this.oracle.target.readMemory(state.rip, 15, 'virt').catch(() => new Uint8Array(0));
          mismatch = {
            index: icount - icountStart, icount, rip: state.rip, info: instructionInfo(state.rip, bytes, codeBitness(state)), before: state, expected: state, actual: ds ?? state,
            diffs: systemDiffs, memory, devices: [], qemuStop: { kind: 'step' }, emulatorStop: { kind: 'step' }, flagMask: 0n, found: 'checkpoint',
          };
          end = 'mismatch';
          break;
        }
        options.onProgress?.({ compared: icount - icountStart, rip: finalState.rip, icount });
        if (shutdown) {
          end = 'shutdown';
          break;
        }
        if (options.untilSerial) {
          const [oc, dc] = await Promise.all([this.consoles.oracle(), this.consoles.dut()]);
          if (oc.includes(options.untilSerial) && dc.includes(options.untilSerial)) {
            end = 'until';
            break;
          }
        }
        if (icount >= last) {
          end = options.untilIcount !== undefined && icount >= options.untilIcount ? 'until' : 'budget';
          break;
        }
      }
    } catch (err) {
      end = 'error';
      error = (err as Error).message.split('\n')[0];
    }
    const compared = icount - icountStart;
    return {
      end,
      error,
      compared,
      mismatch,
      rules: new Map(),
      masked: new Map(),
      history: new StepHistory(),
      lastIndex: compared - 1,
      icountStart,
      icountEnd: icount,
      seconds: (performance.now() - t0) / 1000,
      checkpoints: this.checkpoints,
      finalState,
    };
  }
}
