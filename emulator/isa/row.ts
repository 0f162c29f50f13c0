import { flagMask } from './flags.js';
import { Kind, needsModrm, parseOperands, Size, type OperandForm } from './operand-forms.js';

export type OpMap = 'one' | '0f' | '0f38' | '0f3a';

/**
 * How the operand size is chosen in 64-bit mode:
 * - normal: 32, 16 with 0x66, 64 with REX.W
 * - d64: defaults to 64 (PUSH/POP/LEAVE…), 16 with 0x66, never 32
 * - f64: forced 64 (no prefix changes it)
 */
export type SizeRule = 'normal' | 'd64' | 'f64';

/** CPU features a row depends on; rows whose feature the CPU model lacks decode as their fallback or #UD. */
export type Feature = 'popcnt' | 'lzcnt' | 'bmi1' | 'bmi2' | 'movbe' | 'rdtscp' | 'rdrand' | 'xsave' | 'xsaveopt' | 'xgetbv1' | SystemFeature;

/** CPUID features of the system level: CR4 bits they make writable (cpu/system-features.ts), and their instructions. */
export type SystemFeature = 'smep' | 'smap' | 'umip' | 'fsgsbase' | 'rdpid' | 'pcid' | 'invpcid';

/** RowOptions.prefix: 'np' is the SDM's "NP", without 66, F2 or F3. */
export type MandatoryPrefix = 0x66 | 0xf2 | 0xf3 | 'none' | 'np';

export interface IsaRow {
  /** Position in the table (stable for one build; the coverage report counts by it). */
  id: number;
  readonly map: OpMap;
  readonly opcode: number;
  /** ModRM.reg for group rows (/digit). */
  readonly ext?: number;
  /** Restricts the row to register (mod = 3) or memory forms. */
  readonly mod?: 'reg' | 'mem';
  /** ModRM.rm for rows like 0F 01 F8 (SWAPGS). */
  readonly rm?: number;
  /** Mandatory prefix: the row applies only with this last F2/F3 prefix, or with 0x66 and neither F2 nor F3 ('none' = without F2/F3). */
  readonly prefix?: 0x66 | 0xf2 | 0xf3 | 'none';
  /** With prefix 'none': not with 0x66 either (the SDM's "NP": 66 selects another row or #UD). */
  readonly noOperandSizePrefix: boolean;
  readonly mnemonic: string;
  /** SDM operand notation, e.g. 'Eb,Gb'. */
  readonly forms: string;
  readonly operands: readonly OperandForm[];
  readonly modrm: boolean;
  readonly sizeRule: SizeRule;
  readonly flagsRead: number;
  readonly flagsWritten: number;
  /** Architecturally undefined after this instruction (subset of flagsWritten). */
  readonly flagsUndefined: number;
  /** LOCK allowed (memory destination only). */
  readonly lock: boolean;
  /** F3/F2 act as REP/REPE/REPNE. */
  readonly rep: 'none' | 'rep' | 'repcc';
  /** Key into the handler table (emulator/exec/handlers.ts). */
  readonly handler: string;
  /** Handler parameter (condition code, ALU operation, …). */
  readonly arg: number;
  readonly feature?: Feature;
  /**
   * The feature QEMU 7.2 checks before decoding the row, where it is not the SDM's `feature`
   * (BZHI, SARX, SHLX, SHRX: BMI1, not BMI2). The decoder follows it, since the emulator's CPU
   * models are QEMU's; the generator and the coverage table follow `feature`.
   */
  readonly qemuFeature?: Feature;
  /** Privileged (CPL 0 only; #GP(0) otherwise). */
  readonly privileged: boolean;
  /** Port I/O: allowed at CPL ≤ IOPL, else as the TSS I/O permission bit map says (checked by the handler). */
  readonly ioPrivileged: boolean;
  /** Not valid in 64-bit mode (#UD there). */
  readonly invalid64: boolean;
  /** Valid in 64-bit mode only: outside it the opcode means another row (MOVSXD / ARPL). */
  readonly only64: boolean;
  /** Legacy SSE: a 16-byte memory operand must be 16-byte aligned (#GP(0) otherwise). */
  readonly align16: boolean;
  /**
   * VEX-encoded (decode/vex.ts): `map` is VEX.mmmmm's map, `prefix` VEX.pp. Every VEX row so far is
   * an LZ form (BMI1's and BMI2's general-register rows): VEX.L = 1 is #UD.
   */
  readonly vex: boolean;
}

export interface RowOptions {
  ext?: number;
  mod?: 'reg' | 'mem';
  rm?: number;
  prefix?: MandatoryPrefix;
  size?: SizeRule;
  /** Flags read/written/undefined as SDM initials, e.g. 'oszapc'. */
  r?: string;
  w?: string;
  u?: string;
  lock?: boolean;
  rep?: 'rep' | 'repcc';
  handler?: string;
  arg?: number;
  feature?: Feature;
  qemuFeature?: Feature;
  priv?: boolean;
  io?: boolean;
  invalid64?: boolean;
  only64?: boolean;
  /** Forces a ModRM byte even when no operand names one (e.g. 0F 1F /0 NOP Ev is explicit anyway). */
  modrm?: boolean;
  /**
   * A 16-byte memory operand that may be misaligned (MOVUPS, MOVDQU, LDDQU…). Other legacy SSE
   * rows with a 16-byte memory operand require 16-byte alignment (SDM Vol. 1 §10.4/§11.4).
   */
  unaligned?: boolean;
  /** VEX-encoded (IsaRow.vex). */
  vex?: boolean;
}

export function row(map: OpMap, opcode: number, mnemonic: string, forms: string, o: RowOptions = {}): IsaRow {
  const operands = parseOperands(forms);
  // U and N name a register in ModRM.rm: such rows are register forms (their memory form is another row or #UD)
  const regOnly = operands.some((op) => op.kind === Kind.U || op.kind === Kind.N);
  const wide = operands.some((op) => (op.kind === Kind.W || op.kind === Kind.M) && op.size === Size.dq);
  return {
    id: -1,
    map,
    opcode,
    ext: o.ext,
    mod: o.mod ?? (regOnly ? 'reg' : undefined),
    rm: o.rm,
    prefix: o.prefix === 'np' ? 'none' : o.prefix,
    noOperandSizePrefix: o.prefix === 'np',
    mnemonic,
    forms,
    operands,
    modrm: o.modrm ?? (needsModrm(operands) || o.ext !== undefined),
    sizeRule: o.size ?? 'normal',
    flagsRead: flagMask(o.r ?? ''),
    flagsWritten: flagMask(o.w ?? ''),
    flagsUndefined: flagMask(o.u ?? ''),
    lock: o.lock ?? false,
    rep: o.rep ?? 'none',
    handler: o.handler ?? mnemonic.toLowerCase(),
    arg: o.arg ?? 0,
    feature: o.feature,
    qemuFeature: o.qemuFeature,
    privileged: o.priv ?? false,
    ioPrivileged: o.io ?? false,
    invalid64: o.invalid64 ?? false,
    only64: o.only64 ?? false,
    align16: wide && !o.unaligned,
    vex: o.vex ?? false,
  };
}

/** Condition-code suffixes in encoding order (tttn). */
export const CONDITIONS = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'] as const;

/** Flags each condition reads. */
export const CONDITION_FLAGS = ['o', 'o', 'c', 'c', 'z', 'z', 'cz', 'cz', 's', 's', 'p', 'p', 'so', 'so', 'szo', 'szo'] as const;
