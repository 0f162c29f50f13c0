/**
 * x86-aware reduction steps. Each one proposes a simpler variant of one instruction or of the
 * initial state; the minimizer keeps the first variant that still fails and starts over, until
 * no step applies (a greedy fixpoint). Every rewritten encoding is decoded again with iced-x86
 * and must stay one valid instruction with the same mnemonic, so a step never turns the case
 * into a different instruction by accident (the caller's signature check guards the rest).
 */
import { Decoder, DecoderOptions, OpKind } from 'iced-x86';
import type { Case } from '../../corpus/case-schema.js';
import { rewriteInstruction, caseInstructions, withInstructions, type CodeInstruction } from './instructions.js';

export interface Candidate {
  readonly case: Case;
  /** What was applied, for the minimization log, e.g. `drop prefix 0x66: add ax, bx`. */
  readonly step: string;
}

export interface InstructionRewrite {
  readonly step: string;
  readonly bytes: Uint8Array;
}

/** Legacy prefixes: operand size, address size, LOCK, REPNE/REP, segment overrides. */
const LEGACY_PREFIXES = new Set([0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65]);
const PREFIX_NAMES: Record<number, string> = {
  0x66: 'operand-size 0x66', 0x67: 'address-size 0x67', 0xf0: 'LOCK', 0xf2: 'REPNE 0xf2', 0xf3: 'REP 0xf3',
  0x2e: 'CS override', 0x36: 'SS override', 0x3e: 'DS override', 0x26: 'ES override', 0x64: 'FS override', 0x65: 'GS override',
};
const REX_BITS = [
  { bit: 0x08, name: 'REX.W', why: 'narrow operand size 64 → 32' },
  { bit: 0x04, name: 'REX.R', why: 'ModRM.reg r8–r15 → rax–rdi' },
  { bit: 0x02, name: 'REX.X', why: 'SIB.index r8–r15 → rax–rdi' },
  { bit: 0x01, name: 'REX.B', why: 'base/rm r8–r15 → rax–rdi' },
] as const;

/** Where the parts of a (non-VEX) encoding sit: legacy prefixes, REX, opcode, ModRM. */
interface EncodingLayout {
  readonly prefixes: number[];
  readonly rex?: number;
  readonly opcode: number;
  readonly opcodeLength: number;
}

/** `bits`: the code width; 40–4F are REX in 64-bit code only (INC/DEC elsewhere). */
function parseLayout(bytes: Uint8Array, bits: 16 | 32 | 64): EncodingLayout | undefined {
  let i = 0;
  const prefixes: number[] = [];
  while (i < bytes.length && LEGACY_PREFIXES.has(bytes[i]!)) prefixes.push(i++);
  let rex: number | undefined;
  if (bits === 64 && i < bytes.length && (bytes[i]! & 0xf0) === 0x40) rex = i++;
  if (i >= bytes.length) return undefined;
  const b = bytes[i]!;
  if (b === 0xc4 || b === 0xc5 || b === 0x62 || b === 0x8f) return { prefixes, rex, opcode: i, opcodeLength: 0 }; // VEX/EVEX/XOP: prefixes only
  const opcodeLength = b !== 0x0f ? 1 : bytes[i + 1] === 0x38 || bytes[i + 1] === 0x3a ? 3 : 2;
  return { prefixes, rex, opcode: i, opcodeLength };
}

function without(bytes: Uint8Array, index: number): Uint8Array {
  return Uint8Array.from([...bytes.subarray(0, index), ...bytes.subarray(index + 1)]);
}

/** Prefix drops and REX bit clears (each keeps one valid instruction with the same mnemonic). */
function prefixRewrites(ins: CodeInstruction, layout: EncodingLayout): InstructionRewrite[] {
  const out: InstructionRewrite[] = [];
  for (const at of layout.prefixes) {
    out.push({ step: `drop ${PREFIX_NAMES[ins.bytes[at]!]} prefix`, bytes: without(ins.bytes, at) });
  }
  if (layout.rex !== undefined) {
    const rex = ins.bytes[layout.rex]!;
    // A bare REX (0x40) only changes which byte registers are meant (spl vs ah): drop it.
    if (rex === 0x40) out.push({ step: 'drop empty REX prefix', bytes: without(ins.bytes, layout.rex) });
    for (const { bit, name, why } of REX_BITS) {
      if (!(rex & bit)) continue;
      const bytes = Uint8Array.from(ins.bytes);
      bytes[layout.rex] = rex & ~bit;
      out.push({ step: `clear ${name} (${why})`, bytes });
    }
  }
  return out;
}

/** Where iced saw the displacement of the instruction's memory operand, if it has one. */
function explicitMemoryOperand(bytes: Uint8Array, bits: 16 | 32 | 64): { dispOffset?: number } | undefined {
  const decoder = new Decoder(bits, bytes, DecoderOptions.None);
  const ins = decoder.decode();
  const offsets = decoder.getConstantOffsets(ins);
  try {
    const kinds = Array.from({ length: ins.opCount }, (_, i) => ins.opKind(i));
    if (!kinds.includes(OpKind.Memory)) return undefined;
    return offsets.hasDisplacement ? { dispOffset: offsets.displacementOffset } : {};
  } finally {
    offsets.free();
    ins.free();
    decoder.free();
  }
}

/**
 * Memory operand → register: ModRM.mod = 3 with rm = 0 (rax/eax/ax/al), dropping SIB and
 * displacement and clearing REX.X/REX.B. A register operand takes no address computation, no
 * page walk and no memory contents, so when the bug survives this it was not about memory.
 */
function memoryToRegister(ins: CodeInstruction, layout: EncodingLayout): InstructionRewrite | undefined {
  if (layout.opcodeLength === 0) return undefined;
  const modrmAt = layout.opcode + layout.opcodeLength;
  const memory = explicitMemoryOperand(ins.bytes, ins.bits);
  if (!memory || modrmAt >= ins.bytes.length) return undefined;
  const modrm = ins.bytes[modrmAt]!;
  const mod = modrm >> 6;
  const rm = modrm & 7;
  if (mod === 3) return undefined;
  // 16-bit addressing (16-bit code without 0x67, 32-bit code with it): no SIB, 16-bit displacements
  const prefix67 = layout.prefixes.some((p) => ins.bytes[p] === 0x67);
  const addr16 = ins.bits === 16 ? !prefix67 : ins.bits === 32 && prefix67;
  const hasSib = rm === 4 && !addr16;
  const sibBase = hasSib ? ins.bytes[modrmAt + 1]! & 7 : -1;
  const dispSize = addr16 ? (mod === 1 ? 1 : mod === 2 || rm === 6 ? 2 : 0) : mod === 1 ? 1 : mod === 2 ? 4 : rm === 5 || sibBase === 5 ? 4 : 0;
  const dispAt = modrmAt + 1 + (hasSib ? 1 : 0);
  // Cross-check the hand parse against iced before cutting bytes out (moffs forms, 3DNow!…).
  if ((dispSize > 0 ? dispAt : undefined) !== memory.dispOffset) return undefined;
  const bytes = Uint8Array.from([
    ...ins.bytes.subarray(0, modrmAt),
    0xc0 | (modrm & 0x38),
    ...ins.bytes.subarray(dispAt + dispSize),
  ]);
  if (layout.rex !== undefined) bytes[layout.rex] = ins.bytes[layout.rex]! & ~0x03;
  return { step: 'replace memory operand by register', bytes };
}

/** Every rewrite of one instruction that decodes to a valid instruction with the same mnemonic, simplest first. */
export function instructionRewrites(ins: CodeInstruction): InstructionRewrite[] {
  if (ins.invalid) return [];
  const layout = parseLayout(ins.bytes, ins.bits);
  if (!layout) return [];
  const toRegister = memoryToRegister(ins, layout);
  const all = [...prefixRewrites(ins, layout), ...(toRegister ? [toRegister] : [])];
  return all.filter((r) => {
    const decoded = rewriteInstruction(ins, r.bytes);
    return decoded !== undefined && decoded.mnemonic === ins.mnemonic;
  });
}

/** Candidates that rewrite one instruction of `c` (relative fields re-aimed by the layout). */
export function* instructionCandidates(c: Case): Generator<Candidate> {
  const instructions = caseInstructions(c);
  // the reset prologue (`keep`) writes the reset values: rewriting them would read QEMU's leftovers
  for (let i = c.keep ?? 0; i < instructions.length; i++) {
    const ins = instructions[i]!;
    for (const rewrite of instructionRewrites(ins)) {
      const replaced = rewriteInstruction(ins, rewrite.bytes);
      if (!replaced) continue;
      const candidate = withInstructions(c, instructions.map((x, j) => (j === i ? replaced : x)));
      if (!candidate) continue;
      // Describe the result as laid out (with its re-aimed displacement), not as first decoded.
      const after = caseInstructions(candidate)[i]!;
      yield { case: candidate, step: `${rewrite.step}: ${describeBytes(ins)} → ${describeBytes(after)}` };
    }
  }
}

function describeBytes(ins: CodeInstruction): string {
  return `${ins.text} (${Buffer.from(ins.bytes).toString('hex')})`;
}

/** Candidates that simplify the initial state: each register back to its default, RFLAGS → 0x2. */
export function* stateCandidates(c: Case): Generator<Candidate> {
  for (const [name, value] of Object.entries(c.regs)) {
    if (value === undefined) continue;
    const regs = { ...c.regs };
    delete regs[name as keyof typeof regs];
    yield { case: { ...c, regs }, step: `reset ${name} (was 0x${value.toString(16)})` };
  }
  if (c.rflags !== undefined && c.rflags !== 0x2n) {
    const { rflags: _dropped, ...rest } = c;
    yield { case: rest, step: `rflags 0x${c.rflags.toString(16)} → 0x2` };
  }
}
