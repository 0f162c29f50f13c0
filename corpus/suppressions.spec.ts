import { beforeAll, describe, expect, it } from 'vitest';
import { readSuppressions, suppressionFor, type Suppressions } from './suppressions.js';

/**
 * The committed suppressions file against signatures: what QEMU 7.2's SHLD/SHRD imm8
 * RIP-relative bug produces must be suppressed, and nothing else in those forms may be.
 */
const file = new URL('../difftest-suppressions.json', import.meta.url).pathname;

/** Every signature of a 3,000-case `fuzz --family shift --seed 21` run without suppressions
 * (all its divergences): the fields QEMU's bug produces are memory, plus CF/OF/PF/SF. */
const MEASURED = [
  'SHLD r/m16, r16, imm8 rip-rel :: memory',
  'SHLD r/m16, r16, imm8 rip-rel :: rflags.CF,rflags.OF,memory',
  'SHLD r/m16, r16, imm8 rip-rel :: rflags.CF,rflags.OF,rflags.PF,memory',
  'SHLD r/m16, r16, imm8 rip-rel :: rflags.CF,rflags.SF,memory',
  'SHLD r/m16, r16, imm8 rip-rel :: rflags.OF,rflags.SF,memory',
  'SHLD r/m16, r16, imm8 rip-rel :: rflags.PF,memory',
  'SHLD r/m32, r32, imm8 rip-rel :: memory',
  'SHLD r/m32, r32, imm8 rip-rel :: rflags.CF,rflags.OF,memory',
  'SHLD r/m32, r32, imm8 rip-rel :: rflags.CF,rflags.PF,rflags.SF,memory',
  'SHLD r/m32, r32, imm8 rip-rel :: rflags.CF,rflags.SF,memory',
  'SHLD r/m64, r64, imm8 rip-rel :: memory',
  'SHLD r/m64, r64, imm8 rip-rel :: rflags.CF,rflags.OF,memory',
  'SHLD r/m64, r64, imm8 rip-rel :: rflags.CF,rflags.SF,memory',
  'SHLD r/m64, r64, imm8 rip-rel :: rflags.OF,rflags.SF,memory',
  'SHRD r/m16, r16, imm8 rip-rel :: memory',
  'SHRD r/m16, r16, imm8 rip-rel :: rflags.CF,memory',
  'SHRD r/m16, r16, imm8 rip-rel :: rflags.PF,rflags.SF,memory',
  'SHRD r/m16, r16, imm8 rip-rel :: rflags.SF,memory',
  'SHRD r/m32, r32, imm8 rip-rel :: memory',
  'SHRD r/m32, r32, imm8 rip-rel :: rflags.CF,memory',
  'SHRD r/m32, r32, imm8 rip-rel :: rflags.CF,rflags.PF,memory',
  'SHRD r/m32, r32, imm8 rip-rel :: rflags.PF,memory',
  'SHRD r/m64, r64, imm8 rip-rel :: memory',
  'SHRD r/m64, r64, imm8 rip-rel :: rflags.CF,memory',
  'SHRD r/m64, r64, imm8 rip-rel :: rflags.PF,memory',
  // flags alone (npm start, seed 1320963530: the root-cause analysis put them with the others)
  'SHRD r/m16, r16, imm8 rip-rel :: rflags.PF,rflags.ZF',
  'SHRD r/m64, r64, imm8 rip-rel :: rflags.CF,rflags.PF',
  'SHRD r/m16, r16, imm8 rip-rel :: rflags.CF,rflags.OF,rflags.PF',
  'SHLD r/m32, r32, imm8 rip-rel :: rflags.CF',
];

/** Divergences in the same instructions that QEMU's bug does not explain. */
const NOT_QEMU_BUG = [
  // any non-RIP form: QEMU gets these right (the host CPU agrees), so a divergence is the emulator's
  'SHLD r/m32, r32, imm8 mem :: memory',
  'SHRD r/m64, r64, imm8 mem :: rflags.CF,memory',
  'SHLD r/m16, r16, imm8 mem :: rflags.CF',
  'SHRD r/m32, r32, imm8 reg :: gpr',
  // the CL forms take no immediate: QEMU's RIP-relative address is right there
  'SHLD r/m32, r32, CL rip-rel :: memory',
  'SHRD r/m64, r64, CL rip-rel :: rflags.CF,memory',
  // RIP-relative, but a field the wrong address cannot change
  'SHLD r/m32, r32, imm8 rip-rel :: gpr,memory',
  'SHRD r/m64, r64, imm8 rip-rel :: rip,memory',
  'SHLD r/m64, r64, imm8 rip-rel :: memory,exception:14/-',
  'SHLD r/m64, r64, imm8 rip-rel :: memory,stop:step/breakpoint',
  'SHRD r/m16, r16, imm8 rip-rel :: cr2,memory',
  'SHRD r/m16, r16, imm8 rip-rel :: rflags.DF,memory',
  // no field at all, or a flag the shift does not write
  'SHLD r/m32, r32, imm8 rip-rel :: ',
  'SHRD r/m32, r32, imm8 rip-rel :: rflags.TF',
];

describe('difftest-suppressions.json', () => {
  let s: Suppressions;
  beforeAll(async () => {
    s = await readSuppressions(file);
  });

  it.each(MEASURED)('suppresses the QEMU SHLD/SHRD RIP-relative bug: %s', (sig) => {
    expect(suppressionFor(s, sig)).toMatch(/rip_offset/);
  });

  it.each(NOT_QEMU_BUG)('does not suppress %s', (sig) => {
    expect(suppressionFor(s, sig)).toBeUndefined();
  });

  it('the previous, broader pattern hid the non-RIP forms (what this file no longer does)', () => {
    const old: Suppressions = {
      format: 'difftest-suppressions/1',
      suppressions: [{ signature: '/^SH[LR]D r\\/m(16|32|64), r(16|32|64), imm8 (mem|rip-rel) :: /', reason: 'old' }],
    };
    expect(suppressionFor(old, 'SHLD r/m32, r32, imm8 mem :: memory')).toBe('old');
    expect(suppressionFor(old, 'SHLD r/m32, r32, imm8 rip-rel :: gpr,memory')).toBe('old');
  });
});
