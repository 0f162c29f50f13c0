import { CpuidFeature, Decoder, DecoderOptions, Instruction } from 'iced-x86';
import { getFormatter } from '../asm/decode.js';
import { describeBit, featureBit, hasFeature, type CpuidReader } from './cpuid-features.js';

/**
 * Why the host CPU, which runs cases at CPL 3 in a Linux process, cannot give a third opinion on
 * an instruction the test machine runs at CPL 0: what the SDM makes depend on privilege or on
 * the operating system's set-up rather than on the instruction, and what the host and the QEMU
 * model disagree on having (read from both CPUIDs).
 */

/** Mnemonics whose result at CPL 3 under Linux is not the test machine's, with why (one clause). */
const ENVIRONMENT: ReadonlyArray<readonly [RegExp, string]> = [
  [/^(sgdt|sidt|sldt|str|smsw)$/, 'the host kernel enables UMIP, so it raises #GP at CPL 3'],
  [/^(rdfsbase|rdgsbase|wrfsbase|wrgsbase)$/, 'it depends on CR4.FSGSBASE, which the test machine leaves clear and the host kernel sets'],
  [/^(lar|lsl|verr|verw|lds|les|lfs|lgs|lss|iret|iretd|iretq|retf|int|int1|into|syscall|sysret|sysretq|sysenter|sysexit|sysexitq|swapgs)$/,
    "it depends on descriptor tables and selectors, and the host's are Linux's, not the test machine's"],
  [/^(rdtsc|rdtscp|rdpid|rdrand|rdseed|rdpmc|rdpru)$/, 'its result is not deterministic (the comparison follows the oracle by declared rule)'],
  [/^cpuid$/, 'the host answers with its own CPUID, not the model\'s'],
  [/^(xgetbv|xsave|xsave64|xsavec|xsavec64|xsaveopt|xsaveopt64|xsaves|xsaves64|xrstor|xrstor64|xrstors|xrstors64)$/, 'it depends on XCR0, which the test machine leaves at its reset value'],
];

/** A segment register as an operand (not as a prefix: `fs:[…]`). */
const SEGMENT_OPERAND = /(?:^|[\s,])(?:es|cs|ss|ds|fs|gs)(?:$|,)/;

export interface InstructionFacts {
  readonly address: bigint;
  readonly text: string;
  readonly mnemonic: string;
  readonly privileged: boolean;
  /** iced-x86 CpuidFeature names the instruction needs. */
  readonly features: readonly string[];
}

/** The program's instructions as the host question needs them. */
export function instructionFacts(code: Uint8Array, address: bigint): InstructionFacts[] {
  const decoder = new Decoder(64, code, DecoderOptions.None);
  decoder.ip = address;
  const ins = new Instruction();
  const out: InstructionFacts[] = [];
  try {
    while (decoder.canDecode) {
      decoder.decodeOut(ins);
      if (ins.isInvalid) break;
      const text = getFormatter().format(ins);
      out.push({
        address: ins.ip,
        text,
        mnemonic: text.split(' ').find((w) => !/^(lock|rep|repe|repne|o16|o32|o64|a32|a64|data16|addr32)$/.test(w)) ?? text,
        privileged: ins.isPrivileged,
        features: [...ins.cpuidFeatures()].map((f) => CpuidFeature[f] ?? String(f)),
      });
    }
  } finally {
    ins.free();
    decoder.free();
  }
  return out;
}

export interface CpuidViews {
  readonly host: CpuidReader;
  /** The QEMU model's CPUID (the emulator's copy of it), when the model is one the emulator knows. */
  readonly model?: CpuidReader;
  readonly modelName: string;
}

/** Why the host cannot judge `ins` (one sentence), or undefined when it can. */
export async function hostCannotJudge(ins: InstructionFacts, cpuid: CpuidViews): Promise<string | undefined> {
  const what = `\`${ins.text}\``;
  if (ins.privileged) return `${what} is privileged: it raises #GP at CPL 3, where the host runs cases`;
  for (const [pattern, why] of ENVIRONMENT) if (pattern.test(ins.mnemonic)) return `${what}: ${why}`;
  if (SEGMENT_OPERAND.test(ins.text.slice(ins.mnemonic.length))) {
    return `${what} uses a segment register, and the host's selectors and descriptors are Linux's, not the test machine's`;
  }
  for (const feature of ins.features) {
    const onHost = await hasFeature(cpuid.host, feature);
    const onModel = cpuid.model ? await hasFeature(cpuid.model, feature) : undefined;
    if (onHost === undefined || onHost === onModel) continue;
    const b = featureBit(feature);
    const where = b && b !== 'always' ? ` (${describeBit(b)})` : '';
    if (!onHost) return `the host CPU lacks ${feature}${where}, which ${what} needs`;
    if (onModel === false) return `${cpuid.modelName} lacks ${feature}${where} but the host has it: the host runs ${what}, where the model must raise #UD`;
  }
  return undefined;
}

/**
 * Results the SDM leaves undefined, where the host (a real CPU of one vendor) is no better a
 * reference than either side: a table of rules on the divergent instruction and the state before it.
 */
export function undefinedResult(form: string, bytes: Uint8Array, before: { readonly gpr: { readonly rcx: bigint } }): string | undefined {
  // SHLD/SHRD (SDM Vol. 2): "If the count is greater than the operand size, the result is undefined"
  const shift = /^(SHLD|SHRD) r\/m(16|32|64), r\d+, (imm8|CL)$/.exec(form);
  if (shift) {
    const size = Number(shift[2]);
    const count = Number((shift[3] === 'CL' ? before.gpr.rcx : BigInt(bytes[bytes.length - 1]!)) & (size === 64 ? 0x3fn : 0x1fn));
    if (count > size) return `${shift[1]} with a count of ${count} on a ${size}-bit operand: the SDM leaves the result undefined (count > operand size)`;
  }
  return undefined;
}
