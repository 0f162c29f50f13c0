/**
 * A small parser for one line of Intel-syntax x86-64 assembly, as written by our generators and
 * tests: `[prefix…] mnemonic op, op, …`. It understands registers, memory operands
 * (`size ptr seg:[base + index*scale ± disp]`, `[rip+disp]`), numbers (`16`, `0x10`, `10h`,
 * `0b101`, unary minus, `a+b-c` sums of numbers) and bare identifiers (labels). It exists so the
 * checked assembler can compare keystone's output with iced-x86's decoding operand by operand.
 */

export type SrcOperand =
  | { kind: 'reg'; reg: string }
  | {
      kind: 'mem';
      /** bytes, from `byte/word/dword/qword/… ptr` */
      size?: number;
      seg?: string;
      base?: string;
      index?: string;
      scale: number;
      disp: bigint;
    }
  | { kind: 'imm'; value: bigint }
  | { kind: 'label'; name: string }
  /** `selector:offset`, the direct far pointer of `ljmp`/`lcall` */
  | { kind: 'far'; selector: bigint; offset: bigint };

export interface SrcInstruction {
  prefixes: string[];
  mnemonic: string;
  operands: SrcOperand[];
}

const GPR64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi'];
const GPR32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
const GPR16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
const GPR8 = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil'];
export const HIGH8 = new Set(['ah', 'ch', 'dh', 'bh']);

/** Register name (lowercase, any accepted alias) → canonical iced-style lowercase name. */
const REGS = new Map<string, string>();
function addReg(name: string, canon = name): void {
  REGS.set(name, canon);
}
for (const r of [...GPR64, ...GPR32, ...GPR16, ...GPR8, ...HIGH8]) addReg(r);
for (let i = 8; i < 16; i++) {
  addReg(`r${i}`);
  addReg(`r${i}d`);
  addReg(`r${i}w`);
  addReg(`r${i}l`);
  addReg(`r${i}b`, `r${i}l`);
}
for (const r of ['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'rip', 'eip']) addReg(r);
for (let i = 0; i < 32; i++) {
  addReg(`xmm${i}`);
  addReg(`ymm${i}`);
  addReg(`zmm${i}`);
}
for (let i = 0; i < 8; i++) {
  addReg(`mm${i}`);
  addReg(`st${i}`);
  addReg(`st(${i})`, `st${i}`);
  addReg(`k${i}`);
}
addReg('st', 'st0');
for (const i of [0, 2, 3, 4, 8]) addReg(`cr${i}`);
for (let i = 0; i < 8; i++) addReg(`dr${i}`);

export function canonicalRegister(name: string): string | undefined {
  return REGS.get(name.toLowerCase());
}

/** Registers whose use forces a REX prefix. */
export function needsRex(reg: string): boolean {
  return /^r(8|9|1[0-5])[dwl]?$/.test(reg) || reg === 'spl' || reg === 'bpl' || reg === 'sil' || reg === 'dil' || GPR64.includes(reg);
}

const SIZES: Record<string, number> = {
  byte: 1,
  word: 2,
  dword: 4,
  fword: 6,
  qword: 8,
  tbyte: 10,
  tword: 10,
  xmmword: 16,
  oword: 16,
  ymmword: 32,
  zmmword: 64,
};

const PREFIXES = new Set(['lock', 'rep', 'repe', 'repz', 'repne', 'repnz', 'xacquire', 'xrelease', 'notrack', 'bnd']);

/** Parse a single number: decimal, 0x…, …h, 0b…, optional sign. */
export function parseNumber(text: string): bigint | undefined {
  const t = text.trim().toLowerCase();
  const m = /^([-+]?)\s*(0x[0-9a-f]+|[0-9][0-9a-f]*h|0b[01]+|[0-9]+)$/.exec(t);
  if (!m) return undefined;
  const sign = m[1] === '-' ? -1n : 1n;
  const body = m[2]!;
  let v: bigint;
  if (body.endsWith('h')) v = BigInt('0x' + body.slice(0, -1));
  else v = BigInt(body); // handles 0x / 0b / decimal
  return sign * v;
}

/** Sum of numbers `a + b - c` (no other operators). */
export function parseNumericExpr(text: string): bigint | undefined {
  const t = text.replace(/\s+/g, '');
  if (t === '') return undefined;
  const terms = t.match(/[-+]?[^-+]+/g);
  if (!terms || terms.join('') !== t) return undefined;
  let sum = 0n;
  for (const term of terms) {
    const v = parseNumber(term);
    if (v === undefined) return undefined;
    sum += v;
  }
  return sum;
}

function parseMemory(text: string, size: number | undefined): SrcOperand | string {
  let seg: string | undefined;
  let t = text.trim();
  const outerSeg = /^([a-z]s)\s*:\s*(\[.*\])$/.exec(t);
  if (outerSeg) {
    seg = outerSeg[1];
    t = outerSeg[2]!;
  }
  const m = /^\[(.*)\]$/.exec(t);
  if (!m) return `bad memory operand '${text}'`;
  let inner = m[1]!.trim();
  const innerSeg = /^([a-z]s)\s*:(.*)$/.exec(inner);
  if (innerSeg) {
    seg = innerSeg[1];
    inner = innerSeg[2]!.trim();
  }
  if (seg !== undefined && !['es', 'cs', 'ss', 'ds', 'fs', 'gs'].includes(seg)) return `bad segment '${seg}'`;
  const compact = inner.replace(/\s+/g, '');
  const terms = compact.match(/[-+]?[^-+]+/g);
  if (!terms || terms.join('') !== compact) return `bad memory operand '${text}'`;
  let base: string | undefined;
  let index: string | undefined;
  let scale = 1;
  let disp = 0n;
  for (const term of terms) {
    const neg = term.startsWith('-');
    const body = term.replace(/^[-+]/, '');
    const mul = /^([a-z0-9]+)\*([a-z0-9]+)$/.exec(body);
    if (mul) {
      const [a, b] = [mul[1]!, mul[2]!];
      const ra = canonicalRegister(a);
      const rb = canonicalRegister(b);
      const reg = ra ?? rb;
      const n = ra ? parseNumber(b) : parseNumber(a);
      if (!reg || n === undefined || neg) return `bad scaled index '${term}'`;
      if (index !== undefined) return `two index registers in '${text}'`;
      if (![1n, 2n, 4n, 8n].includes(n)) return `bad scale ${n} in '${text}'`;
      index = reg;
      scale = Number(n);
      continue;
    }
    const reg = canonicalRegister(body);
    if (reg) {
      if (neg) return `negated register in '${text}'`;
      if (base === undefined) base = reg;
      else if (index === undefined) index = reg;
      else return `too many registers in '${text}'`;
      continue;
    }
    const n = parseNumber(body);
    if (n === undefined) return `unsupported term '${body}' in memory operand '${text}'`;
    disp += neg ? -n : n;
  }
  return { kind: 'mem', size, seg, base, index, scale, disp };
}

export function parseOperand(text: string): SrcOperand | string {
  let t = text.trim().toLowerCase();
  let size: number | undefined;
  const sm = /^(byte|word|dword|fword|qword|tbyte|tword|xmmword|oword|ymmword|zmmword)\b\s*(ptr\b)?\s*/.exec(t);
  if (sm) {
    size = SIZES[sm[1]!];
    t = t.slice(sm[0].length);
  }
  if (t.includes('[')) return parseMemory(t, size);
  if (size !== undefined) {
    // `dword 5` (nasm-style sized immediate) or `qword ptr label`: treat the size as a hint only
  }
  const reg = canonicalRegister(t.replace(/\s+/g, ''));
  if (reg) return { kind: 'reg', reg };
  const far = /^([^:]+):([^:]+)$/.exec(t);
  if (far) {
    const [selector, offset] = [parseNumber(far[1]!.trim()), parseNumber(far[2]!.trim())];
    if (selector !== undefined && offset !== undefined) return { kind: 'far', selector, offset };
  }
  const v = parseNumericExpr(t);
  if (v !== undefined) return { kind: 'imm', value: v };
  if (/^[a-z_.$@][\w.$@]*$/.test(t)) return { kind: 'label', name: t };
  return `unsupported operand syntax '${text.trim()}'`;
}

/** Split operands at top-level commas. */
function splitOperands(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch === 0x5b /* [ */ || ch === 0x28 /* ( */) depth++;
    else if (ch === 0x5d /* ] */ || ch === 0x29 /* ) */) depth--;
    else if (ch === 0x2c /* , */ && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  const last = s.slice(start);
  if (last.trim() !== '' || out.length > 0) out.push(last);
  return out;
}

/** Parse one instruction (comments/labels already stripped). Returns an error string on failure. */
export function parseInstruction(text: string): SrcInstruction | string {
  const t = text.trim().toLowerCase();
  const words = t.split(/\s+/);
  const prefixes: string[] = [];
  let i = 0;
  while (i < words.length - 1 && PREFIXES.has(words[i]!)) prefixes.push(words[i++]!);
  const mnemonic = words[i]!;
  if (!/^[a-z][a-z0-9]*$/.test(mnemonic)) return `bad mnemonic '${mnemonic}'`;
  const rest = words.slice(i + 1).join(' ');
  const operands: SrcOperand[] = [];
  for (const o of splitOperands(rest)) {
    const p = cachedOperand(o);
    if (typeof p === 'string') return p;
    operands.push(p);
  }
  return { prefixes, mnemonic, operands };
}

/**
 * parseOperand by text, remembered: generated programs repeat most operand texts (registers,
 * small immediates: 79% of 34,000 operands in 2,000 cases), and parsing is most of what the
 * checked assembler allocates. The operands are frozen, as they are shared.
 */
const operandCache = new Map<string, SrcOperand | string>();
const OPERAND_CACHE_SIZE = 8192;
function cachedOperand(text: string): SrcOperand | string {
  let p = operandCache.get(text);
  if (p === undefined) {
    p = parseOperand(text);
    if (typeof p !== 'string') Object.freeze(p);
    if (operandCache.size >= OPERAND_CACHE_SIZE) operandCache.clear();
    operandCache.set(text, p);
  }
  return p;
}

/**
 * High-byte registers (ah/ch/dh/bh) cannot be encoded in an instruction with a REX prefix.
 * keystone either dies on these (LLVM fatal error, killing its wasm instance after ~20) or, for
 * some forms such as `mov sil, ah`, silently encodes a different register (spl). Returns a reason
 * when the instruction mixes the two.
 */
export function highByteRexConflict(ins: SrcInstruction): string | undefined {
  let high: string | undefined;
  let rex: string | undefined;
  for (const op of ins.operands) {
    if (op.kind === 'reg') {
      if (HIGH8.has(op.reg)) high ??= op.reg;
      else if (needsRex(op.reg)) rex ??= op.reg;
    } else if (op.kind === 'mem') {
      for (const r of [op.base, op.index]) if (r && /^r(8|9|1[0-5])[dwl]?$/.test(r)) rex ??= r;
    }
  }
  if (high && rex) return `high-byte register ${high} cannot be encoded with a REX prefix (required by ${rex})`;
  return undefined;
}
