import { qemu64Msrs, MsrWrite, type MsrDef } from '../cpu/msr-model.js';
import type { SystemSequence } from './sequences-system-rows.js';

/**
 * RDMSR/WRMSR sequences over every MSR of the qemu64 model (cpu/msr-model.ts) and the
 * architectural ones in exec/msrs.ts: each MSR is read, written with a pattern (and, where the
 * model has a write rule, with values the rule treats differently), read back, and put back as it
 * was. Putting it back matters: QEMU's MSRs survive from one sequence to the next (a QemuTarget
 * reset does not touch them), the emulator's do not. Expectations come from QEMU.
 */

const PATTERN = 0x0000000100000005n;

/** `wrmsr` of a 64-bit constant into MSR `n` (ECX set by the caller). */
function write(v: bigint): string {
  return `mov eax, 0x${(v & 0xffffffffn).toString(16)}\nmov edx, 0x${(v >> 32n).toString(16)}\nwrmsr`;
}

/** Read MSR `n`, keep it in R8/R9, run `body` (ECX = n), read it again, then restore it. */
function roundTrip(n: number, body: string): string {
  return `mov ecx, 0x${n.toString(16)}\nrdmsr\nmov r8d, eax\nmov r9d, edx\n${body}\nrdmsr\nmov eax, r8d\nmov edx, r9d\nwrmsr`;
}

function valuesFor(def: MsrDef): bigint[] {
  switch (def.write) {
    case MsrWrite.AllOrNothing:
      return [PATTERN, 0n]; // a partial value is ignored, 0 is taken
    case MsrWrite.Checked:
      return [0x1000n]; // within the rule (the faulting values have sequences of their own)
    default:
      return [PATTERN];
  }
}

function rowSequences(add: (name: string, body: string, qemuDeviation?: string) => void): void {
  const rows = [...qemu64Msrs(40)];
  // about a dozen MSRs per sequence: the lockstep compares at most 200 steps of one
  for (let i = 0; i < rows.length; i += 12) {
    const chunk = rows.slice(i, i + 12);
    const body = chunk.map(([n, def]) => roundTrip(n, valuesFor(def).map((v) => `${write(v)}\nrdmsr\nmov rbx, rax`).join('\n'))).join('\n');
    add(`rdmsr/wrmsr qemu64 MSRs ${chunk[0]![1].name}..${chunk.at(-1)![1].name}`, body);
  }
}

function ruleSequences(add: (name: string, body: string, qemuDeviation?: string) => void): void {
  add('#GP(0): wrmsr PKRS with bits 63..32 set', roundTrip(0x6e1, write(0x100000000n)));
  add('#GP(0): wrmsr VM_HSAVE_PA not page-aligned', roundTrip(0xc0010117, write(0x1001n)));
  add('#GP(0): wrmsr VM_HSAVE_PA beyond the 40 physical address bits', roundTrip(0xc0010117, write(0x10000000000n)));
  add('wrmsr VM_HSAVE_PA at the top of the physical address space', roundTrip(0xc0010117, write(0xfffffff000n)));
  add('wrmsr SYSENTER_CS keeps 16 bits', roundTrip(0x174, write(0xffffffffffffffffn)));
  // APIC_BASE: the base moves, BSP stays set; ENABLE is never cleared here (QEMU cannot set it again)
  add('wrmsr APIC_BASE: base moves, BSP and x2APIC bits ignored', roundTrip(0x1b, `${write(0xfed00800n)}\nrdmsr\nmov rbx, rax\n${write(0xfee00d00n)}\nrdmsr\nmov r10, rax\n${write(0x1fee00900n)}`));
  add('rdmsr/wrmsr EFER, STAR, LSTAR, CSTAR, SFMASK, KERNEL_GS_BASE', [0xc0000080, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000102].map((n) => roundTrip(n, n === 0xc0000080 ? '' : `${write(0xffff800000001000n)}\nrdmsr\nmov rbx, rax`)).join('\n'));
  // MSRs QEMU's qemu64 does not have: they read 0 and take any write (the model's unknownMsrsReadZero)
  add('rdmsr/wrmsr MSRs qemu64 does not have (read 0, writes ignored)', [0x3a, 0x48, 0x10a, 0x1d9, 0xc0010015, 0xc0011029, 0x40000000].map((n) => roundTrip(n, `${write(PATTERN)}\nrdmsr\nmov rbx, rax`)).join('\n'));
  add(
    'rdmsr TSC',
    'mov ecx, 0x10\nrdmsr\nmov rbx, rax',
    'QEMU 7.2 has no IA32_TSC MSR under TCG: RDMSR 0x10 reads 0; the SDM says it reads the time-stamp counter (the emulator)',
  );
  add(
    'wrmsr CSTAR non-canonical',
    roundTrip(0xc0000083, write(0x0000800000000000n)),
    'QEMU 7.2 stores a non-canonical CSTAR; the SDM says WRMSR raises #GP(0) (the emulator)',
  );
  add(
    'wrmsr EFER with a reserved bit (bit 1)',
    roundTrip(0xc0000080, `mov eax, r8d\nor eax, 2\nmov edx, r9d\nwrmsr`),
    'QEMU 7.2 drops reserved EFER bits; the SDM says WRMSR raises #GP(0) (the emulator)',
  );
}

export function msrSequences(): SystemSequence[] {
  const out: SystemSequence[] = [];
  const add = (name: string, body: string, qemuDeviation?: string) => out.push({ name, asm: `mov rsi, 0x20000\n${body}`, qemuDeviation });
  rowSequences(add);
  ruleSequences(add);
  return out;
}
