import { describe, expect, it } from 'vitest';
import { initialState } from '../../contracts/test-machine.js';
import type { MachineState } from '../../contracts/machine-state.js';
import { judge } from './three-way.js';

/** The verdict rule on hand-made states: whom the host sides with, field by field. */
const state = (rax: bigint, rflags = 0x2n): MachineState => ({ ...initialState({ rax }), rflags });
const diff = (path: string, expected: bigint, actual: bigint, width = 64) => ({ path, width, expected, actual });
const base = { memoryDiffs: [], expectedException: undefined, actualException: undefined, flagMask: 0n };

describe('judge', () => {
  it("host = QEMU: the emulator's bug; host = emulator: QEMU's; neither: both differ", () => {
    const d = { ...base, expected: state(5n), actual: state(7n), diffs: [diff('gpr.rax', 5n, 7n)] };
    expect(judge(d, { state: state(5n), exception: undefined, memory: [] }).verdict).toBe('emulator');
    expect(judge(d, { state: state(7n), exception: undefined, memory: [] }).verdict).toBe('qemu');
    const both = judge(d, { state: state(9n), exception: undefined, memory: [] });
    expect(both).toMatchObject({ verdict: 'both', reason: 'both differ from the host: it agrees with neither on RAX' });
  });

  it('masks undefined flags and ignores what CPL 3 cannot see', () => {
    // AF differs but is undefined here; IF differs but is the runner's virtual copy
    const d = { ...base, flagMask: 0x10n, expected: state(0n, 0x212n), actual: state(0n, 0x2n), diffs: [diff('rflags', 0x212n, 0x2n)] };
    expect(judge(d, { state: state(0n, 0x2n), exception: undefined, memory: [] })).toMatchObject({ verdict: 'none', reason: expect.stringContaining('RFLAGS.IF') });
  });

  it('memory runs and exceptions count as fields; a field where QEMU and the emulator agree but the host not is a caveat', () => {
    const d = {
      ...base,
      expected: state(1n),
      actual: state(1n),
      diffs: [],
      memoryDiffs: [{ addr: 0x20000n, expected: Uint8Array.of(1, 2), actual: Uint8Array.of(1, 3) }],
      expectedException: { vector: 14, errorCode: 0, cr2: 0x30000n, rip: 0x10000n },
    };
    const w = judge(d, { state: state(2n), exception: undefined, memory: [Uint8Array.of(1, 3)] });
    expect(w.verdict).toBe('qemu');
    expect(w.fields).toEqual([
      { field: 'exception', host: 'no exception', sides: 'emulator' },
      { field: 'memory 0x20000 (2 bytes)', host: '01 03', sides: 'emulator' },
    ]);
    expect(w.hostAlsoDiffers).toEqual(['RAX']);
  });
});
