import { describe, expect, it } from 'vitest';
import type { ExecutionTarget, StopReason } from '../../contracts/execution-target.js';
import type { MachineState, MemoryRegion } from '../../contracts/machine-state.js';
import { CASE_FORMAT, decodeCase, type Case } from '../../corpus/case-schema.js';
import { LAYOUT } from '../../contracts/test-machine.js';
import { EmulatorTarget } from '../../emulator/emulator-target.js';
import { asm } from '../asm/assembler.js';
import { BATCH, CTRL } from './batch-layout.js';
import { BatchScreen } from './batch-screen.js';

/**
 * A DUT behind the gdb-style seam (it runs the guest runner) whose runner can be made to break
 * the way a DUT with a bug in one of the runner's instructions may: it stops without running the
 * batch, its control block's index garbage, the previous batch's records still in place.
 */
class BreakableRunnerTarget implements ExecutionTarget {
  readonly name = 'breakable';
  /** Batch runs break; the short run that restores the test machine after one still works. */
  broken = false;
  constructor(private readonly inner: EmulatorTarget) {}
  info() {
    return this.inner.info();
  }
  reset(state: MachineState, memory: readonly MemoryRegion[]): Promise<void> {
    return this.inner.reset(state, memory);
  }
  step(n?: number): Promise<StopReason> {
    return this.inner.step(n);
  }
  async runUntil(stops: readonly bigint[], max: number): Promise<StopReason> {
    if (!this.broken || max <= 1000) return this.inner.runUntil(stops, max);
    const index = new Uint8Array(8);
    new DataView(index.buffer).setBigUint64(0, 1000n, true);
    await this.inner.writeMemory(BATCH.ctrl + BigInt(CTRL.index), index, 'phys');
    return { kind: 'limit' };
  }
  readState(): Promise<MachineState> {
    return this.inner.readState();
  }
  readMemory(addr: bigint, length: number, space: 'virt' | 'phys'): Promise<Uint8Array> {
    return this.inner.readMemory(addr, length, space);
  }
  writeMemory(addr: bigint, bytes: Uint8Array, space: 'virt' | 'phys'): Promise<void> {
    return this.inner.writeMemory(addr, bytes, space);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

async function handCase(text: string): Promise<Case> {
  const code = await asm(text, LAYOUT.code);
  return decodeCase({
    format: CASE_FORMAT,
    id: text,
    code: Buffer.from(code).toString('hex'),
    regs: { rbx: '0x20000' },
    memory: [{ addr: '0x20000', bytes: '11'.repeat(32) }],
    compare: [{ addr: '0x20000', length: 32 }],
    provenance: { generator: 'hand' },
  });
}

describe('BatchScreen', () => {
  it('compares only records the batch itself wrote: a DUT whose runner broke leaves older records, which settle nothing', async () => {
    const dut = new BreakableRunnerTarget(new EmulatorTarget());
    const screen = new BatchScreen(new EmulatorTarget(), dut);
    const cases = [await handCase('inc qword ptr [rbx]'), await handCase('add qword ptr [rbx + 8], 0x7f'), await handCase('not qword ptr [rbx + 16]')];
    expect((await screen.screen(cases)).agreed).toEqual([true, true, true]);
    // the same cases again: the DUT's results area holds records equal to the reference's new ones
    dut.broken = true;
    const r = await screen.screen(cases);
    expect(r.agreed).toEqual([false, false, false]);
    expect(r.completed).toBe(false);
  });
});
