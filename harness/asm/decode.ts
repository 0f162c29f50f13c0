/**
 * iced-x86 based decoding: the independent checker for keystone's output and the source of
 * per-instruction RFLAGS read/written/undefined masks (mapped to architectural RFLAGS bits).
 * Every iced object (Decoder, Instruction, OpCodeInfo, Formatter) is wasm-backed and freed here.
 */
import {
  Decoder,
  DecoderOptions,
  Formatter,
  FormatterSyntax,
  Instruction,
  Mnemonic,
  Code,
  RflagsBits,
} from 'iced-x86';

/** Architectural RFLAGS bit masks. */
export const RFLAGS = {
  CF: 0x1,
  PF: 0x4,
  AF: 0x10,
  ZF: 0x40,
  SF: 0x80,
  TF: 0x100,
  IF: 0x200,
  DF: 0x400,
  OF: 0x800,
  AC: 0x40000,
} as const;

/** iced `RflagsBits` (OF=1, SF=2, ZF=4, AF=8, CF=16, PF=32, DF=64, IF=128, AC=256) → RFLAGS bits. */
export function icedRflagsToArch(bits: number): number {
  let r = 0;
  if (bits & RflagsBits.CF) r |= RFLAGS.CF;
  if (bits & RflagsBits.PF) r |= RFLAGS.PF;
  if (bits & RflagsBits.AF) r |= RFLAGS.AF;
  if (bits & RflagsBits.ZF) r |= RFLAGS.ZF;
  if (bits & RflagsBits.SF) r |= RFLAGS.SF;
  if (bits & RflagsBits.IF) r |= RFLAGS.IF;
  if (bits & RflagsBits.DF) r |= RFLAGS.DF;
  if (bits & RflagsBits.OF) r |= RFLAGS.OF;
  if (bits & RflagsBits.AC) r |= RFLAGS.AC;
  return r;
}

export interface FlagsInfo {
  /** flags the instruction reads */
  read: number;
  /** flags written with a defined, result-dependent value (iced's rflagsWritten) */
  written: number;
  /** flags always cleared */
  cleared: number;
  /** flags always set */
  set: number;
  /** flags left architecturally undefined: mask them when comparing */
  undefined: number;
  /** written | cleared | set | undefined */
  modified: number;
}

export interface DecodedInstruction {
  address: bigint;
  length: number;
  bytes: Uint8Array;
  /** nasm-like Intel text, lowercase, `0x` hex, `[rip+0x…]` for RIP-relative operands */
  text: string;
  /** lowercase mnemonic, e.g. `add`, `movsd`, `je` */
  mnemonic: string;
  /** iced Code name, e.g. `Add_r64_rm64` */
  code: string;
  /** opcode string, e.g. `o64 03 /r` */
  opcode: string;
  /** instruction form, e.g. `ADD r64, r/m64` */
  form: string;
  /** RFLAGS masks in architectural bit positions (CF=1, PF=4, AF=0x10, ZF=0x40, SF=0x80, DF=0x400, OF=0x800) */
  flags: FlagsInfo;
  /** decoder found no valid instruction here */
  invalid: boolean;
}

let formatter: Formatter | undefined;
/** Shared formatter configured for nasm-like lowercase output with `0x` hex. */
export function getFormatter(): Formatter {
  if (!formatter) {
    const f = new Formatter(FormatterSyntax.Nasm);
    f.hexPrefix = '0x';
    f.hexSuffix = '';
    f.uppercaseHex = false;
    f.addLeadingZeroToHexNumbers = false;
    f.spaceAfterOperandSeparator = true;
    f.ripRelativeAddresses = true;
    f.showBranchSize = false;
    formatter = f;
  }
  return formatter;
}

export function flagsOf(ins: Instruction): FlagsInfo {
  return {
    read: icedRflagsToArch(ins.rflagsRead),
    written: icedRflagsToArch(ins.rflagsWritten),
    cleared: icedRflagsToArch(ins.rflagsCleared),
    set: icedRflagsToArch(ins.rflagsSet),
    undefined: icedRflagsToArch(ins.rflagsUndefined),
    modified: icedRflagsToArch(ins.rflagsModified),
  };
}

/** Build the plain-data view of a live iced instruction whose bytes start at `offset` in `bytes`. */
/** Per-Code static strings (the OpCodeInfo wasm object is created once per Code). */
const codeInfo = new Map<number, { code: string; mnemonic: string; opcode: string; form: string }>();
function infoFor(ins: Instruction): { code: string; mnemonic: string; opcode: string; form: string } {
  const c = ins.code;
  let info = codeInfo.get(c);
  if (!info) {
    const oc = ins.opCode;
    try {
      const invalid = c === Code.INVALID;
      info = {
        code: Code[c] ?? String(c),
        mnemonic: (Mnemonic[ins.mnemonic] ?? 'INVALID').toLowerCase(),
        opcode: invalid ? '' : oc.opCodeString,
        form: invalid ? '' : oc.instructionString,
      };
    } finally {
      oc.free();
    }
    codeInfo.set(c, info);
  }
  return info;
}

/** Lowercase mnemonic of a live iced instruction (as `describe` gives it), without formatting it. */
export function mnemonicOf(ins: Instruction): string {
  return infoFor(ins).mnemonic;
}

export function describe(ins: Instruction, bytes: Uint8Array, offset: number): DecodedInstruction {
  const invalid = ins.isInvalid;
  const info = infoFor(ins);
  const length = ins.length;
  const own = new Uint8Array(length); // a copy (Buffer#slice would return a view)
  own.set(bytes.subarray(offset, offset + length));
  return {
    address: ins.ip,
    length,
    bytes: own,
    text: invalid ? '(bad)' : getFormatter().format(ins),
    mnemonic: info.mnemonic,
    code: info.code,
    opcode: info.opcode,
    form: info.form,
    flags: flagsOf(ins),
    invalid,
  };
}

/**
 * Decode `bytes` as consecutive instructions and call `visit` with each live iced Instruction
 * (valid only during the call; it is freed afterwards) and its byte offset. Return false to stop.
 */
export function forEachInstruction(
  bytes: Uint8Array,
  address: bigint,
  bitness: 16 | 32 | 64,
  visit: (ins: Instruction, offset: number) => boolean | void,
): void {
  const decoder = new Decoder(bitness, bytes, DecoderOptions.None);
  const ins = new Instruction();
  try {
    decoder.ip = BigInt.asUintN(64, address);
    let offset = 0;
    while (decoder.canDecode) {
      decoder.decodeOut(ins);
      const more = visit(ins, offset);
      offset += ins.length;
      if (more === false) break;
    }
  } finally {
    ins.free();
    decoder.free();
  }
}

/** Decode every instruction in `bytes` (placed at `address`). */
export function decodeAll(bytes: Uint8Array, address: bigint = 0n, bitness: 16 | 32 | 64 = 64): DecodedInstruction[] {
  const out: DecodedInstruction[] = [];
  forEachInstruction(bytes, address, bitness, (ins, offset) => {
    out.push(describe(ins, bytes, offset));
  });
  return out;
}

/** Decode exactly one instruction at the start of `bytes`. */
export function decodeOne(bytes: Uint8Array, address: bigint = 0n, bitness: 16 | 32 | 64 = 64): DecodedInstruction {
  let d: DecodedInstruction | undefined;
  forEachInstruction(bytes, address, bitness, (ins, offset) => {
    d = describe(ins, bytes, offset);
    return false;
  });
  if (!d) throw new Error('decodeOne: empty input');
  return d;
}
