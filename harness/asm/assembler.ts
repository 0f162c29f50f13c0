/**
 * The checked assembler: keystone assembles, iced-x86 decodes the result again, and every decoded
 * instruction must match its source line (mnemonic, registers, memory operand, immediate values
 * and their ranges). keystone silently mis-encodes some forms (measured, keystone-wasm 1.0.4):
 *   mov sil, ah          → 40 88 e6          (= mov sil, spl)
 *   add al, 0x1234       → 04 34             (immediate truncated)
 *   push 0x80000000      → 66 68 00 00       (pushw 0)
 *   push 0xffffffff      → 66 68 ff ff       (pushw 0xffff)
 *   push 65535           → 6a ff             (push -1)
 * Such lines are rejected, never accepted. Each source line holds one instruction (or a label);
 * `;` and `#` start comments. Bare numbers are decimal, `0x10` / `10h` hex (see keystone.ts).
 */
import { Instruction, MemorySizeExt, Mnemonic, OpKind, Register } from 'iced-x86';
import { describe, forEachInstruction, type DecodedInstruction } from './decode.js';
import { getKeystone, KeystoneError, type CodeBits, type KeystoneX86 } from './keystone.js';
import { highByteRexConflict, parseInstruction, type SrcInstruction, type SrcOperand } from './operands.js';

export interface AssembledInstruction extends DecodedInstruction {
  /** index of the source line in the input array */
  line: number;
  source: string;
}

export type RejectKind =
  | 'syntax' // the line could not be parsed (by us or by keystone)
  | 'illegal' // an encoding that cannot exist (high-byte register with REX)
  | 'mismatch' // keystone produced bytes that decode to something else
  | 'internal'; // keystone unavailable

export type AsmResult =
  | { ok: true; bytes: Uint8Array; instructions: AssembledInstruction[] }
  | { ok: false; line: number; source: string; reason: string; kind: RejectKind };

/** Where each source line's instruction landed (what a generator needs; no iced text or flags). */
export interface PlacedInstruction {
  line: number;
  address: bigint;
  length: number;
  /** a view into the assembled bytes */
  bytes: Uint8Array;
}
export type LeanAsmResult =
  | { ok: true; bytes: Uint8Array; instructions: PlacedInstruction[] }
  | Extract<AsmResult, { ok: false }>;

const MASK64 = (1n << 64n) - 1n;

let sharedKs: KeystoneX86 | undefined;
/**
 * Load keystone (once per code width). Needed before the synchronous `assembleChecked` without an
 * explicit instance, which uses the 64-bit one; pass the 32-bit instance to assemble `bits 32`
 * code (the bytes are then decoded by iced in 32-bit mode).
 */
export async function initAssembler(bits: CodeBits = 64): Promise<KeystoneX86> {
  if (bits !== 64) return getKeystone(bits);
  sharedKs ??= await getKeystone();
  return sharedKs;
}

// ---------------------------------------------------------------------------------------------
// source preprocessing

interface SrcLine {
  line: number;
  source: string;
  /** text sent to keystone (comment-free), '' for none */
  text: string;
  /** parsed instruction, undefined for label-only lines */
  ins?: SrcInstruction;
}

const LABEL = /^([A-Za-z_.$][\w.$@]*)\s*:(?!:)\s*(.*)$/;

function stripComment(s: string): string {
  const i = s.search(/[;#]/);
  const t = (i >= 0 ? s.slice(0, i) : s).trim();
  // generated lines have single spaces already: skip the rewrite (and its allocation) for them
  return /[^\S ]| {2}/.test(t) ? t.replace(/\s+/g, ' ') : t;
}

type Prepared = { ok: true; lines: SrcLine[]; program: string } | Extract<AsmResult, { ok: false }>;

/** `parsed[i]`, when given, is what parsing lines[i] (a plain instruction: no label or comment) would give. */
function prepare(lines: readonly string[], prefilter = true, parsed?: ReadonlyArray<SrcInstruction | undefined>): Prepared {
  const out: SrcLine[] = [];
  const text: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const source = lines[i]!;
    const known = parsed?.[i];
    if (known) {
      const conflict = prefilter ? highByteRexConflict(known) : undefined;
      if (conflict) return { ok: false, line: i, source, reason: conflict, kind: 'illegal' };
      out.push({ line: i, source, text: source, ins: known });
      text.push(source);
      continue;
    }
    let body = stripComment(source);
    if (body === '') continue;
    const lm = LABEL.exec(body);
    let label = '';
    if (lm && !/^[a-z]s$/i.test(lm[1]!)) {
      label = `${lm[1]}:`;
      body = lm[2]!.trim();
    }
    if (body.startsWith('.')) return { ok: false, line: i, source, reason: 'directives are not supported', kind: 'syntax' };
    if (body === '') {
      out.push({ line: i, source, text: label });
      text.push(label);
      continue;
    }
    const ins = parseInstruction(body);
    if (typeof ins === 'string') return { ok: false, line: i, source, reason: ins, kind: 'syntax' };
    const conflict = prefilter ? highByteRexConflict(ins) : undefined;
    if (conflict) return { ok: false, line: i, source, reason: conflict, kind: 'illegal' };
    const kstext = label ? `${label} ${body}` : body;
    out.push({ line: i, source, text: kstext, ins });
    text.push(kstext);
  }
  return { ok: true, lines: out, program: text.join('\n') };
}

// ---------------------------------------------------------------------------------------------
// comparison of a source instruction with iced's decoding

const CC_ALIAS: Record<string, string> = {
  z: 'e',
  nz: 'ne',
  c: 'b',
  nae: 'b',
  nc: 'ae',
  nb: 'ae',
  na: 'be',
  nbe: 'a',
  pe: 'p',
  po: 'np',
  nge: 'l',
  nl: 'ge',
  ng: 'le',
  nle: 'g',
};
const MNEMONIC_ALIAS: Record<string, string> = {
  movabs: 'mov',
  sal: 'shl',
  retq: 'ret',
  retn: 'ret',
  pushf: 'pushfq',
  popf: 'popfq',
  iret: 'iretd',
  xlat: 'xlatb',
  loopz: 'loope',
  loopnz: 'loopne',
  fwait: 'wait',
  cmpxchg16b: 'cmpxchg16b',
  // 16-bit PUSHA/POPA in 32-bit code (iced names them by their 16-bit form)
  pushaw: 'pusha',
  popaw: 'popa',
  // keystone's spelling of the direct far transfers (`ljmp 0x1000:0x20`)
  ljmp: 'jmp',
  lcall: 'call',
};

/** canonicalMnemonic's answers so far: every checked line asks, with a few hundred distinct mnemonics. */
const CANONICAL = new Map<string, string>();

export function canonicalMnemonic(m: string): string {
  let c = CANONICAL.get(m);
  if (c === undefined) CANONICAL.set(m, (c = spellCanonical(m)));
  return c;
}

function spellCanonical(m: string): string {
  const a = MNEMONIC_ALIAS[m];
  if (a) return a;
  for (const p of ['cmov', 'set', 'j']) {
    if (m.startsWith(p)) {
      const cc = CC_ALIAS[m.slice(p.length)];
      if (cc) return p + cc;
    }
  }
  return m;
}

const REG_NAME = new Map<number, string>();
for (const [k, v] of Object.entries(Register)) {
  if (typeof v === 'number') REG_NAME.set(v, k.toLowerCase());
}
function regName(r: Register): string {
  return REG_NAME.get(r) ?? `reg${r}`;
}
/** Register names of 32-bit addressing (EAX…, R8D…), of 16-bit addressing, and SS-default bases: the patterns, matched once per name. */
const ADDRESS32_REGS = new Set([...REG_NAME.values()].filter((n) => /^(e..|r\d+d)$/.test(n)));
const ADDRESS16_REGS = new Set([...REG_NAME.values()].filter((n) => /^(bx|bp|si|di)$/.test(n)));
const SS_DEFAULT_BASES = new Set([...REG_NAME.values()].filter((n) => /^e?(bp|sp)$/.test(n)));
/** Lowercase iced mnemonic names, by Mnemonic value. */
const MNEMONIC_LOWER: string[] = [];
for (const [k, v] of Object.entries(Mnemonic)) {
  if (typeof v === 'number') MNEMONIC_LOWER[v] = k.toLowerCase();
}

const IMM_BITS: Partial<Record<OpKind, number>> = {
  [OpKind.Immediate8]: 8,
  [OpKind.Immediate8_2nd]: 8,
  [OpKind.Immediate16]: 16,
  [OpKind.Immediate32]: 32,
  [OpKind.Immediate64]: 64,
  [OpKind.Immediate8to16]: 16,
  [OpKind.Immediate8to32]: 32,
  [OpKind.Immediate8to64]: 64,
  [OpKind.Immediate32to64]: 64,
};
const BRANCH_BITS: Partial<Record<OpKind, number>> = {
  [OpKind.NearBranch16]: 16,
  [OpKind.NearBranch32]: 32,
  [OpKind.NearBranch64]: 64,
};
const IMPLICIT_MEM = new Set<OpKind>([
  OpKind.MemorySegSI,
  OpKind.MemorySegESI,
  OpKind.MemorySegRSI,
  OpKind.MemorySegDI,
  OpKind.MemorySegEDI,
  OpKind.MemorySegRDI,
  OpKind.MemoryESDI,
  OpKind.MemoryESEDI,
  OpKind.MemoryESRDI,
]);

const hex = (v: bigint): string => (v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`);

function fits(v: bigint, bits: number): boolean {
  return v >= -(1n << BigInt(bits - 1)) && v < 1n << BigInt(bits);
}
function mod(v: bigint, bits: number): bigint {
  return BigInt.asUintN(bits, v);
}

/** Compare one source operand with operand `i` of the decoded instruction. */
function compareOperand(src: SrcOperand, ins: Instruction, i: number): string | undefined {
  const kind = ins.opKind(i);
  switch (src.kind) {
    case 'label':
      return undefined; // symbol: keystone resolved it; not checked
    case 'reg': {
      if (kind !== OpKind.Register) return `operand ${i + 1}: expected register ${src.reg}, decoded ${OpKind[kind]}`;
      const got = regName(ins.opRegister(i));
      return got === src.reg ? undefined : `operand ${i + 1}: expected ${src.reg}, decoded ${got}`;
    }
    case 'imm': {
      const ib = IMM_BITS[kind];
      if (ib !== undefined) {
        const got = ins.immediate(i);
        if (!fits(src.value, ib)) return `operand ${i + 1}: immediate ${hex(src.value)} does not fit the ${ib}-bit immediate (encoded ${hex(mod(got, ib))})`;
        if (mod(src.value, ib) !== mod(got, ib)) return `operand ${i + 1}: immediate ${hex(src.value)} encoded as ${hex(mod(got, ib))} (${ib}-bit)`;
        return undefined;
      }
      const bb = BRANCH_BITS[kind];
      if (bb !== undefined) {
        const got = ins.nearBranchTarget;
        return mod(src.value, bb) === mod(got, bb) ? undefined : `operand ${i + 1}: branch target ${hex(src.value)} encoded as ${hex(got)}`;
      }
      return `operand ${i + 1}: expected immediate ${hex(src.value)}, decoded ${OpKind[kind]}`;
    }
    case 'far': {
      if (kind !== OpKind.FarBranch16 && kind !== OpKind.FarBranch32) return `operand ${i + 1}: expected a far pointer, decoded ${OpKind[kind]}`;
      const offset = BigInt(kind === OpKind.FarBranch16 ? ins.farBranch16 : ins.farBranch32);
      if (BigInt(ins.farBranchSelector) !== src.selector || offset !== src.offset) return `operand ${i + 1}: far pointer ${hex(src.selector)}:${hex(src.offset)} encoded as ${hex(BigInt(ins.farBranchSelector))}:${hex(offset)}`;
      return undefined;
    }
    case 'mem': {
      if (IMPLICIT_MEM.has(kind)) return undefined; // explicit string-instruction operand
      if (kind !== OpKind.Memory) return `operand ${i + 1}: expected memory operand, decoded ${OpKind[kind]}`;
      const base = ins.memoryBase === Register.None ? undefined : regName(ins.memoryBase);
      const index = ins.memoryIndex === Register.None ? undefined : regName(ins.memoryIndex);
      const scale = ins.memoryIndexScale;
      let sBase = src.base;
      let sIndex = src.index;
      let sScale = src.scale;
      // `[rsp+rax]`: the only way to encode it is base=rsp, index=rax; same for any pair where
      // the first register cannot be an index — accept the commuted pair when scale is 1.
      if (sIndex !== undefined && sScale === 1 && base === sIndex && index === sBase) [sBase, sIndex] = [sIndex, sBase];
      if (base !== sBase) return `operand ${i + 1}: memory base ${sBase ?? 'none'} decoded as ${base ?? 'none'}`;
      if (index !== sIndex) return `operand ${i + 1}: memory index ${sIndex ?? 'none'} decoded as ${index ?? 'none'}`;
      if (index !== undefined && scale !== sScale) return `operand ${i + 1}: scale ${sScale} decoded as ${scale}`;
      const disp = ins.memoryDisplacement; // RIP-relative: absolute target; 32-bit addressing: u32
      if (base === 'rip' || base === 'eip') {
        const bits = base === 'rip' ? 64 : 32;
        if (!fits(src.disp, 32) || src.disp >= 1n << 31n) return `operand ${i + 1}: rip displacement ${hex(src.disp)} does not fit 32 bits signed`;
        const want = mod(ins.nextIP + src.disp, bits);
        if (mod(disp, bits) !== want) return `operand ${i + 1}: rip displacement ${hex(src.disp)} encoded as ${hex(mod(disp - ins.nextIP, 32))}`;
      } else {
        const addr32 = (base !== undefined && ADDRESS32_REGS.has(base)) || (index !== undefined && ADDRESS32_REGS.has(index));
        // 16-bit addressing: registers BX/BP/SI/DI, or [disp16] (a 2-byte displacement without them)
        const addr16 = (base !== undefined && ADDRESS16_REGS.has(base)) || (index !== undefined && ADDRESS16_REGS.has(index)) || (base === undefined && index === undefined && ins.memoryDisplSize === 2);
        const bits = addr16 ? 16 : addr32 ? 32 : 64;
        if (!fits(src.disp, bits)) return `operand ${i + 1}: displacement ${hex(src.disp)} does not fit ${bits} bits`;
        if (mod(src.disp, bits) !== mod(disp, bits)) return `operand ${i + 1}: displacement ${hex(src.disp)} encoded as ${hex(mod(disp, bits))}`;
      }
      const seg = ins.segmentPrefix === Register.None ? undefined : regName(ins.segmentPrefix);
      // keystone drops a DS override as redundant, even where the default segment is SS ([bp…], [esp…]): a different access
      const ssDefault = base !== undefined && SS_DEFAULT_BASES.has(base);
      if (src.seg !== seg && !(src.seg === 'ds' && seg === undefined && !ssDefault)) return `operand ${i + 1}: segment ${src.seg ?? 'none'} decoded as ${seg ?? 'none'}`;
      if (src.size !== undefined) {
        const sz = MemorySizeExt.size(ins.memorySize);
        if (sz !== 0 && sz !== src.size) return `operand ${i + 1}: memory size ${src.size} decoded as ${sz}`;
      }
      return undefined;
    }
  }
}

/** Compare a parsed source instruction with a decoded instruction; returns a reason on mismatch. */
export function compareInstruction(src: SrcInstruction, ins: Instruction): string | undefined {
  if (ins.isInvalid) return 'bytes decode to an invalid instruction';
  const want = canonicalMnemonic(src.mnemonic);
  const got = MNEMONIC_LOWER[ins.mnemonic] ?? '';
  let ops = src.operands;
  const n = ins.opCount;
  const mnemonicOk =
    want === got ||
    // the alias is the 64-bit reading (pushf → pushfq); in 16-bit code the plain name is the 16-bit form
    src.mnemonic === got ||
    (want === 'movsx' && got === 'movsxd') ||
    (want === 'int' && got === 'int3' && ops.length === 1 && ops[0]!.kind === 'imm' && ops[0]!.value === 3n);
  if (!mnemonicOk) return `mnemonic ${src.mnemonic} decoded as ${got}`;
  if (got === 'int3' && want === 'int') return undefined;
  // prefixes
  const hasLock = src.prefixes.includes('lock');
  if (hasLock !== ins.hasLockPrefix) return `lock prefix ${hasLock ? 'missing' : 'added'}`;
  const rep = src.prefixes.some((p) => p === 'rep' || p === 'repe' || p === 'repz');
  const repne = src.prefixes.some((p) => p === 'repne' || p === 'repnz');
  if (rep !== ins.hasRepePrefix || repne !== ins.hasRepnePrefix) return 'rep prefix differs';
  // implicit / shorthand operand forms
  if (ops.length === 2 && n === 3 && got === 'imul' && ops[0]!.kind === 'reg') ops = [ops[0]!, ops[0]!, ops[1]!];
  if (ops.length === 0) {
    // string instructions (`rep stosq`: iced lists es:[rdi] and rax) and xlatb have implicit operands
    if (ins.isStringInstruction || got === 'xlatb') return undefined;
    for (let i = 0; i < n; i++) {
      const k = ins.opKind(i);
      if (!IMPLICIT_MEM.has(k)) return `source has no operands, decoded operand ${i + 1} is ${OpKind[k]}`;
    }
    return undefined;
  }
  // MASKMOVQ/MASKMOVDQU: iced lists the implicit [rdi] destination first, the source names only the registers
  if (ops.length === n - 1 && IMPLICIT_MEM.has(ins.opKind(0))) {
    for (let i = 1; i < n; i++) {
      const r = compareOperand(ops[i - 1]!, ins, i);
      if (r) return r;
    }
    return undefined;
  }
  // x87 `fcom st(3)`, `fxch st(3)`, `fucom st(3)`: iced lists the implicit ST(0) first
  if (ops.length === n - 1 && n === 2 && ins.opKind(0) === OpKind.Register && ins.opRegister(0) === Register.ST0) return compareOperand(ops[0]!, ins, 1);
  if (ops.length !== n) return `${ops.length} operands in source, ${n} decoded`;
  // xchg/test with two registers are commutative: either order is the same instruction
  if ((got === 'xchg' || got === 'test') && n === 2 && ops[0]!.kind === 'reg' && ops[1]!.kind === 'reg') {
    const a = regName(ins.opRegister(0));
    const b = regName(ins.opRegister(1));
    const set = [ops[0].reg, ops[1].reg];
    if (ins.opKind(0) === OpKind.Register && ins.opKind(1) === OpKind.Register && set.includes(a) && set.includes(b) && (a !== b || set[0] === set[1])) return undefined;
  }
  for (let i = 0; i < n; i++) {
    const r = compareOperand(ops[i]!, ins, i);
    if (r) return r;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// the checked assembler

function check(prep: Extract<Prepared, { ok: true }>, bytes: Uint8Array, address: bigint, bits: CodeBits): AsmResult;
function check(prep: Extract<Prepared, { ok: true }>, bytes: Uint8Array, address: bigint, bits: CodeBits, lean: true): LeanAsmResult;
function check(prep: Extract<Prepared, { ok: true }>, bytes: Uint8Array, address: bigint, bits: CodeBits, lean = false): AsmResult | LeanAsmResult {
  const insLines = prep.lines.filter((l) => l.ins !== undefined);
  const out: Array<AssembledInstruction | PlacedInstruction> = [];
  let failure: Extract<AsmResult, { ok: false }> | undefined;
  let k = 0;
  forEachInstruction(bytes, address, bits, (ins, offset) => {
    const src = insLines[k];
    if (!src) {
      const extra = describe(ins, bytes, offset);
      const last = insLines[insLines.length - 1];
      failure = {
        ok: false,
        line: last?.line ?? -1,
        source: last?.source ?? '',
        reason: `keystone emitted more instructions than source lines (extra: ${extra.text})`,
        kind: 'mismatch',
      };
      return false;
    }
    const reason = compareInstruction(src.ins!, ins);
    if (reason) {
      const d = describe(ins, bytes, offset);
      const hexBytes = Array.from(d.bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
      failure = { ok: false, line: src.line, source: src.source, reason: `${reason} [${hexBytes} = ${d.text}]`, kind: 'mismatch' };
      return false;
    }
    if (lean) {
      const length = ins.length;
      out.push({ line: src.line, address: address + BigInt(offset), length, bytes: bytes.subarray(offset, offset + length) });
    } else out.push({ ...describe(ins, bytes, offset), line: src.line, source: src.source });
    k++;
    return true;
  });
  if (failure) return failure;
  if (k < insLines.length) {
    const src = insLines[k]!;
    return { ok: false, line: src.line, source: src.source, reason: `no bytes decoded for this line (${k} of ${insLines.length} instructions decoded)`, kind: 'mismatch' };
  }
  return { ok: true, bytes, instructions: out } as AsmResult | LeanAsmResult;
}

/** Find the first line keystone refuses, assembling line by line (labels kept so references resolve). */
function locateKeystoneError(ks: KeystoneX86, prep: Extract<Prepared, { ok: true }>, address: bigint, whole: KeystoneError): AsmResult {
  const labels = prep.lines.filter((l) => l.ins === undefined || /^\S+:/.test(l.text)).map((l) => /^([^:\s]+):/.exec(l.text)?.[1]).filter((x): x is string => !!x);
  const stub = labels.map((l) => `${l}:`).join('\n');
  for (const l of prep.lines) {
    if (!l.ins) continue;
    const body = l.text.replace(/^[^:\s]+:\s*/, '');
    const r = ks.tryAssemble(stub ? `${stub}\n${body}` : body, address);
    if (!r.ok) return { ok: false, line: l.line, source: l.source, reason: `keystone: ${r.error.message}`, kind: 'syntax' };
  }
  return { ok: false, line: -1, source: '', reason: `keystone: ${whole.message}`, kind: 'syntax' };
}

/**
 * Assemble `lines` (one instruction or label per line) at `address` with one keystone call, then
 * decode the bytes with iced-x86 and check every instruction against its source line.
 * Synchronous: call `await initAssembler()` once first, or pass a KeystoneX86.
 */
export function assembleChecked(lines: readonly string[] | string, address: bigint = 0n, ks: KeystoneX86 | undefined = sharedKs): AsmResult {
  return assemble(lines, address, ks, false) as AsmResult;
}

/**
 * `assembleChecked` without the per-instruction iced description (text, flags, opcode info):
 * the same checks, cheaper, for callers that only need where each instruction landed.
 */
export function assembleCheckedLean(
  lines: readonly string[],
  address: bigint = 0n,
  ks: KeystoneX86 | undefined = sharedKs,
  options: {
    locateKeystoneErrors?: boolean;
    /** Per line, what parsing it would give, when the caller knows (generated lines); those lines are not parsed. */
    parsed?: ReadonlyArray<SrcInstruction | undefined>;
  } = {},
): LeanAsmResult {
  return assemble(lines, address, ks, true, options.locateKeystoneErrors ?? true, options.parsed) as LeanAsmResult;
}

/**
 * `locate`: when keystone refuses a text of several lines, find the line by assembling them one
 * by one (otherwise the failure names no line: `line` is -1).
 */
function assemble(
  lines: readonly string[] | string,
  address: bigint,
  ks: KeystoneX86 | undefined,
  lean: boolean,
  locate = true,
  parsed?: ReadonlyArray<SrcInstruction | undefined>,
): AsmResult | LeanAsmResult {
  if (!ks) throw new Error('assembleChecked: keystone not loaded; call `await initAssembler()` first');
  const arr = typeof lines === 'string' ? lines.split('\n') : lines;
  const prep = prepare(arr, true, parsed);
  if (!prep.ok) return prep;
  if (!prep.lines.some((l) => l.ins)) return { ok: true, bytes: new Uint8Array(0), instructions: [] };
  let r: ReturnType<KeystoneX86['tryAssemble']>;
  try {
    r = ks.tryAssemble(prep.program, address);
  } catch (e) {
    return { ok: false, line: -1, source: '', reason: e instanceof Error ? e.message : String(e), kind: 'internal' };
  }
  if (!r.ok) {
    if (prep.lines.filter((l) => l.ins).length === 1) {
      const l = prep.lines.find((x) => x.ins)!;
      return { ok: false, line: l.line, source: l.source, reason: `keystone: ${r.error.message}`, kind: 'syntax' };
    }
    if (!locate) return { ok: false, line: -1, source: '', reason: `keystone: ${r.error.message}`, kind: 'syntax' };
    return locateKeystoneError(ks, prep, address, r.error);
  }
  return lean ? check(prep, r.bytes, address, ks.bits, true) : check(prep, r.bytes, address, ks.bits);
}

/**
 * Check already-assembled `bytes` against their source `lines` (no keystone involved). With
 * `prefilter: false` the high-byte/REX static check is skipped so only the decoding decides.
 */
export function verifyEncoding(
  lines: readonly string[] | string,
  bytes: Uint8Array,
  address: bigint = 0n,
  opts: { prefilter?: boolean } = {},
): AsmResult {
  const arr = typeof lines === 'string' ? lines.split('\n') : lines;
  const prep = prepare(arr, opts.prefilter ?? true);
  if (!prep.ok) return prep;
  return check(prep, bytes, address, 64);
}

/** Format a rejection as one line: `line 3 'mov sil, ah': reason`. */
export function formatRejection(r: Extract<AsmResult, { ok: false }>): string {
  return r.line >= 0 ? `line ${r.line + 1} '${r.source.trim()}': ${r.reason}` : r.reason;
}

/**
 * Convenience for tests: assemble and check a program, return its bytes.
 * Throws an Error naming the bad line: `asm: line 2 'add al, 0x1234': operand 2: immediate …`.
 */
export async function asm(text: string, address: bigint = 0n): Promise<Uint8Array> {
  const ks = await initAssembler();
  await ks.ready();
  const r = assembleChecked(text.split('\n'), address, ks);
  if (!r.ok) throw new Error(`asm: ${formatRejection(r)}`);
  return r.bytes;
}
