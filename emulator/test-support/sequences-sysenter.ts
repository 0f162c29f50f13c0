import { SELECTORS32 as S } from '../../contracts/test-machine-32.js';
import type { ProtectedSequence } from './sequences-protected.js';
import { PROTECTED_SETUP } from './sequences-protected.js';

/**
 * SYSENTER/SYSEXIT in legacy protected mode on the 32-bit test machine (qemu64 announces SEP):
 * flat CS/SS caches from IA32_SYSENTER_CS whatever the GDT holds there, ESP/EIP from the MSRs,
 * back to CPL 3 at EDX with ESP = ECX; #GP(0) for a null SYSENTER_CS, SYSEXIT at CPL 3, and
 * either in real mode. Every sequence writes SYSENTER_CS first and clears it last: QEMU keeps its
 * MSRs from one sequence to the next, the emulator's reset clears them. Expectations come from QEMU.
 */

const hex = (n: number) => `0x${n.toString(16)}`;


/** SYSENTER_CS, _ESP, _EIP ← cs, 0x9000, the label `entry`. */
function msrs(cs: number): string {
  return `mov ecx, 0x174\nmov eax, ${hex(cs)}\nxor edx, edx\nwrmsr\nmov ecx, 0x175\nmov eax, 0x9000\nwrmsr\nmov ecx, 0x176\nmov eax, entry\nwrmsr`;
}

const CLEAR_CS = 'mov ecx, 0x174\nxor eax, eax\nxor edx, edx\nwrmsr';

/** Load TR with the machine's TSS: an exception at CPL 3 switches to its ESP0/SS0. */
const LTR = `mov ax, ${hex(S.tss)}\nltr ax`;

export function sysenterSequences(): ProtectedSequence[] {
  const out: ProtectedSequence[] = [];
  const add = (name: string, body: string, extra: Partial<ProtectedSequence> = {}) => out.push({ name, asm: `${PROTECTED_SETUP}\n${body}`, ...extra });
  add(
    'sysexit to ring 3 and sysenter back (IF, RF cleared; flat caches)',
    `${LTR}\n${msrs(S.code32)}\npushfd\nor dword [esp], 0x10200\npopfd\nmov ecx, 0xf000\nmov edx, ring3\nsysexit\nring3: mov eax, cs\nmov ebx, ss\npush eax\nmov ebp, esp\nsysenter\nentry: mov eax, cs\nmov ecx, esp\npushfd\n${CLEAR_CS}`,
  );
  add('sysenter at CPL 0 with SYSENTER_CS 0x1040 (a DPL 3 data descriptor: not read)', `${msrs(S.data3)}\nsysenter\nentry: mov eax, ss\nmov ebx, cs\npush eax\n${CLEAR_CS}`);
  add('#GP(0): sysenter with SYSENTER_CS = 0', `${msrs(0)}\nsysenter\nentry: nop`);
  add('#GP(0): sysexit with SYSENTER_CS = 0', `${msrs(0)}\nmov edx, entry\nmov ecx, 0xf000\nsysexit\nentry: nop`);
  add('#GP(0): sysexit at CPL 3', `${LTR}\n${msrs(S.code32)}\nmov ecx, 0xf000\nmov edx, ring3\nsysexit\nring3: mov edx, entry\nsysexit\nentry: ${CLEAR_CS}`);
  add('sysenter with SYSENTER_CS = 3 (selector bits 15:2 zero)', `${msrs(3)}\nsysenter\nentry: mov eax, cs\n${CLEAR_CS}`, {
    qemuDeviation: 'QEMU 7.2 faults only for SYSENTER_CS = 0 (helper_sysenter) and enters with CS = 0, SS = 8; the SDM says #GP(0) when bits 15:2 are zero (the emulator)',
  });
  out.push({ name: 'real mode: #GP(0): sysenter', asm: 'mov eax, 1\nsysenter', real: true });
  out.push({ name: 'real mode: #GP(0): sysexit', asm: 'mov eax, 1\nsysexit', real: true });
  return out;
}
