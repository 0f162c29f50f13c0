/**
 * Declared synchronization rules: where the system under test is made to follow the oracle
 * instead of being compared with it. Listed in every report, so nothing is hidden.
 */
export interface SyncRule {
  readonly name: string;
  readonly description: string;
}

export const FRAGMENT_SYNC_RULES: readonly SyncRule[] = [
  {
    name: 'undefined-flags',
    description:
      'RFLAGS bits that the Intel SDM leaves undefined for an instruction (per iced-x86 flag info) are masked in the comparison after it; when they differ, the DUT takes the oracle\'s value before the next instruction. Each occurrence is counted under "masked flags".',
  },
  {
    name: 'no-nondeterministic-instructions',
    description:
      'Generated fragments contain no RDTSC/RDTSCP/RDRAND/RDSEED, IN/OUT or interrupt-enabling instructions, and run with IF=0 and QEMU single-step IRQ/timer masking (qqemu.sstep=0x7), so nothing needs following beyond undefined flags.',
  },
  {
    name: 'exception-stops',
    description:
      'Every IDT vector of the test machine lands on its own stop address; an exception ends the case and is compared (vector, error code, CR2, pushed frame on the stack page) rather than followed.',
  },
];
