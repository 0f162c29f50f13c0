import { beforeAll, describe, expect, it } from 'vitest';
import { readSuppressions, suppressionFor, type Suppressions } from './suppressions.js';

/**
 * The system family's suppressions (QEMU 7.2 loading control-register and MSR values the SDM
 * refuses with #GP(0)) against signatures: the ones system campaigns measured are suppressed, and
 * the same instructions' other differences are not.
 */
const file = new URL('../difftest-suppressions.json', import.meta.url).pathname;

/** Signatures of `fuzz --family system` runs (seeds 5 and 422357077) and of the qemu-bug-* regression cases. */
const MEASURED: Array<[string, RegExp]> = [
  ['MOV cr, r64 reg :: gpr,rip,memory,exception:-/13', /SVM #VMEXIT/],
  ['MOV cr, r64 reg :: gpr,rip,exception:-/13', /SVM #VMEXIT/],
  ['MOV cr, r64 reg :: cr0,gpr,rip,memory,exception:-/13', /PG set and PE clear/],
  ['MOV cr, r64 reg :: cr0,efer,gpr,rip,memory,exception:-/13', /PG cleared in 64-bit mode/],
  ['MOV cr, r64 reg :: cr4,gpr,rip,memory,exception:-/13', /PAE cleared/],
  ['MOV cr, r64 reg :: cr8,gpr,rip,memory,exception:-/13', /CR8/],
  ['WRMSR reg :: gpr,rip,memory,exception:-/13', /non-canonical/],
  ['WRMSR reg :: gpr,kernelGsBase,rip,memory,exception:-/13', /non-canonical/],
  ['WRMSR reg :: efer,gpr,rip,memory,exception:-/13', /EFER/],
  ['WRMSR reg :: cr2,efer,rip,stop:step/triple-fault', /NXE/],
];

/** Differences these suppressions must not hide: the emulator's own mistakes in the same instructions. */
const NOT_QEMU_DEVIATIONS = [
  // the emulator faults where QEMU faults too, or does not fault where QEMU does
  'MOV cr, r64 reg :: gpr,rip,memory,exception:13/-',
  'WRMSR reg :: gpr,rip,memory,exception:13/-',
  // no exception on either side, a value differs
  'MOV cr, r64 reg :: cr2',
  'MOV cr, r64 reg :: cr0',
  'MOV r64, cr reg :: gpr',
  'RDMSR reg :: gpr',
  'WRMSR reg :: kernelGsBase',
  'WRMSR reg :: cr2,rip,stop:step/triple-fault',
  'WRMSR reg :: efer,rip,stop:step/triple-fault',
  // a #GP where QEMU raised another exception
  'MOV cr, r64 reg :: gpr,rip,memory,exception:6/13',
  // the emulator faulting at an instruction that is not a CR or MSR write
  'MOV r64, dr reg :: gpr,rip,memory,exception:-/13',
  'SWAPGS reg :: gpr,rip,memory,exception:-/13',
  'XSETBV reg :: gpr,rip,memory,exception:-/13',
];

describe('difftest-suppressions.json: the system family', () => {
  let s: Suppressions;
  beforeAll(async () => {
    s = await readSuppressions(file);
  });

  it.each(MEASURED)('suppresses %s as QEMU 7.2 deviating from the SDM', (sig, why) => {
    expect(suppressionFor(s, sig)).toMatch(why);
  });

  it.each(NOT_QEMU_DEVIATIONS)('does not suppress %s', (sig) => {
    expect(suppressionFor(s, sig)).toBeUndefined();
  });
});
