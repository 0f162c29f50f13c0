/**
 * Which opcode-table rows the generator can exercise, grouped into families, and how each row is
 * spelled in keystone's Intel syntax. Everything is derived from the row data (handler, mnemonic,
 * operand forms, flags), so a new row is generated without new generator code.
 *
 * Rows skipped, and why (see `skipReason`):
 *  - invalid64 / '(bad)': #UD in 64-bit mode, nothing to compare but the exception.
 *  - privileged (IN/OUT/INS/OUTS, HLT, MOV CRn/DRn, LGDT, WRMSR…): the fragment is not an OS.
 *  - feature rows (POPCNT, LZCNT, TZCNT, MOVBE, BMI1's VEX rows…): generated only when the CPU model
 *    compared has the feature (`--cpu qemu64,+bmi1`, `+smap`: CLAC/STAC); RDTSCP, RDRAND and RDPID
 *    never (nondeterministic), nor the XSAVE and FSGSBASE rows (CR4.OSXSAVE and CR4.FSGSBASE are
 *    clear on the test machine; exec/xsave.int.spec.ts and the differential suite cover them).
 *  - J operands (Jcc, JMP/CALL rel, LOOP, JRCXZ): leave the fragment.
 *  - control flow and interrupts: CALL/JMP indirect, far CALL/JMP, RET/RETF/IRET, INT/INT3/INT1,
 *    SYSCALL/SYSRET: leave the fragment (or need a return address we do not model).
 *  - UD0/UD1/UD2: raise #UD by design.
 *  - segment loads (MOV Sreg, POP FS/GS) and PUSH FS/GS: selectors and hidden bases belong to the test machine.
 *  - system-state instructions (SLDT, STR, SMSW, SGDT, SIDT, CLI, STI, CPUID, RDTSC): values differ
 *    by design between targets or change interrupt delivery.
 *  - LAR/LSL in 64-bit mode: QEMU 7.2 takes the legacy descriptor types there (known deviations);
 *    the protected32 family generates them, and VERR/VERW everywhere.
 *  - LDMXCSR, FXRSTOR: would load MXCSR (and the x87 state) from random memory; the prologue sets MXCSR.
 *
 * The families `sse` (XMM/MMX operands, MXCSR and FXSAVE state) and `x87` (the D8–DF escape rows and
 * FWAIT) are generated with a prologue that loads the state they read (simd-state.ts,
 * x87-state.ts); they are opt-in (`--family sse`, `--family x87`), the default being the integer ISA.
 */
import { ALL_ROWS } from '../../emulator/isa/table.js';
import { isSimdKind, Kind, type OperandForm } from '../../emulator/isa/operand-forms.js';
import type { Feature, IsaRow } from '../../emulator/isa/row.js';
import { operandSizes16, operandSizes32, skipReason16, skipReason32 } from './legacy-rows.js';

export type { IsaRow };

export type Encoder = 'keystone' | 'raw';

/** Families that select a CPU mode of their own (legacy-rows.ts): each runs alone, on its mode's test machine. */
export const LEGACY_FAMILIES = ['protected32', 'real16'] as const;

/** The CPU mode a generated program runs in. */
export type GenerationMode = 'long64' | 'protected32' | 'real16';

const SKIPPED_HANDLERS: Record<string, string> = {
  ud: 'raises #UD by design',
  ret: 'control flow leaves the fragment', retf: 'control flow leaves the fragment', iret: 'control flow leaves the fragment',
  call_ind: 'control flow leaves the fragment', jmp_ind: 'control flow leaves the fragment',
  callf: 'control flow leaves the fragment', jmpf: 'control flow leaves the fragment',
  int: 'interrupt leaves the fragment', int3: 'interrupt leaves the fragment', int1: 'interrupt leaves the fragment',
  syscall: 'system call leaves the fragment', sysret: 'system call leaves the fragment',
  sysenter: 'system call leaves the fragment', sysexit: 'system call leaves the fragment',
  mov_to_sreg: 'segment load', pop_sreg: 'segment load', push_sreg: 'segment registers belong to the test machine',
  sldt: 'system state', str: 'system state', smsw: 'system state', sgdt: 'system state', sidt: 'system state',
  cli: 'changes interrupt delivery', sti: 'changes interrupt delivery',
  cpuid: 'differs by design (sync rule)', rdtsc: 'non-deterministic (sync rule)',
  rdpmc: 'performance counters: not modelled (#UD, as QEMU 7.2 TCG)',
  hlt: 'stops the CPU',
  // generated in protected32 (legacy-rows.ts); in IA-32e mode QEMU 7.2 applies the legacy
  // descriptor types (known deviations, in the differential suite), and random selectors read
  // zero descriptors (type 0, which the SDM's IA-32e LSL column accepts) everywhere
  lar: 'IA-32e descriptor types: QEMU 7.2 applies the legacy ones (known deviation)',
  lsl: 'IA-32e descriptor types: QEMU 7.2 applies the legacy ones (known deviation)',
  // a selector from random memory names a descriptor anywhere in the low 64 KiB (the GDT's base is
  // 0): in pages a case does not set up (the stack below RSP), which a batch leaves different in
  // QEMU (its guest runner) and in the emulator (native): the case then agrees alone and differs
  // in a campaign (npm start, seed 1283380220: LGS, VERR). Generated in protected32, case by case
  verify: 'reads a descriptor a random selector names, outside the case\'s memory',
  load_far_pointer: 'segment load (a descriptor a random selector names, outside the case\'s memory)',
  // the state they load comes from random memory: MXCSR reserved bits nearly always (#GP(0), a
  // known QEMU deviation); the program's prologue sets MXCSR instead (program.ts), the
  // differential suite covers both
  ldmxcsr: 'loads MXCSR from random memory (the prologue sets it)',
  fxrstor: 'loads x87/SSE state from random memory',
  rdtscp: 'non-deterministic (sync rule)', rdrand: 'non-deterministic (sync rule)',
  xsave: 'XSAVE state: CR4.OSXSAVE is clear on the test machine', xrstor: 'XSAVE state: CR4.OSXSAVE is clear on the test machine',
  xsaveopt: 'XSAVE state: CR4.OSXSAVE is clear on the test machine', xgetbv: 'XSAVE state: CR4.OSXSAVE is clear on the test machine',
  rdfsbase: 'CR4.FSGSBASE is clear on the test machine', rdgsbase: 'CR4.FSGSBASE is clear on the test machine',
  wrfsbase: 'CR4.FSGSBASE is clear on the test machine', wrgsbase: 'CR4.FSGSBASE is clear on the test machine',
  rdpid: 'non-deterministic (TSC_AUX; QEMU 7.2 TCG has no RDPID)',
};

/** SIMD rows without an XMM/MMX operand. */
const SIMD_STATE_HANDLERS = new Set(['fxsave', 'fxrstor', 'ldmxcsr', 'stmxcsr', 'emms', 'movnti']);

/** Rows of the sse family: an XMM or MMX operand, or MXCSR/FXSAVE state. */
export function isSimdRow(row: IsaRow): boolean {
  return row.operands.some((o) => isSimdKind(o.kind)) || SIMD_STATE_HANDLERS.has(row.handler);
}

/**
 * Why a row is not generated, or undefined when it is. `features`: what the CPU model compared has
 * (`--cpu`); a row that needs another feature is #UD on both sides and is not generated.
 */
export function skipReason(row: IsaRow, features?: ReadonlySet<Feature>): string | undefined {
  if (row.invalid64 || row.mnemonic === '(bad)') return 'invalid in 64-bit mode';
  if (row.privileged || row.ioPrivileged) return 'privileged';
  if (row.feature !== undefined && !features?.has(row.feature)) return `needs CPU feature ${row.feature}`;
  if (row.operands.some((o) => o.kind === Kind.J)) return 'relative branch leaves the fragment';
  if (row.operands.some((o) => o.kind === Kind.C || o.kind === Kind.D)) return 'control/debug registers';
  return SKIPPED_HANDLERS[row.handler];
}

/** The per-row "generatable" predicate the coverage report uses. */
export function isGeneratable(row: IsaRow, features?: ReadonlySet<Feature>): boolean {
  return skipReason(row, features) === undefined;
}

export const FAMILIES = ['alu', 'shift', 'muldiv', 'bit', 'mov', 'string', 'stack', 'flags', 'cmov-set', 'atomic', 'misc', 'sse', 'x87', 'system', ...LEGACY_FAMILIES] as const;
export type Family = (typeof FAMILIES)[number];
/** Families whose cases come from a generator of their own (a CPU mode, or the system family's templates): each runs alone. */
const SOLO_FAMILIES: readonly string[] = [...LEGACY_FAMILIES, 'system'];

/**
 * The rows the `system` family's templates aim at (harness/generate/system-family.ts): privileged
 * instructions at CPL 0, and the XSAVE/FXRSTOR state instructions, for a model with `features`.
 */
export function systemRows(features?: ReadonlySet<Feature>): IsaRow[] {
  return ALL_ROWS.filter((r) => SYSTEM_ROW_HANDLERS.has(r.handler) && (r.handler !== 'nop' || r.privileged) && (r.feature === undefined || features?.has(r.feature) === true));
}
const SYSTEM_ROW_HANDLERS = new Set(['cli', 'lmsw', 'invlpg', 'swapgs', 'clts', 'nop', 'mov_from_cr', 'mov_from_dr', 'mov_to_cr', 'mov_to_dr', 'wrmsr', 'rdmsr', 'fxrstor', 'xsave', 'xrstor', 'xsaveopt', 'xgetbv', 'xsetbv']);
/**
 * Families a campaign without `--family` draws from: the integer ISA in 64-bit mode. The SIMD and
 * x87 families carry a state prologue and a larger batch record (harness/batch), and the legacy-mode
 * ones a CPU mode of their own, so they are asked for by name.
 */
export const DEFAULT_FAMILIES: readonly Family[] = FAMILIES.filter((f) => f !== 'sse' && f !== 'x87' && !SOLO_FAMILIES.includes(f));

const FAMILY_BY_HANDLER: Record<string, Family> = {
  alu: 'alu', test: 'alu', not: 'alu', neg: 'alu', inc: 'alu', dec: 'alu',
  shift: 'shift', shld: 'shift', shrd: 'shift',
  mul: 'muldiv', imul1: 'muldiv', imul2: 'muldiv', imul3: 'muldiv', div: 'muldiv', idiv: 'muldiv',
  bt: 'bit', bsf: 'bit', bsr: 'bit', bswap: 'bit', popcnt: 'bit', tzcnt: 'bit', lzcnt: 'bit',
  andn: 'bit', bextr: 'bit', blsi: 'bit', blsmsk: 'bit', blsr: 'bit',
  mov: 'mov', mov_imm: 'mov', movzx: 'mov', movsx: 'mov', movsxd: 'mov', lea: 'mov', cbw: 'mov', cwd: 'mov',
  mov_from_sreg: 'mov', xlat: 'mov', movbe: 'mov',
  movs: 'string', cmps: 'string', stos: 'string', lods: 'string', scas: 'string',
  push: 'stack', pop: 'stack', pushf: 'stack', popf: 'stack', enter: 'stack', leave: 'stack',
  clc: 'flags', stc: 'flags', cmc: 'flags', cld: 'flags', std: 'flags', sahf: 'flags', lahf: 'flags',
  cmov: 'cmov-set', setcc: 'cmov-set',
  xchg: 'atomic', xadd: 'atomic', cmpxchg: 'atomic', cmpxchg8b: 'atomic',
};

export function familyOf(row: IsaRow): Family {
  if (isSimdRow(row)) return 'sse';
  if (isX87Row(row)) return 'x87';
  return FAMILY_BY_HANDLER[row.handler] ?? 'misc';
}

/** Rows of the x87 family: the D8–DF escapes and FWAIT. */
export function isX87Row(row: IsaRow): boolean {
  return row.handler === 'x87' || row.handler === 'fwait';
}

/** The width of a mode's code: what keystone and iced are set to. */
export function codeBitsOf(mode: GenerationMode): 16 | 32 | 64 {
  return mode === 'long64' ? 64 : mode === 'protected32' ? 32 : 16;
}

/** Throws an error listing the valid families when a name is unknown, or when a legacy-mode family is mixed with others. */
export function parseFamilies(names: readonly string[]): Family[] {
  for (const n of names) {
    if (!(FAMILIES as readonly string[]).includes(n)) throw new RangeError(`unknown family '${n}'; valid families: ${FAMILIES.join(', ')}`);
  }
  const solo = names.filter((n) => SOLO_FAMILIES.includes(n));
  if (solo.length > 0 && new Set(names).size > 1) {
    const why = solo[0] === 'system' ? 'has a generator of its own (privileged templates)' : 'runs in its own CPU mode';
    throw new RangeError(`family '${solo[0]}' ${why} and cannot be mixed with other families; run it alone`);
  }
  return names as Family[];
}

/** The CPU mode programs of these families run in (a legacy-mode family selects its mode). */
export function modeOfFamilies(families: readonly Family[] | undefined): GenerationMode {
  return families?.includes('protected32') ? 'protected32' : families?.includes('real16') ? 'real16' : 'long64';
}

/**
 * Rows keystone cannot spell: it assembles `nop <r/m>` as the reserved-NOP 0F 18 form, so the
 * hint NOP rows 0F 18–1F are raw-mode only.
 */
export function keystoneCanExpress(row: IsaRow): boolean {
  if (row.handler === 'nop' && row.operands.length > 0) return false;
  // x87 encodings the SDM leaves unlisted (QEMU's aliases) and the 287-only FENI/FDISI/FSETPM
  return !(row.handler === 'x87' && (row.mnemonic.endsWith('(alias)') || X87_NO_KEYSTONE.has(row.mnemonic)));
}
/** x87 rows keystone has no spelling for. */
const X87_NO_KEYSTONE = new Set(['FENI', 'FDISI', 'FSETPM']);

/** Generatable rows of `families` (default: DEFAULT_FAMILIES) that the encoder can express, for a CPU with `features`. */
export function generatableRows(families?: readonly Family[], encoder: Encoder = 'raw', features?: ReadonlySet<Feature>): IsaRow[] {
  // protected32 is the integer ISA: SSE/MMX/x87 rows belong to the (64-bit) sse and x87 families
  const mode = modeOfFamilies(families);
  if (mode !== 'long64') {
    const skip = mode === 'real16' ? skipReason16 : skipReason32;
    return encoder === 'keystone' ? ALL_ROWS.filter((r) => skip(r) === undefined && !isSimdRow(r) && !isX87Row(r) && keystoneCanExpress(r)) : [];
  }
  if (families?.includes('system')) return systemRows(features);
  const selected = families ?? DEFAULT_FAMILIES;
  return ALL_ROWS.filter((r) => isGeneratable(r, features) && selected.includes(familyOf(r)) && (encoder === 'raw' || keystoneCanExpress(r)));
}

/** Operand sizes (bytes) a row's 'v' operands can take, from its size rule (and what keystone can spell). */
export function operandSizes(row: IsaRow, encoder: Encoder = 'raw', mode: GenerationMode = 'long64'): Array<2 | 4 | 8> {
  if (mode === 'protected32') return operandSizes32(row);
  if (mode === 'real16') return operandSizes16(row);
  const extension = ['movzx', 'movsx', 'movsxd'].includes(row.handler);
  if (encoder === 'keystone' && extension) {
    // keystone refuses an extension whose destination is not wider than its source (movzx ax, cx; movsxd eax, ecx)
    const source = row.operands[1]?.size ?? 1;
    return ([2, 4, 8] as const).filter((s) => s > source);
  }
  if (row.sizeRule === 'f64') return [8];
  if (row.vex) return [4, 8]; // VEX.W; BMI1's operands are 32 or 64 bits
  // SIMD rows: only a y-sized general operand (MOVD/MOVQ, CVTSI2SS…, MOVNTI) follows REX.W; 0x66 is a mandatory prefix there
  if (isSimdRow(row)) return row.operands.some((o) => o.size === -3) ? [4, 8] : [4];
  // x87: 0x66 only changes FLDENV/FNSTENV/FRSTOR/FNSAVE's image to the 16-bit one (not generated)
  if (isX87Row(row)) return [4];
  if (row.handler === 'bswap') return [4, 8]; // BSWAP r16 is undefined (SDM)
  if (row.sizeRule === 'd64') return row.operands.length === 0 ? [8] : [2, 8];
  return [2, 4, 8];
}

/** Size in bytes of an operand form for an operation size (undefined: no size, e.g. LEA's M). */
export function formSize(form: OperandForm, opSize: 2 | 4 | 8): number | undefined {
  switch (form.size) {
    case 1: case 2: case 4: case 8: return form.size;
    case -1: return opSize; // v
    case -2: return opSize === 2 ? 2 : 4; // z
    case -3: return opSize === 8 ? 8 : 4; // y
    default: return undefined;
  }
}

const SUFFIX: Record<number, string> = { 1: 'b', 2: 'w', 4: 'd', 8: 'q' };
const IMPLICIT_SIZE_MNEMONICS: Record<string, Record<number, string>> = {
  cbw: { 2: 'cbw', 4: 'cwde', 8: 'cdqe' },
  cwd: { 2: 'cwd', 4: 'cdq', 8: 'cqo' },
};

/** The keystone mnemonic for a row at an operation size (string ops and CBW/CWD spell the size). */
export function textMnemonic(row: IsaRow, opSize: 2 | 4 | 8): string {
  // by row id and size: every generated line asks (a lowercase copy and a regex replace each time otherwise)
  const key = row.id * 3 + (opSize >> 2);
  return (TEXT_MNEMONIC[key] ??= spellMnemonic(row, opSize));
}
const TEXT_MNEMONIC: string[] = [];

function spellMnemonic(row: IsaRow, opSize: 2 | 4 | 8): string {
  const m = row.mnemonic.toLowerCase();
  const implicit = IMPLICIT_SIZE_MNEMONICS[row.handler];
  if (implicit) return implicit[opSize]!;
  if (row.operands.some((o) => o.kind === Kind.X || o.kind === Kind.Y)) {
    const size = row.operands.some((o) => o.size === 1) ? 1 : opSize;
    return m.replace(/[bwdq]$/, '') + SUFFIX[size];
  }
  switch (m) {
    case 'pushf': return opSize === 4 ? 'pushfd' : opSize === 2 ? 'pushf' : 'pushfq';
    case 'popf': return opSize === 4 ? 'popfd' : opSize === 2 ? 'popf' : 'popfq';
    case 'pusha': return opSize === 4 ? 'pushad' : 'pushaw';
    case 'popa': return opSize === 4 ? 'popad' : 'popaw';
    case 'fwait': return 'wait';
    case 'xlat': return 'xlatb';
    case 'fstp (alias)': case 'fxch (alias)': case 'fcom (alias)': case 'fcomp (alias)': case 'ffreep (alias)': return m.replace(' (alias)', '');
    case 'movd': return opSize === 8 ? 'movq' : 'movd';
    case 'cmpxchg8b': return opSize === 8 ? 'cmpxchg16b' : 'cmpxchg8b';
    default: return m;
  }
}
