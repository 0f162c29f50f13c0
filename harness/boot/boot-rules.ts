import { RESULT_SYNC_RULES, type SyncRule } from '../sync-rules.js';
import { ACCESSED_BIT_RULE, ACCESSED_BIT_RULE_DESCRIPTION } from './accessed-bit.js';
import { APIC_TPR_RULE, APIC_TPR_RULE_DESCRIPTION } from './device-log.js';

/**
 * The declared rules of the boot lockstep: where the emulator follows QEMU instead of being
 * compared with it, and where QEMU is driven differently from a free run. Every report lists them
 * with how often each applied; nothing else is synchronized (CPUID included).
 */
export const BOOT_RULES: readonly SyncRule[] = [
  {
    name: 'device-read',
    description:
      'An instruction that reads an I/O port (IN, INS) or device memory (physical addresses above RAM: LAPIC, IOAPIC, HPET, PCI) takes QEMU\'s result: the general registers it writes (per iced-x86), the flags it writes, and for INS the bytes it stored. The emulator has no pc devices; its reads answer 0 and are logged. RIP, other registers and memory stay compared.',
  },
  {
    name: 'device-write-compared',
    description:
      'OUT and writes to device memory are compared, not followed, on every channel: what QEMU sends follows from the instruction and the registers before it (equal on both sides by then): an OUT\'s port, size and value (AL/AX/EAX; OUTS: port and size), a store\'s physical address (through the page tables), size and, from a register or immediate source, value. The emulator must have sent exactly that. The emulator\'s bytes to COM1 are its serial console.',
  },
  {
    name: 'interrupts-injected',
    description:
      'Log channel: QEMU runs freely and delivers hardware interrupts as it would; each one its trace shows (a v= line without a check_exception before it) is delivered to the emulator through its IDT at the same instruction boundary, then both are compared.',
  },
  {
    name: 'interrupts-masked',
    description:
      'gdb channel: hardware interrupts and timers are masked while QEMU single-steps (gdb qqemu.sstep=0x7), and the emulator has no interrupt sources: neither side takes an interrupt during the lockstep. Early boot (PVH entry to start_kernel\'s local_irq_enable) runs with IF=0 anyway; a kernel that waits for a timer tick later stalls, which the lockstep reports. Interrupts delivered before the start point (QEMU running freely) are part of the transplanted state.',
  },
  {
    name: 'rep-under-icount',
    description:
      'Under -icount QEMU does not end a REP string instruction in the iteration that brings the count to zero: one more step finds rCX=0 and moves RIP on (translate.c: repz_opt is off with icount). When the emulator has left the instruction and QEMU is still on it with rCX=0, QEMU is stepped once more before comparing; that step must change nothing but RIP.',
  },
  {
    name: 'rep-fast-forward',
    description:
      'A REP MOVS/STOS with IF=0 and more than 64 iterations left runs to its end on both sides (QEMU continues to a breakpoint after it, the emulator runs) and is compared once there: registers, and the bytes it stored (read back from QEMU, or a full-memory checkpoint above 64 KiB). A difference inside it is reported at the instruction, not at the iteration.',
  },
  {
    name: 'undefined-flags',
    description:
      'RFLAGS bits the SDM leaves undefined for an instruction (iced-x86 flag info) are masked in the comparison after it; when they differ, the emulator takes QEMU\'s value before the next instruction.',
  },
  {
    name: 'descriptor-attributes',
    description:
      'Descriptor caches are compared on their architectural attributes (type, S, DPL, P, AVL, L, D/B, G): QEMU keeps the descriptor\'s whole high dword as the cached flags, base and limit bits included, which the compared base and limit already cover. In 64-bit mode a null SS/DS/ES/FS/GS selector loads no descriptor: of its cache only SS.DPL (QEMU\'s CPL) and the FS/GS bases are compared; QEMU fills in flat limits and attributes there where the emulator clears them.',
  },
  {
    name: 'msr-probe',
    description:
      'MSRs the gdb stub does not expose are read at the start point by executing RDMSR in QEMU (one instruction per MSR, code bytes and registers restored): QEMU\'s instruction count, hence its virtual clock, moves on by that many, identically in every run.',
  },
  { name: ACCESSED_BIT_RULE, description: ACCESSED_BIT_RULE_DESCRIPTION },
  { name: APIC_TPR_RULE, description: APIC_TPR_RULE_DESCRIPTION },
  ...RESULT_SYNC_RULES.map(({ name, description }) => ({ name, description })),
];

export type RuleCounts = Map<string, number>;

export function countRule(counts: RuleCounts, name: string, n = 1): void {
  counts.set(name, (counts.get(name) ?? 0) + n);
}
