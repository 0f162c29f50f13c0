import type { Mismatch } from './gdb-lockstep.js';
import { operandAddress } from './instruction-info.js';
import { type PageWalk, walkPage } from './page-walk.js';

/**
 * The page walks a mismatch's report shows: for every linear address it involves (the
 * instruction's memory operands under the registers before it, the addresses the emulator actually
 * accessed, the bytes found differing, and CR2 when a page fault is part of the difference), the walk through QEMU's page tables and
 * through the emulator's, each read from that side's own memory.
 */

export interface AddressWalks {
  readonly address: bigint;
  /** Why this address: 'write operand', 'read operand', 'memory that differs', 'CR2 (QEMU)', 'CR2 (emulator)', or several. */
  readonly why: string;
  readonly qemu: PageWalk;
  readonly emulator: PageWalk;
}

export type ReadPhys64 = (phys: bigint) => Promise<bigint | undefined>;

/** At most this many addresses get walks (a REP or a wide diff names many). */
const MAX_ADDRESSES = 6;

/**
 * `emulatorAccesses`: the linear addresses the emulator read and wrote for the instruction (its
 * access log): where they differ from the operands' addresses, the two walks show why.
 */
export function addressesInvolved(m: Mismatch, emulatorAccesses: { readonly reads: readonly bigint[]; readonly writes: readonly bigint[] } = { reads: [], writes: [] }): Array<{ address: bigint; why: string }> {
  const out: Array<{ address: bigint; why: string }> = [];
  const add = (address: bigint, why: string) => {
    const same = out.find((x) => x.address >> 12n === address >> 12n);
    if (same) {
      if (!same.why.includes(why)) same.why += `, ${why}`;
    } else if (out.length < MAX_ADDRESSES) out.push({ address, why });
  };
  // a page fault on a side shows as its CR2 changed by the instruction
  if (m.diffs.some((d) => d.path === 'cr2')) {
    if (m.expected.cr2 !== m.before.cr2) add(m.expected.cr2, 'CR2 (QEMU)');
    if (m.actual.cr2 !== m.before.cr2) add(m.actual.cr2, 'CR2 (emulator)');
  }
  for (const op of m.info.memory) {
    if (op.access === 'address' || op.size === 0) continue;
    add(operandAddress(op, m.before), `${op.access === 'read' ? 'read' : 'write'} operand`);
  }
  for (const a of emulatorAccesses.reads) add(a, "the emulator's read");
  for (const a of emulatorAccesses.writes) add(a, "the emulator's write");
  for (const x of m.memory) if (x.lin !== undefined) add(x.lin, 'memory that differs');
  return out;
}

/** Walks on both sides; `qemuCr3`/`emuCr3` and CR4 from each side's state after the instruction. */
export async function mismatchWalks(m: Mismatch, qemu: ReadPhys64, emulator: ReadPhys64, emulatorAccesses?: Parameters<typeof addressesInvolved>[1]): Promise<AddressWalks[]> {
  if (!(m.before.cr0 & (1n << 31n))) return []; // paging off: linear is physical
  const out: AddressWalks[] = [];
  for (const { address, why } of addressesInvolved(m, emulatorAccesses)) {
    out.push({
      address,
      why,
      qemu: await walkPage(address, m.expected.cr3, m.expected.cr4, qemu, m.expected.efer),
      emulator: await walkPage(address, m.actual.cr3, m.actual.cr4, emulator, m.actual.efer),
    });
  }
  return out;
}
