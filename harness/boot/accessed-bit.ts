/**
 * The boot lockstep's rule for one known QEMU 7.2 deviation: a far JMP/CALL, RETF or IRET that
 * loads CS does not set the code descriptor's accessed bit in the GDT (seg_helper.c loads the
 * cache from the descriptor and never writes it back), where the SDM (Vol. 3 §3.4.5.1) and the
 * emulator set it. The PVH entry's `ljmp $PVH_CS_SEL` finds its descriptor with the bit clear.
 * The differential suite asserts that QEMU still deviates (emulator/test-support/sequences-
 * system-rows.ts); here the emulator takes QEMU's byte (and QEMU's cached attributes, which keep the bit as it was
in memory), counted under this rule's name.
 */

export const ACCESSED_BIT_RULE = 'code-descriptor-accessed';

export const ACCESSED_BIT_RULE_DESCRIPTION =
  'A far JMP/CALL, RETF or IRET that loads CS sets the code descriptor\'s accessed bit in the emulator (SDM) and not in QEMU 7.2: when the only memory difference after one is that bit, in the access byte of a code descriptor the emulator wrote, the emulator takes QEMU\'s byte.';

const FAR_TRANSFER = /^((jmp|call) (far\b|[0-9a-fx]+:)|retf|iret)/;

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
