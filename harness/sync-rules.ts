import type { GprName, MachineState } from '../contracts/machine-state.js';

/**
 * Declared synchronization rules: where the system under test is made to follow the oracle
 * instead of being compared with it. Listed in every report, so nothing is hidden.
 */
export interface SyncRule {
  readonly name: string;
  readonly description: string;
}

/** A register field the DUT takes from the oracle: the low `bits` of `gpr` (the bits above are still compared). */
export interface FollowedField {
  readonly gpr: GprName;
  readonly bits: 16 | 32 | 64;
}

/**
 * An instruction whose result is nondeterministic by design (a clock, a random number): after
 * it, the DUT takes the oracle's value for exactly these result bits, and everything else
 * (the other registers, the upper bits a 32-bit write zeroes, the other flags, RIP, memory)
 * is still compared.
 */
export interface ResultSyncRule extends SyncRule {
  /** Lowercase mnemonics (as iced-x86 prints them) the rule applies to. */
  readonly mnemonics: readonly string[];
  /** Fixed result registers. */
  readonly fields: readonly FollowedField[];
  /** Also the instruction's register operand, at its operand size (RDRAND/RDSEED). */
  readonly destination: boolean;
  /** RFLAGS bits followed. */
  readonly flags: number;
}

export const RESULT_SYNC_RULES: readonly ResultSyncRule[] = [
  {
    name: 'rdtsc',
    description:
      'After RDTSC the DUT takes the oracle\'s EAX and EDX (the time-stamp counter); the upper halves of RAX/RDX (zeroed) and everything else are compared.',
    mnemonics: ['rdtsc'],
    fields: [{ gpr: 'rax', bits: 32 }, { gpr: 'rdx', bits: 32 }],
    destination: false,
    flags: 0,
  },
  {
    name: 'rdtscp',
    description:
      'After RDTSCP the DUT takes the oracle\'s EAX, EDX (time-stamp counter) and ECX (IA32_TSC_AUX, which a transplanted state may not carry); the upper halves and everything else are compared.',
    mnemonics: ['rdtscp'],
    fields: [{ gpr: 'rax', bits: 32 }, { gpr: 'rdx', bits: 32 }, { gpr: 'rcx', bits: 32 }],
    destination: false,
    flags: 0,
  },
  {
    name: 'rdrand-rdseed',
    description:
      'After RDRAND/RDSEED the DUT takes the oracle\'s destination register at the operand size (16-bit forms keep the rest of the register, which is compared) and CF (whether a value was delivered); OF/SF/ZF/AF/PF (cleared) are compared.',
    mnemonics: ['rdrand', 'rdseed'],
    fields: [],
    destination: true,
    flags: 0x1,
  },
];

export const FRAGMENT_SYNC_RULES: readonly SyncRule[] = [
  {
    name: 'undefined-flags',
    description:
      'RFLAGS bits that the Intel SDM leaves undefined for an instruction (per iced-x86 flag info) are masked in the comparison after it; when they differ, the DUT takes the oracle\'s value before the next instruction. Each occurrence is counted under "masked flags".',
  },
  {
    name: 'no-nondeterministic-instructions',
    description:
      'Generated fragments contain no RDTSC/RDTSCP/RDRAND/RDSEED, IN/OUT or interrupt-enabling instructions, and run with IF=0 and QEMU single-step IRQ/timer masking (qqemu.sstep=0x7); replayed cases that do contain RDTSC/RDTSCP/RDRAND/RDSEED follow the result rules below.',
  },
  {
    name: 'exception-stops',
    description:
      'Every IDT vector of the test machine lands on its own stop address; an exception ends the case and is compared (vector, error code, CR2, pushed frame on the stack page) rather than followed.',
  },
  ...RESULT_SYNC_RULES.map(({ name, description }) => ({ name, description })),
];

const REGISTER_NAMES: ReadonlyArray<[GprName, string, string]> = [
  ['rax', 'eax', 'ax'], ['rcx', 'ecx', 'cx'], ['rdx', 'edx', 'dx'], ['rbx', 'ebx', 'bx'],
  ['rsp', 'esp', 'sp'], ['rbp', 'ebp', 'bp'], ['rsi', 'esi', 'si'], ['rdi', 'edi', 'di'],
  ...Array.from({ length: 8 }, (_, i): [GprName, string, string] => [`r${i + 8}` as GprName, `r${i + 8}d`, `r${i + 8}w`]),
];

/** 'r9d' → r9, 32 bits (GPR names as iced-x86 prints them). */
export function registerField(name: string): FollowedField | undefined {
  for (const [gpr, r32, r16] of REGISTER_NAMES) {
    if (name === gpr) return { gpr, bits: 64 };
    if (name === r32) return { gpr, bits: 32 };
    if (name === r16) return { gpr, bits: 16 };
  }
  return undefined;
}

export function resultRuleFor(mnemonic: string | undefined): ResultSyncRule | undefined {
  return mnemonic === undefined ? undefined : RESULT_SYNC_RULES.find((r) => r.mnemonics.includes(mnemonic));
}

/** What a rule follows for one instruction (`text` as iced-x86 prints it, e.g. 'rdrand r9w'). */
export function followedFields(rule: ResultSyncRule, text: string): FollowedField[] {
  const fields = [...rule.fields];
  if (rule.destination) {
    const dest = registerField(text.trim().split(/\s+/)[1] ?? '');
    if (dest) fields.push(dest);
  }
  return fields;
}

/**
 * The DUT's state after an instruction with the rule's result bits taken from the oracle's,
 * or undefined when the instruction has no result rule or the DUT already agrees.
 */
export function followOracle(
  ins: { readonly mnemonic: string; readonly text: string } | undefined,
  expected: MachineState,
  actual: MachineState,
): { readonly rule: string; readonly state: MachineState } | undefined {
  const rule = resultRuleFor(ins?.mnemonic);
  if (!rule || !ins) return undefined;
  const gpr = { ...actual.gpr };
  for (const f of followedFields(rule, ins.text)) {
    const mask = f.bits === 64 ? (1n << 64n) - 1n : (1n << BigInt(f.bits)) - 1n;
    gpr[f.gpr] = (actual.gpr[f.gpr] & ~mask) | (expected.gpr[f.gpr] & mask);
  }
  const flags = BigInt(rule.flags);
  const rflags = (actual.rflags & ~flags) | (expected.rflags & flags);
  const changed = rflags !== actual.rflags || Object.keys(gpr).some((k) => gpr[k as GprName] !== actual.gpr[k as GprName]);
  return changed ? { rule: rule.name, state: { ...actual, gpr, rflags } } : undefined;
}
