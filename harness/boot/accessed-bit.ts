import type { StopReason } from '../../contracts/execution-target.js';
import { Seg } from '../../emulator/decode/insn.js';
import type { EmulatorTarget } from '../../emulator/emulator-target.js';

/**
 * The boot lockstep's rule for one known QEMU 7.2 deviation: a far JMP/CALL, RETF or IRET that
 * loads CS does not set the code descriptor's accessed bit in the GDT (seg_helper.c loads the
 * cache from the descriptor and never writes it back), where the SDM (Vol. 3 §3.4.5.1) and the
 * emulator set it. The PVH entry's `ljmp $PVH_CS_SEL` finds its descriptor with the bit clear.
 * The differential suite asserts that QEMU still deviates (emulator/test-support/sequences-
 * system-rows.ts); here the emulator takes QEMU's byte (and QEMU's cached attributes, which keep
 * the bit as it was in memory), counted under this rule's name.
 */

export const ACCESSED_BIT_RULE = 'code-descriptor-accessed';

export const ACCESSED_BIT_RULE_DESCRIPTION =
  'A far JMP/CALL, RETF or IRET that loads CS sets the code descriptor\'s accessed bit in the emulator (SDM) and not in QEMU 7.2: when the only memory difference after one is that bit, in the access byte of a code descriptor the emulator wrote, the emulator takes QEMU\'s byte (gdb channel: compared after the instruction; log and block channels, which compare memory at checkpoints only: the emulator keeps the byte it read, and the next checkpoint compares it with QEMU\'s).';

const FAR_TRANSFER = /^((jmp|call) (far\b|[0-9a-fx]+:)|retf|iret)/;

/** A far JMP/CALL, RETF or IRET (iced's text): the instructions the rule is about. */
export function isFarTransfer(text: string): boolean {
  return FAR_TRANSFER.test(text);
}

/** GDT bytes looked at around a far transfer on the streaming channels (Linux's GDTs are 0x80 bytes or less). */
const MAX_GDT_BYTES = 0x1000;

/**
 * Step a far transfer on the log and block channels, which see QEMU's memory only at checkpoints:
 * the emulator's GDT is read before and after the step, and a code descriptor whose only change
 * is the accessed bit the emulator set gets its access byte back (QEMU's byte, by the rule), and
 * CS's cached attributes lose the bit when CS was loaded from it. Every checkpoint compares all of
 * RAM and the descriptor caches, so a QEMU that did set the bit shows there. Returns the step's
 * stop and whether the rule applied.
 */
export async function stepFarTransfer(e: EmulatorTarget): Promise<{ stop: StopReason; applied: boolean }> {
  const c = e.internals.cpu;
  const base = BigInt.asUintN(64, BigInt(c.gdtrBase));
  const length = Math.min(c.gdtrLimit + 1, MAX_GDT_BYTES) & ~7;
  const before = await e.readMemory(base, length, 'virt').catch(() => undefined);
  const stop = e.stepSync(1);
  if (!before || c.gdtrBase !== Number(BigInt.asIntN(64, base))) return { stop, applied: false };
  const after = await e.readMemory(base, length, 'virt').catch(() => undefined);
  if (!after) return { stop, applied: false };
  let applied = false;
  for (let d = 0; d < length; d += 8) {
    let onlyAccessed = after[d + 5] === (before[d + 5]! | 1) && after[d + 5] !== before[d + 5] && (after[d + 5]! & 0x19) === 0x19;
    for (let i = 0; i < 8 && onlyAccessed; i++) if (i !== 5 && after[d + i] !== before[d + i]) onlyAccessed = false;
    if (!onlyAccessed) continue;
    await e.writeMemory(base + BigInt(d + 5), before.subarray(d + 5, d + 6), 'virt');
    const cs = c.segSel[Seg.CS]!;
    if ((cs & 4) === 0 && (cs & ~7) === d) c.segAttr[Seg.CS] = (c.segAttr[Seg.CS]! & ~0x100) >>> 0;
    applied = true;
  }
  return { stop, applied };
}

/** A mismatch that is only the accessed bit of a code descriptor the emulator set, after a far transfer. */
export function isAccessedBitOnly(text: string, m: { readonly expected: Uint8Array; readonly actual: Uint8Array; readonly source: string }): boolean {
  if (!FAR_TRANSFER.test(text) || m.source !== 'emulator-write' || m.actual.length !== 4) return false;
  // the 4-byte write of the descriptor's high dword: type/S/DPL/P is its second byte
  for (let i = 0; i < 4; i++) {
    const x = m.actual[i]! ^ m.expected[i]!;
    if (i !== 1 ? x !== 0 : x !== 0x01 || (m.actual[1]! & 0x19) !== 0x19) return false;
  }
  return true;
}

/** A cached-attribute difference that is only the accessed bit of a segment a far transfer loaded. */
export function isCachedAccessedBitOnly(text: string, d: { readonly path: string; readonly expected: bigint; readonly actual: bigint }): boolean {
  return FAR_TRANSFER.test(text) && /^seg\.(cs|ss)\.attrs$/.test(d.path) && (d.expected ^ d.actual) === 0x100n;
}
