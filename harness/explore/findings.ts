/**
 * Disagreements found by the explorer, grouped by opcode map, prefix class, instruction (iced-x86's
 * mnemonic) and what differs (kind, each side's outcome, the kinds of fields): a count, the opcode
 * bytes involved and the first example of each group.
 */
import { decodeOne } from '../asm/decode.js';
import type { CpuModel } from '../../emulator/cpu/cpu-model.js';
import { checkFeatures } from './cpuid-features.js';
import { GPR_BY_ENCODING } from '../../contracts/machine-state.js';
import { CODE_PAGE_END } from './explore-layout.js';
import { describeOutcome, fingerprint, vectorName, type DisagreementKind, type InstructionInfo, type RecordComparison } from './outcome.js';
import type { SpaceSeed } from './space.js';
import { NEEDS_MORE } from './tunnel.js';

export interface ExploreFinding {
  /** The candidate's bytes, hex. */
  readonly bytes: string;
  /** iced-x86's disassembly, or `(bad)` where it decodes none. */
  readonly text: string;
  readonly kind: DisagreementKind;
  readonly fields: readonly string[];
  readonly qemu: string;
  readonly emulator: string;
}

export interface FindingGroup {
  readonly map: string;
  readonly prefixClass: string;
  readonly kind: DisagreementKind;
  /** Each side's outcome class, e.g. `executes`, `#UD`, `needs more bytes`. */
  readonly qemu: string;
  readonly emulator: string;
  /** What differs, registers folded into `registers`. */
  readonly what: string;
  count: number;
  /** Opcode bytes (the first walked byte) of the group's candidates. */
  readonly opcodes: number[];
  /** iced-x86's mnemonic of the group's candidates, or `(undefined)` where iced decodes no instruction. */
  readonly mnemonic: string;
  readonly example: ExploreFinding;
  /**
   * Which side the CPU model supports, where one side raises #UD and the other does not: iced's
   * CPUID features for the first candidate it decodes, read against the model's CPUID.
   */
  hint?: string;
}


/** The outcome's class: what a group is keyed by. */
export function outcomeClass(words: Uint32Array, length: number): string {
  const fp = fingerprint(words, length);
  if (fp === NEEDS_MORE) return 'needs more bytes';
  if (fp.startsWith('t') || fp === 'b') return 'executes';
  const v = vectorName(Number(fp.slice(1)));
  return fp.startsWith('y') ? `runs on, then ${v}` : v;
}

const GPR_NAMES = new Set<string>(GPR_BY_ENCODING);

/** iced-x86's view of a candidate: what the comparison masks by, and the text for the report. */
export function instructionInfo(bytes: Uint8Array): InstructionInfo | undefined {
  const d = decodeOne(bytes, CODE_PAGE_END - BigInt(bytes.length));
  if (d.invalid || d.length !== bytes.length) return undefined;
  return { mnemonic: d.mnemonic, text: d.text, undefinedFlags: d.flags.undefined };
}

/**
 * The model's say on a #UD disagreement: the SDM makes an instruction #UD exactly when the CPUID
 * bit of its feature is clear (and iced-x86 names no instruction for an undefined encoding).
 */
export function featureHint(bytes: Uint8Array, qemuClass: string, emuClass: string, model: CpuModel): string | undefined {
  const qUd = qemuClass === '#UD';
  const eUd = emuClass === '#UD';
  if (qUd === eUd || qemuClass === 'needs more bytes' || emuClass === 'needs more bytes') return undefined;
  const runs = qUd ? 'the emulator' : 'QEMU';
  const rejects = qUd ? 'QEMU' : 'the emulator';
  const check = checkFeatures(bytes, model);
  if (!check) return `iced-x86 decodes no instruction here: ${runs} accepts an encoding the SDM leaves undefined`;
  if (check.missing.length) return `needs ${check.missing.join(', ')}, which the model lacks: ${runs} should raise #UD`;
  if (check.unknown.length) return `needs ${check.unknown.join(', ')} (not checked against the model)`;
  return `${check.features.length ? `needs ${check.features.join(', ')}, which the model has` : 'a baseline instruction'}: ${rejects} should not raise #UD`;
}

export class Findings {
  readonly groups = new Map<string, FindingGroup>();
  total = 0;

  constructor(private readonly model: CpuModel) {}

  add(seed: SpaceSeed, bytes: Uint8Array, qemu: Uint32Array, emu: Uint32Array, cmp: RecordComparison, info: InstructionInfo | undefined): void {
    const kind = cmp.kind;
    if (!kind) return;
    this.total++;
    const n = bytes.length;
    const what = [...new Set(cmp.fields.map((f) => (GPR_NAMES.has(f) ? 'registers' : f)))].join(', ');
    const q = outcomeClass(qemu, n);
    const e = outcomeClass(emu, n);
    const mnemonic = info?.mnemonic ?? '(undefined)';
    const key = [seed.map, seed.prefixClass, kind, q, e, what, mnemonic].join('|');
    const opcode = bytes[seed.fixed.length]!;
    const group = this.groups.get(key);
    if (group) {
      group.count++;
      if (!group.opcodes.includes(opcode)) group.opcodes.push(opcode);
      if (info && group.hint === undefined) group.hint = featureHint(bytes, q, e, this.model);
      return;
    }
    const hex = Buffer.from(bytes).toString('hex').replace(/(..)(?!$)/g, '$1 ');
    const text = info?.text ?? decodeOne(bytes, CODE_PAGE_END - BigInt(n)).text;
    this.groups.set(key, {
      map: seed.map,
      prefixClass: seed.prefixClass,
      kind,
      qemu: q,
      emulator: e,
      what,
      count: 1,
      opcodes: [opcode],
      mnemonic,
      hint: info ? featureHint(bytes, q, e, this.model) : undefined,
      example: { bytes: hex, text, kind, fields: cmp.fields, qemu: describeOutcome(qemu, n), emulator: describeOutcome(emu, n) },
    });
  }

  /** Groups, largest first. */
  sorted(): FindingGroup[] {
    return [...this.groups.values()].sort((a, b) => b.count - a.count || a.map.localeCompare(b.map) || a.prefixClass.localeCompare(b.prefixClass));
  }
}
