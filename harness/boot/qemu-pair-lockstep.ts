import type { StopReason } from '../../contracts/execution-target.js';
import type { MachineState } from '../../contracts/machine-state.js';
import type { KernelQemu } from '../../oracle/qemu/kernel-qemu.js';
import { compareMemory, compareStates } from '../compare.js';
import { countRule, type RuleCounts } from './boot-rules.js';
import { architecturalCaches, type LockstepEnd, type LockstepOptions, type LockstepResult, type MemoryMismatch, type Mismatch } from './gdb-lockstep.js';
import { codeBitness, instructionInfo, operandAddress, type InsnInfo } from './instruction-info.js';
import { REP_FAST_FORWARD_MIN } from './rep-fast-forward.js';
import { StepHistory } from './step-history.js';
import type { CheckpointResult } from './checkpoint.js';
import { type PairDut, qemuRam } from './pair-dut.js';

/**
 * `--dut qemu`: a second QEMU, booted the same way and stopped at the same start point, as the
 * system under test, through the same gdb-channel comparison (states after every instruction,
 * descriptor caches after system instructions, the bytes each instruction's operands wrote,
 * long REP MOVS/STOS run to their end, all of RAM at the end). Under -icount the two execute the
 * same instruction stream and read the same device values, so nothing is followed: any
 * difference is the harness's, and the run must agree.
 */

const SYSTEM_INSTRUCTION = /^(lgdt|lidt|ltr|lldt|iretq?|retf|lss|lfs|lgs|syscall|sysret|swapgs|wrmsr|int1?|int3)\b|^(mov|pop) (cs|ds|es|fs|gs|ss)\b|^(jmp|call) far\b|^mov cr[0348]/;
const IF = 0x200n;

/** All of QEMU's RAM and the DUT's compared page by page: how many pages differ, and the first 16 differing bytes. */
export async function compareQemuRam(oracle: KernelQemu, dut: PairDut): Promise<{ pagesDiffering: number; memory: MemoryMismatch[] }> {
  const [a, b] = await Promise.all([qemuRam(oracle), dut.ram(oracle.target.qemu.memoryMiB << 20)]);
  let pagesDiffering = 0;
  const A = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const B = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const memory: MemoryMismatch[] = [];
  for (let p = 0; p < a.length; p += 4096) {
    if (A.compare(B, p, p + 4096, p, p + 4096) === 0) continue;
    pagesDiffering++;
    for (const x of compareMemory(BigInt(p), a.subarray(p, p + 4096), b.subarray(p, p + 4096))) if (memory.length < 16) memory.push({ phys: Number(x.addr), lin: undefined, expected: x.expected, actual: x.actual, source: 'checkpoint' });
  }
  return { pagesDiffering, memory };
}

export class QemuPairLockstep {
  private readonly rules: RuleCounts = new Map();
  readonly history = new StepHistory();
  private readonly checkpoints: CheckpointResult[] = [];
  private bitness: 16 | 32 | 64 = 64;

  constructor(
    private readonly oracle: KernelQemu,
    private readonly dut: PairDut,
  ) {}

  private async updateMode(): Promise<void> {
    this.bitness = codeBitness(await this.oracle.target.readState({ system: true }));
  }

  async run(options: LockstepOptions = {}): Promise<LockstepResult> {
    const o = this.oracle.target;
    const d = this.dut.target;
    const t0 = performance.now();
    const icountStart = await this.oracle.icount();
    let before = await o.readState();
    let index = 0;
    let end: LockstepEnd = 'budget';
    let error: string | undefined;
    let mismatch: Mismatch | undefined;
    const maxSteps = options.maxSteps ?? Number.MAX_SAFE_INTEGER;
    const untilAddresses = new Set(options.untilAddresses ?? []);
    await this.updateMode();
    try {
      for (;;) {
        if (options.shouldStop?.()) {
          end = 'interrupted';
          break;
        }
        if ((index > 0 && untilAddresses.has(before.rip)) || index >= maxSteps) {
          end = index >= maxSteps ? 'budget' : 'until';
          break;
        }
        const bytes = await o.readMemory(before.rip, 15, 'virt').catch(() => o.readMemory(before.rip, Number(4096n - (before.rip & 0xfffn)), 'virt'));
        const info: InsnInfo = instructionInfo(before.rip, bytes, this.bitness);
        let oStop: StopReason;
        let dStop: StopReason;
        const count = before.gpr.rcx & ((1n << BigInt(info.repCounter?.bits ?? 64)) - 1n);
        if (info.repCounter && /rep (movs|stos)/.test(info.decoded.text) && !(before.rflags & IF) && count > BigInt(REP_FAST_FORWARD_MIN)) {
          const next = before.rip + BigInt(info.decoded.length);
          const [a, b] = await Promise.all([this.oracle.runTo([next], { maxIcount: Number.MAX_SAFE_INTEGER }), this.dut.runTo([next])]);
          oStop = a.kind === 'breakpoint' ? { kind: 'step' } : { kind: 'limit' };
          dStop = b ? { kind: 'step' } : { kind: 'limit' };
          countRule(this.rules, 'rep-fast-forward');
        } else {
          [oStop, dStop] = await Promise.all([o.step(1), d.step(1)]);
        }
        let [expected, actual] = await Promise.all([o.readState(), d.readState()]);
        const flagMask = BigInt(info.decoded.flags.undefined);
        let diffs = compareStates(expected, actual, { flagMask });
        if (!diffs.length && SYSTEM_INSTRUCTION.test(info.decoded.text)) {
          const [qs, ds] = await Promise.all([o.readState({ system: true }), d.readState({ system: true })]);
          diffs = compareStates(architecturalCaches(qs), architecturalCaches(ds), { flagMask });
          expected = qs;
          actual = ds;
          await this.updateMode();
        }
        const memory: MemoryMismatch[] = [];
        for (const m of info.memory) {
          if (m.access === 'read' || m.access === 'address' || m.size === 0 || info.repCounter) continue;
          const lin = operandAddress(m, before);
          const [eb, ab] = await Promise.all([o.readMemory(lin, m.size, 'virt').catch(() => undefined), d.readMemory(lin, m.size, 'virt').catch(() => undefined)]);
          if (eb && ab) for (const x of compareMemory(lin, eb, ab)) memory.push({ phys: 0, lin: x.addr, expected: x.expected, actual: x.actual, source: 'operand' });
        }
        this.history.keepState(index, before);
        this.history.add({ index, rip: before.rip, bytes: info.decoded.bytes, text: info.decoded.text, reads: [], writes: [], gprsWritten: info.gprsWritten, devices: [], followed: [] });
        if (diffs.length || memory.length || oStop.kind !== dStop.kind) {
          mismatch = { index, icount: await this.oracle.icount(), rip: before.rip, info, before, expected, actual, diffs, memory, devices: [], qemuStop: oStop, emulatorStop: dStop, flagMask, found: 'step' };
          end = 'mismatch';
          break;
        }
        index++;
        before = expected;
        if (oStop.kind === 'triple-fault') {
          end = 'shutdown';
          break;
        }
        if (oStop.kind === 'halted') {
          end = 'halted';
          break;
        }
        if (options.onProgress && index % 256 === 0) options.onProgress({ compared: index, rip: before.rip, icount: await this.oracle.icount() });
      }
      if (end !== 'mismatch' && end !== 'shutdown') {
        const t = performance.now();
        const [qs, ds] = await Promise.all([o.readState({ system: true }), d.readState({ system: true })]);
        const systemDiffs = compareStates(architecturalCaches(qs), architecturalCaches(ds));
        const { pagesDiffering, memory } = await compareQemuRam(this.oracle, this.dut);
        this.checkpoints.push({ index, ms: performance.now() - t, pagesDiffering, systemDiffs });
        if (pagesDiffering || systemDiffs.length) {
          const bytes = await o.readMemory(qs.rip, 15, 'virt').catch(() => new Uint8Array(0));
          mismatch = {
            index, icount: await this.oracle.icount(), rip: qs.rip, info: instructionInfo(qs.rip, bytes, this.bitness), before: qs, expected: qs, actual: ds,
            diffs: systemDiffs, memory, devices: [], qemuStop: { kind: 'step' }, emulatorStop: { kind: 'step' }, flagMask: 0n, found: 'checkpoint',
          };
          end = 'mismatch';
        }
      }
    } catch (err) {
      end = 'error';
      error = (err as Error).message.split('\n')[0];
    }
    const finalState: MachineState = before;
    return {
      end,
      error,
      compared: index,
      mismatch,
      rules: this.rules,
      masked: new Map(),
      history: this.history,
      lastIndex: mismatch ? mismatch.index : index - 1,
      icountStart,
      icountEnd: await this.oracle.icount().catch(() => icountStart),
      seconds: (performance.now() - t0) / 1000,
      checkpoints: this.checkpoints,
      finalState,
    };
  }
}
