import { buildTestMachine, classifyException, type ExceptionInfo, LAYOUT } from '../../contracts/test-machine.js';
import type { GprName, MachineState, MemoryRegion } from '../../contracts/machine-state.js';
import type { StopReason } from '../../contracts/execution-target.js';
import type { CpuModel } from '../cpu/cpu-model.js';
import { EmulatorTarget } from '../emulator-target.js';
import { nasm } from './nasm.js';

export interface RunResult {
  readonly state: MachineState;
  readonly stop: StopReason;
  readonly exception?: ExceptionInfo;
  readonly target: EmulatorTarget;
}

export interface RunOptions {
  readonly regs?: Partial<Record<GprName, bigint>>;
  readonly rflags?: bigint;
  readonly memory?: readonly MemoryRegion[];
  readonly model?: CpuModel;
  readonly maxInstructions?: number;
}

/** Assemble `source` (nasm syntax), run it on the test machine until it ends or an exception stops it. */
export async function run(source: string, options: RunOptions = {}): Promise<RunResult> {
  return runBytes(nasm(source, Number(LAYOUT.code)), options);
}

export async function runBytes(code: Uint8Array, options: RunOptions = {}): Promise<RunResult> {
  const tm = buildTestMachine({ code, regs: options.regs, rflags: options.rflags, memory: options.memory });
  const target = new EmulatorTarget({ model: options.model });
  await target.reset(tm.state, tm.memory);
  const stop = await target.runUntil([tm.endAddress, ...tm.exceptionStops], options.maxInstructions ?? 10_000);
  const state = await target.readState({ system: true });
  const exception = await classifyException(state, (a, n) => target.readMemory(a, n, 'virt'));
  return { state, stop, exception, target };
}

/** Status flags as a compact string like 'CF=0 ZF=1 …' for readable assertions. */
export function flagsOf(rflags: bigint): Record<'CF' | 'PF' | 'AF' | 'ZF' | 'SF' | 'OF', number> {
  const bit = (n: number) => Number((rflags >> BigInt(n)) & 1n);
  return { CF: bit(0), PF: bit(2), AF: bit(4), ZF: bit(6), SF: bit(7), OF: bit(11) };
}
