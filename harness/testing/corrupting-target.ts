import type { AddressSpace, ExecutionTarget, ReadStateOptions, StopReason, TargetInfo } from '../../contracts/execution-target.js';
import type { MachineState, MemoryRegion } from '../../contracts/machine-state.js';
import { decodeOne, type DecodedInstruction } from '../asm/decode.js';

/**
 * A test double for the system under test: a real target (QEMU, or the emulator) with a planted
 * bug. After each instruction that `matches`, the state is rewritten by `corrupt` — e.g. R13
 * loses its upper half after `add r13, [rip+…]`, as in the seed notes — and, when given,
 * `corruptMemory` names bytes to overwrite (a wrong store). Stepping is instruction by
 * instruction (runUntil too), so the corruption lands exactly where it is planted.
 */
export class CorruptingTarget implements ExecutionTarget {
  constructor(
    private readonly inner: ExecutionTarget,
    private readonly matches: (instruction: DecodedInstruction) => boolean,
    private readonly corrupt: (state: MachineState) => MachineState,
    readonly name = 'target-with-planted-bug',
    private readonly corruptMemory?: (state: MachineState) => MemoryRegion[],
  ) {}

  info(): TargetInfo {
    return this.inner.info();
  }

  reset(state: MachineState, memory: readonly MemoryRegion[]): Promise<void> {
    return this.inner.reset(state, memory);
  }

  async step(n = 1): Promise<StopReason> {
    let last: StopReason = { kind: 'step' };
    for (let i = 0; i < n; i++) {
      const before = await this.inner.readState();
      const next = decodeOne(await this.inner.readMemory(before.rip, 15, 'virt'), before.rip);
      last = await this.inner.step();
      if (last.kind === 'step' && this.matches(next)) {
        const state = await this.inner.readState();
        for (const m of this.corruptMemory?.(state) ?? []) await this.inner.writeMemory(m.addr, m.bytes, 'virt');
        await this.inner.reset(this.corrupt(state), []);
      }
      if (last.kind !== 'step') return last;
    }
    return last;
  }

  async runUntil(stops: readonly bigint[], maxInstructions: number): Promise<StopReason> {
    for (let i = 0; i < maxInstructions; i++) {
      const r = await this.step();
      if (r.kind !== 'step') return r;
      const rip = (await this.inner.readState()).rip;
      if (stops.includes(rip)) return { kind: 'breakpoint', rip };
    }
    return { kind: 'limit' };
  }

  readState(options?: ReadStateOptions): Promise<MachineState> {
    return this.inner.readState(options);
  }

  readMemory(addr: bigint, length: number, space: AddressSpace): Promise<Uint8Array> {
    return this.inner.readMemory(addr, length, space);
  }

  writeMemory(addr: bigint, bytes: Uint8Array, space: AddressSpace): Promise<void> {
    return this.inner.writeMemory(addr, bytes, space);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The seed notes' bug: R13 keeps only its low 32 bits after `add r13, [rip+disp]`. */
export function seedNotesBug(inner: ExecutionTarget): CorruptingTarget {
  return new CorruptingTarget(
    inner,
    (ins) => /^add r13, \[(fs:)?rip[+-]/.test(ins.text),
    (s) => ({ ...s, gpr: { ...s.gpr, r13: s.gpr.r13 & 0xffffffffn } }),
    'qemu-with-planted-add-r13-bug',
  );
}
