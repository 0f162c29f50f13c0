/**
 * The rows the `protected32` family generates: integer rows as they run in 32-bit protected mode
 * (the 32-bit test machine, contracts/test-machine-32.ts), where there is no REX, operations are
 * 16 or 32 bits wide and addresses 32 bits. The 64-bit rules of row-catalog.ts apply, plus:
 *  - rows valid in 64-bit mode only (MOVSXD: 63 is ARPL here) are left out;
 *  - legacy-only rows the emulator runs are in: INC/DEC 40–4F, PUSHA/POPA, INTO, PUSH
 *    ES/CS/SS/DS (keystone spells them only in their 16-bit form, 66 06…), the decimal
 *    adjustments DAA/DAS/AAA/AAS/AAM/AAD (AAM 0: #DE), BOUND (#BR out of bounds), SALC;
 *  - LAR and LSL, which 64-bit families leave out (QEMU 7.2 applies these legacy descriptor
 *    types in IA-32e mode too), and VERR/VERW;
 *  - still out: segment loads (LES/LDS/LSS/LFS/LGS, POP ES/SS/DS: the gdb stub writes no
 *    selectors between 32-bit cases, so a loaded one would outlive its case), far CALL/JMP,
 *    ARPL (keystone and iced disagree on its register width), ADD…CMP Eb,Ib by 82 (keystone
 *    emits 80);
 *  - a row whose only register is ESP and writes it (MOV ESP,imm; POP ESP; XCHG EAX,ESP; BSWAP
 *    ESP) would move the stack anywhere: left out; INC/DEC ESP move it by one and stay in.
 */
import { Kind } from '../../emulator/isa/operand-forms.js';
import type { IsaRow } from '../../emulator/isa/row.js';
import { skipReason } from './row-catalog.js';

const LEGACY_ONLY_GENERATED = new Set(['alu', 'inc', 'dec', 'pusha', 'popa', 'into', 'push_sreg', 'daa', 'das', 'ascii_adjust', 'aam', 'aad', 'salc', 'bound']);
const LEGACY_ONLY_SKIPPED: Record<string, string> = {
  pop_sreg: 'segment load',
  callf_direct: 'control flow leaves the fragment',
  jmpf_direct: 'control flow leaves the fragment',
  arpl: 'keystone and iced disagree on its register width',
};
const WRITES_ITS_Z_REGISTER = new Set(['mov_imm', 'pop', 'xchg', 'bswap']);

/** Why a row is not generated in 32-bit protected mode, or undefined when it is. */
export function skipReason32(row: IsaRow): string | undefined {
  if (row.only64) return 'valid in 64-bit mode only';
  if (row.opcode === 0x82 && row.map === 'one') return 'keystone spells ADD…CMP Eb,Ib as 80 /r';
  // LSS/LFS/LGS too: the gdb stub writes no selectors between 32-bit cases, so a loaded one would outlive its case
  if (row.handler === 'load_far_pointer') return 'segment load';
  if (row.invalid64) return LEGACY_ONLY_GENERATED.has(row.handler) ? undefined : LEGACY_ONLY_SKIPPED[row.handler] ?? 'legacy-only row not generated';
  if (row.handler === 'push_sreg') return undefined; // PUSH FS/GS: the selectors are the machine's
  if (row.handler === 'lar' || row.handler === 'lsl' || row.handler === 'verify') return undefined; // legacy descriptor types: QEMU and the SDM agree
  const z = row.operands.find((o) => o.kind === Kind.Z);
  if (z && z.size !== 1 && (row.opcode & 7) === 4 && WRITES_ITS_Z_REGISTER.has(row.handler)) return 'writes ESP';
  return skipReason(row);
}

/**
 * Operand sizes in 32-bit code: 32 by default, 16 with 0x66; never 64. Forms keystone cannot
 * spell at 16 bits in `bits 32` code (PUSHFW/POPFW, PUSH imm16, LEAVEW) stay 32-bit.
 */
export function operandSizes32(row: IsaRow): Array<2 | 4> {
  if (row.handler === 'movzx' || row.handler === 'movsx') return row.operands[1]?.size === 2 ? [4] : [2, 4];
  if (row.handler === 'bswap' || row.handler === 'cmpxchg8b') return [4];
  if (row.sizeRule === 'd64') return row.handler === 'push' || row.handler === 'pop' ? (row.operands[0]?.kind === Kind.I ? [4] : [2, 4]) : [4];
  return [2, 4];
}

/**
 * The rows the `real16` family generates: 16-bit code in real mode (contracts/test-machine-16.ts),
 * the protected32 rows plus what real mode makes safe to run inside a fragment:
 *  - segment loads into ES, FS and GS (MOV Sreg, POP ES/FS/GS, LES/LFS/LGS): a selector loaded in
 *    real mode is its base · 16, which any target can be reset to; later operands avoid the
 *    loaded segment (instruction.ts). LDS/LSS and POP DS/SS would move every access: left out;
 *  - INT n, INT3 and INTO: delivered through the IVT to the stop of their vector, where the case ends;
 *  - JMPF/CALLF ptr16:16 to the next instruction, CS reloaded with its own selector (CALLF pushes CS:IP);
 *  - the rest as protected32 has them: BCD, BOUND (#BR through the IVT), SALC; LAR/LSL/VERR/VERW
 *    raise #UD in real mode.
 * Operand sizes are 16 by default and 32 with 0x66 (operandSizes16).
 */
const REAL_GENERATED: Record<string, (row: IsaRow) => boolean> = {
  mov_to_sreg: () => true,
  pop_sreg: (row) => row.arg === 0 || row.arg === 4 || row.arg === 5,
  load_far_pointer: (row) => row.arg === 0 || row.arg === 4 || row.arg === 5,
  int: () => true,
  int3: () => true,
  // to the next instruction through CS's own selector (instruction.ts)
  jmpf_direct: () => true,
  callf_direct: () => true,
};

/** Why a row is not generated in 16-bit real mode, or undefined when it is. */
export function skipReason16(row: IsaRow): string | undefined {
  const special = REAL_GENERATED[row.handler];
  if (special) return special(row) ? undefined : 'loads DS or SS (every later access would move)';
  return skipReason32(row);
}

/** Operand sizes in 16-bit code: 16 by default, 32 with 0x66; what keystone spells only one way stays so. */
export function operandSizes16(row: IsaRow): Array<2 | 4> {
  if (row.handler === 'movzx' || row.handler === 'movsx') return row.operands[1]?.size === 2 ? [4] : [2, 4];
  if (row.handler === 'bswap' || row.handler === 'cmpxchg8b') return [4];
  // keystone writes PUSH imm as 66 68 id in 16-bit code; ENTER/LEAVE have no 0x66 spelling
  if (row.handler === 'push' && row.operands[0]?.kind === Kind.I) return [4];
  if (row.handler === 'enter' || row.handler === 'leave' || row.handler === 'jmpf_direct' || row.handler === 'callf_direct') return [2];
  return [2, 4];
}
