import { describe, expect, it } from 'vitest';
import type { MachineState } from '../../contracts/machine-state.js';
import { recordToState } from '../../contracts/register-record.js';
import type { Mismatch } from './gdb-lockstep.js';
import { instructionInfo } from './instruction-info.js';
import { addressesInvolved, mismatchWalks } from './mismatch-walks.js';

// A #PF on one side only: `mov rax, [rbx]` (48 8b 03) reads 0xffff888000123008; QEMU's PTE maps
// it, the emulator's PTE is not present, so it faulted (CR2 differs). The report walks the
// operand's address on both sides from each side's own memory.
const RBX = 0xffff888000123008n;
const CR3 = 0x1000n;

function state(over: Partial<MachineState>): MachineState {
  const s = recordToState(new Uint32Array(52));
  return { ...s, cr0: 0x80050033n, cr3: CR3, cr4: 0x20n, efer: 0xd01n, gpr: { ...s.gpr, rbx: RBX }, ...over };
}

// PML4 0x111, PDPT 0x000, PD 0x000, PT 0x123 for RBX (SDM 4.5 indices)
const tables: Record<number, bigint> = { [0x1000 + 0x111 * 8]: 0x2003n, 0x2000: 0x3003n, 0x3000: 0x4003n };

function mismatch(): Mismatch {
  const before = state({});
  return {
    index: 7, icount: 100, rip: 0xffffffff81000000n, info: instructionInfo(0xffffffff81000000n, Buffer.from('488b03', 'hex')),
    before, expected: state({ gpr: { ...before.gpr, rax: 5n } }), actual: state({ cr2: RBX }),
    diffs: [{ path: 'cr2', width: 64, expected: 0n, actual: RBX }], memory: [], devices: [],
    qemuStop: { kind: 'step' }, emulatorStop: { kind: 'step' }, flagMask: 0n, found: 'step',
  };
}

describe('page walks of a mismatch', () => {
  it('names the faulting side\'s CR2 and the operand, once per page', () => {
    // QEMU's CR2 did not change (it did not fault): no walk of it
    expect(addressesInvolved(mismatch())).toEqual([{ address: RBX, why: 'CR2 (emulator), read operand' }]);
  });

  it('adds the addresses the emulator accessed where they differ from the operand\'s (a RIP-relative or base bug)', () => {
    const m = { ...mismatch(), diffs: [] };
    expect(addressesInvolved(m, { reads: [RBX + 0x7000n], writes: [] })).toEqual([
      { address: RBX, why: 'read operand' },
      { address: RBX + 0x7000n, why: "the emulator's read" },
    ]);
    // the same page as the operand: walked once
    expect(addressesInvolved(m, { reads: [RBX + 8n], writes: [] })).toEqual([{ address: RBX, why: "read operand, the emulator's read" }]);
  });

  it('walks each address through each side\'s own tables: QEMU maps the page, the emulator\'s PTE is not present', async () => {
    const qemu = async (p: bigint) => ({ ...tables, [0x4000 + 0x123 * 8]: 0x9003n })[Number(p)] ?? 0n;
    const emulator = async (p: bigint) => tables[Number(p)] ?? 0n;
    const walks = await mismatchWalks(mismatch(), qemu, emulator);
    const operand = walks.find((w) => w.address === RBX)!;
    expect(operand.qemu.phys).toBe(0x9008n);
    expect(operand.qemu.end).toBe('4 KiB page');
    expect(operand.emulator.end).toBe('not present at PTE');
    expect(operand.emulator.levels.map((l) => l.value)).toEqual([0x2003n, 0x3003n, 0x4003n, 0n]);
  });
});
