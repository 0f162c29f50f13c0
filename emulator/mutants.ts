/**
 * Planted bugs ("mutants"): deliberate, switchable mistakes that prove the harness finds and
 * minimizes what matters. Never on by default; switched on with `difftest … --inject NAME`.
 * Each flag is read at exactly one place in the emulator (grep for `mutants.`).
 */
export const MUTANT_DESCRIPTIONS = {
  'rip-rel-from-start': 'RIP-relative addresses are taken from the instruction start instead of the next instruction',
  'rex-b-ignored': 'REX.B is ignored for ModRM.rm (register and base)',
  'add64-mem-trunc32': '64-bit ADD with a memory source uses only the low 32 bits of the source',
  'af-never-set': 'AF is never set',
  'shift-count-unmasked': 'shift counts are not masked to 5 (6 for 64-bit) bits',
  'push-imm32-no-sext': 'PUSH imm32 zero-extends its immediate instead of sign-extending it',
  'sbb16-no-carry': '16-bit SBB ignores the carry-in',
  'mov16-imm-store-swapped': 'MOV m16, imm16 (66 C7 /0 to memory) stores its immediate with the two bytes swapped: it corrupts memory only',
} as const;

export type MutantName = keyof typeof MUTANT_DESCRIPTIONS;
export const MUTANT_NAMES = Object.keys(MUTANT_DESCRIPTIONS) as MutantName[];

/** The switches the emulator reads on its paths. Module state: one set per thread. */
export const mutants = {
  ripRelFromStart: false,
  rexBIgnored: false,
  add64MemTrunc32: false,
  afNeverSet: false,
  shiftCountUnmasked: false,
  pushImm32NoSext: false,
  sbb16NoCarry: false,
  mov16ImmStoreSwapped: false,
};

const FLAG_OF: Record<MutantName, keyof typeof mutants> = {
  'rip-rel-from-start': 'ripRelFromStart',
  'rex-b-ignored': 'rexBIgnored',
  'add64-mem-trunc32': 'add64MemTrunc32',
  'af-never-set': 'afNeverSet',
  'shift-count-unmasked': 'shiftCountUnmasked',
  'push-imm32-no-sext': 'pushImm32NoSext',
  'sbb16-no-carry': 'sbb16NoCarry',
  'mov16-imm-store-swapped': 'mov16ImmStoreSwapped',
};

export function isMutantName(name: string): name is MutantName {
  return name in MUTANT_DESCRIPTIONS;
}

/** Switch exactly these mutants on (all others off). */
export function setMutants(names: readonly MutantName[]): void {
  for (const k of Object.keys(mutants) as Array<keyof typeof mutants>) mutants[k] = false;
  for (const n of names) mutants[FLAG_OF[n]] = true;
}
