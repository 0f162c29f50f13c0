import { caseCodeAddress, caseCodeBits, caseMode, type Case, type CaseMode } from '../corpus/case-schema.js';
import type { ExecutionTarget, StopReason } from '../contracts/execution-target.js';
import type { MachineState, MemoryRegion } from '../contracts/machine-state.js';
import { buildTestMachine, classifyException, LAYOUT, type ExceptionInfo, type TestMachine } from '../contracts/test-machine.js';
import { buildTestMachine32, LAYOUT32, registerView32 } from '../contracts/test-machine-32.js';
import { buildTestMachine16 } from '../contracts/test-machine-16.js';
import { decodeOne, type DecodedInstruction } from './asm/decode.js';
import { compareMemory, compareStates, type FieldDiff, type MemoryDiff } from './compare.js';
import { followOracle } from './sync-rules.js';

/** The first point where the system under test disagreed with the reference. */
export interface Divergence {
  /** Instructions retired before the divergent one (0-based index of the divergent instruction). */
  readonly index: number;
  readonly rip: bigint;
  readonly instruction: DecodedInstruction | undefined;
  /** Reference state before the divergent instruction. */
  readonly before: MachineState;
  readonly expected: MachineState;
  readonly actual: MachineState;
  readonly diffs: FieldDiff[];
  readonly memoryDiffs: MemoryDiff[];
  readonly expectedStop: StopReason;
  readonly actualStop: StopReason;
  readonly expectedException?: ExceptionInfo;
  readonly actualException?: ExceptionInfo;
  /** RFLAGS bits masked as undefined for this instruction. */
  readonly flagMask: bigint;
}

export interface MaskedFlags {
  readonly mnemonic: string;
  readonly mask: bigint;
}

export type LockstepOutcome = 'match' | 'divergence';

export interface LockstepResult {
  readonly outcome: LockstepOutcome;
  readonly steps: number;
  readonly divergence?: Divergence;
  /** How the run ended on the reference: completed, an exception, budget exhausted… */
  readonly end: 'completed' | 'exception' | 'budget' | 'triple-fault' | 'stopped';
  readonly exception?: ExceptionInfo;
  /** Each instruction whose undefined flags differed and were masked (then synced from the reference). */
  readonly masked: MaskedFlags[];
  /** Each nondeterministic result the DUT took from the reference (RESULT_SYNC_RULES). */
  readonly followed?: Array<{ readonly rule: string; readonly rip: bigint }>;
}

export interface LockstepOptions {
  /** 'block': run both to the end, compare once, step only to locate a difference. 'step': compare after every instruction. */
  readonly mode?: 'block' | 'step';
}

/** Memory compared for a case: its declared regions, or its memory regions plus the top stack page. */
export function comparedRegions(c: Case): Array<{ addr: bigint; length: number }> {
  if (c.compare) return c.compare;
  return [...c.memory.map((m) => ({ addr: m.addr, length: m.bytes.length })), { addr: LAYOUT.stackTop - 0x1000n, length: 0x1000 }];
}

/** The test machine of the case's mode: the 64-bit one, the 32-bit one (legacy protected mode, paging off), or the real-mode one. */
export function machineForCase(c: Case): TestMachine {
  if (caseMode(c) === 'real16') return buildTestMachine16({ code: c.code, memory: c.memory, regs: c.regs, rflags: c.rflags, fsBase: c.fsBase, gsBase: c.gsBase });
  if (caseMode(c) === 'protected32') {
    const m = buildTestMachine32({ code: c.code, memory: c.memory, regs: c.regs, rflags: c.rflags });
    return { ...m, caseMemory: [{ addr: LAYOUT32.code, bytes: c.code }, ...c.memory] };
  }
  return buildTestMachine({ code: c.code, memory: c.memory, regs: c.regs, rflags: c.rflags, fsBase: c.fsBase, gsBase: c.gsBase, sse: c.sse });
}

/**
 * The case's memory, compared regions zeroed where the case does not fill them (so both
 * targets start from the same bytes), and the block-mode trampoline after the code.
 */
function resetMemory(c: Case, machine: TestMachine, withSystem: boolean): MemoryRegion[] {
  const system = withSystem ? machine.memory.slice(0, machine.memory.length - machine.caseMemory.length) : [];
  return coalesce([...system, ...zeroedComparedRegions(c), ...machine.caseMemory, machine.trampoline]);
}

/** Compared regions the case's memory does not fill, as zeros: both targets start from the same bytes. */
export function zeroedComparedRegions(c: Case): MemoryRegion[] {
  const covered = (r: { addr: bigint; length: number }) =>
    c.memory.some((m) => m.addr <= r.addr && m.addr + BigInt(m.bytes.length) >= r.addr + BigInt(r.length));
  return comparedRegions(c)
    .filter((r) => !covered(r))
    .map((r) => ({ addr: r.addr, bytes: new Uint8Array(r.length) }));
}

/** Merge touching or overlapping regions (later ones win): one memory write each instead of several. */
export function coalesce(regions: readonly MemoryRegion[]): MemoryRegion[] {
  const sorted = regions.map((r, order) => ({ r, order })).sort((a, b) => (a.r.addr < b.r.addr ? -1 : a.r.addr > b.r.addr ? 1 : a.order - b.order));
  const out: Array<{ addr: bigint; parts: Array<{ r: MemoryRegion; order: number }>; end: bigint }> = [];
  for (const x of sorted) {
    const last = out[out.length - 1];
    const end = x.r.addr + BigInt(x.r.bytes.length);
    if (last && x.r.addr <= last.end) {
      last.parts.push(x);
      if (end > last.end) last.end = end;
    } else {
      out.push({ addr: x.r.addr, parts: [x], end });
    }
  }
  return out.map((g) => {
    if (g.parts.length === 1) return g.parts[0]!.r;
    const bytes = new Uint8Array(Number(g.end - g.addr));
    for (const p of [...g.parts].sort((a, b) => a.order - b.order)) bytes.set(p.r.bytes, Number(p.r.addr - g.addr));
    return { addr: g.addr, bytes };
  });
}

/** What scrub() zeroes: every page a case can write (stack, code, data). */
export const SCRUBBED = { addr: LAYOUT.stackBase, length: Number(LAYOUT.unmapped - LAYOUT.stackBase) } as const;

/**
 * Runs a case on a reference target (QEMU) and a system under test, and finds the first
 * instruction whose architectural result differs. Undefined flags are masked per instruction
 * (from iced-x86's flag info) and, when they differ, copied from the reference so that the
 * difference does not resurface at the next instruction; every masking is recorded.
 */
export class LockstepRunner {
  /** Which test machine's system pages (tables, handlers) each target holds. */
  private systemLoaded = new WeakMap<ExecutionTarget, CaseMode>();

  constructor(
    readonly reference: ExecutionTarget,
    readonly dut: ExecutionTarget,
  ) {}

  /** Whether the last case run wrote control, debug or model-specific registers. */
  private systemWritten = false;

  private async resetBoth(c: Case, machine: TestMachine): Promise<void> {
    const mode = caseMode(c);
    // A case that writes system state, or follows one, starts from a freshly reset CPU on each side
    // (QEMU: system_reset, then the whole setup): such a case may have left QEMU outside 64-bit
    // mode, with MSRs, debug registers or XCR0 changed, or (having run on in another mode after the
    // emulator faulted) with x87 tags a gdb stub cannot write. A target that cannot reset its CPU
    // redoes its system setup.
    const redo = this.systemWritten || c.writesSystemState === true;
    this.systemWritten = c.writesSystemState === true;
    await Promise.all(
      [this.reference, this.dut].map(async (t) => {
        if (redo) {
          if (t.resetCpuOnNextLoad) t.resetCpuOnNextLoad();
          else t.forgetSystemState?.();
        }
        const first = this.systemLoaded.get(t) !== mode;
        await t.reset(machine.state, resetMemory(c, machine, first));
        this.systemLoaded.set(t, mode);
      }),
    );
  }

  /** Forget what the targets hold (after a target restart, say). */
  invalidate(): void {
    this.systemLoaded = new WeakMap();
  }

  /**
   * Zero the stack, code and data pages on both targets. After any run the targets' memory may
   * differ outside the case's compared regions (a write the comparison does not cover, a run
   * that went further on one side), and a later case that reads such bytes (a string op running
   * past its window, ENTER copying frame pointers) would diverge, or agree, falsely.
   */
  async scrub(mode: CaseMode = 'long64'): Promise<void> {
    await Promise.all(
      [this.reference, this.dut].map(async (t) => {
        // the scrubber's guest loop is 64-bit code, for targets in the 64-bit machine
        if (!(mode === 'long64' && (this.systemLoaded.get(t) ?? 'long64') === 'long64' && this.scrubber && (await this.scrubber(t)))) await t.writeMemory(SCRUBBED.addr, new Uint8Array(SCRUBBED.length), 'phys');
      }),
    );
  }

  /**
   * A faster way to zero the 64-bit test machine's stack, code and data pages on a target (BatchScreen.scrub
   * runs a guest loop); resolves false when it could not, and the pages are then written with zeros.
   */
  scrubber: ((t: ExecutionTarget) => Promise<boolean>) | undefined;

  /**
   * Run a case. Both targets start from a scrubbed test machine (see scrub()), so that a run's
   * verdict depends on the case alone, never on what ran before: a planted bug that stores to a
   * wrong address, or a reference that ran further than the DUT in an earlier block run (a
   * `rep movsb` past its budget), would otherwise change what the next run reads, and a
   * minimizer would chase a divergence that comes and goes.
   */
  async run(c: Case, options: LockstepOptions = {}): Promise<LockstepResult> {
    const machine = machineForCase(c);
    const mode = caseMode(c);
    if ((options.mode ?? 'block') === 'block') {
      await this.scrub(mode);
      const block = await this.runBlock(c, machine);
      if (block) return block;
    }
    await this.scrub(mode);
    return this.runStep(c, machine);
  }

  /** Both targets to the end; undefined when they differ (the caller then steps to locate it). */
  private async runBlock(c: Case, machine: TestMachine): Promise<LockstepResult | undefined> {
    await this.resetBoth(c, machine);
    const stops = [...(machine.blockEndStops ?? [LAYOUT.blockEnd]), ...machine.exceptionStops];
    const [rs, ds] = await Promise.all([this.reference.runUntil(stops, c.maxSteps), this.dut.runUntil(stops, c.maxSteps)]);
    if (rs.kind !== ds.kind) return undefined;
    // A budget means wall-clock time to a gdb stub's continue but retired instructions to the
    // emulator: when it matters, step mode decides, counting retired instructions (each REP
    // iteration one) on both sides alike.
    if (rs.kind === 'limit') return undefined;
    if (rs.kind === 'triple-fault') return { outcome: 'match', steps: -1, end: 'triple-fault', masked: [] };
    const [re, de] = await this.readStates(c);
    // Undefined flags of the last instruction cannot be known without stepping: any rflags
    // difference sends the case to step mode, which masks per instruction.
    if (compareStates(re, de).length) return undefined;
    if ((await this.memoryDiffs(c)).length) return undefined;
    const exception = await classifyException(re, (a, n) => this.reference.readMemory(a, n, 'virt'), frameSlot(c));
    const end = exception ? 'exception' : rs.kind === 'breakpoint' ? 'completed' : 'stopped';
    return { outcome: 'match', steps: -1, end, exception, masked: [] };
  }

  private async memoryDiffs(c: Case): Promise<MemoryDiff[]> {
    const out: MemoryDiff[] = [];
    for (const r of comparedRegions(c)) {
      const [e, a] = await Promise.all([this.reference.readMemory(r.addr, r.length, 'phys'), this.dut.readMemory(r.addr, r.length, 'phys')]);
      out.push(...compareMemory(r.addr, e, a));
    }
    return out;
  }

  /** Both targets' states, 32-bit cases through the register view QEMU's stub gives outside 64-bit code. */
  private async readStates(c: Case): Promise<[MachineState, MachineState]> {
    const [r, d] = await Promise.all([this.reference.readState(), this.dut.readState()]);
    return caseMode(c) === 'long64' ? [r, d] : [registerView32(r), registerView32(d)];
  }

  private instructionAt(c: Case, rip: bigint): DecodedInstruction | undefined {
    const off = rip - caseCodeAddress(c);
    if (off < 0n || off >= BigInt(c.code.length)) return undefined;
    const ins = decodeOne(c.code.subarray(Number(off), Number(off) + 15), rip, caseCodeBits(c));
    return ins.invalid ? undefined : ins;
  }

  private async runStep(c: Case, machine: TestMachine): Promise<LockstepResult> {
    await this.resetBoth(c, machine);
    const masked: MaskedFlags[] = [];
    const followed: Array<{ rule: string; rip: bigint }> = [];
    const readStack = (t: ExecutionTarget) => (a: bigint, n: number) => t.readMemory(a, n, 'virt');
    let before = (await this.readStates(c))[0];
    for (let i = 0; i < c.maxSteps; i++) {
      const ins = this.instructionAt(c, before.rip);
      const flagMask = BigInt(ins?.flags.undefined ?? 0);
      const [rs, ds] = await Promise.all([this.reference.step(), this.dut.step()]);
      const [expected, dutState] = await this.readStates(c);
      let actual = dutState;
      const follow = followOracle(ins, expected, actual);
      if (follow) {
        actual = follow.state;
        followed.push({ rule: follow.rule, rip: before.rip });
        await this.dut.reset(actual, []);
      }
      const diffs = compareStates(expected, actual, { flagMask });
      // memory is compared per instruction only for instructions that may write it
      const memoryDiffs = diffs.length || rs.kind !== 'step' || ds.kind !== 'step' || writesMemory(ins) ? await this.memoryDiffs(c) : [];
      if (diffs.length || memoryDiffs.length || rs.kind !== ds.kind) {
        const [expectedException, actualException] = await Promise.all([
          classifyException(expected, readStack(this.reference), frameSlot(c)).catch(() => undefined),
          classifyException(actual, readStack(this.dut), frameSlot(c)).catch(() => undefined),
        ]);
        return {
          outcome: 'divergence',
          steps: i,
          end: 'stopped',
          masked,
          followed,
          divergence: { index: i, rip: before.rip, instruction: ins, before, expected, actual, diffs, memoryDiffs, expectedStop: rs, actualStop: ds, expectedException, actualException, flagMask },
        };
      }
      if (flagMask && (expected.rflags & flagMask) !== (actual.rflags & flagMask)) {
        masked.push({ mnemonic: ins?.mnemonic ?? '?', mask: (expected.rflags ^ actual.rflags) & flagMask });
        await this.dut.reset({ ...actual, rflags: expected.rflags }, []);
      }
      if (rs.kind === 'triple-fault') return { outcome: 'match', steps: i + 1, end: 'triple-fault', masked, followed };
      const exception = await classifyException(expected, readStack(this.reference), frameSlot(c));
      if (exception) return { outcome: 'match', steps: i + 1, end: 'exception', exception, masked, followed };
      if (expected.rip === machine.endAddress) return { outcome: 'match', steps: i + 1, end: 'completed', masked, followed };
      before = expected;
    }
    return { outcome: 'match', steps: c.maxSteps, end: 'budget', masked, followed };
  }
}

/** Exception frames: 8-byte slots in IA-32e mode, 4-byte ones through the 32-bit machine's gates, 2-byte ones through the IVT. */
const frameSlot = (c: Case): 2 | 4 | 8 => {
  const mode = caseMode(c);
  return mode === 'long64' ? 8 : mode === 'protected32' ? 4 : 2;
};

/** Conservative: anything with a memory operand, a push/call, or a string store may write memory. */
function writesMemory(ins: DecodedInstruction | undefined): boolean {
  if (!ins) return true;
  return /\[|push|call|stos|movs|enter|xchg|cmpxchg|xadd|scas|cmps|lods/.test(ins.text);
}
