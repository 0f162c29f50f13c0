/**
 * Operand notation as in the Intel SDM opcode map (Vol. 2 Appendix A), parsed once when the
 * tables load. A row says 'Ev,Gv' and the decoder/handlers work from the parsed kinds.
 */

export const enum Kind {
  E = 1, // ModRM r/m: register or memory
  G, // ModRM reg: general register
  M, // ModRM r/m, memory only
  R, // ModRM r/m, register only (mod bits ignored, as for MOV CRn)
  I, // immediate
  J, // relative branch offset
  O, // moffs: absolute address of address-size width
  Z, // register from the low 3 opcode bits (+REX.B)
  S, // segment register in ModRM reg
  C, // control register in ModRM reg
  D, // debug register in ModRM reg
  Reg, // a fixed register (AL, CL, DX, rAX…)
  One, // the constant 1 (shift by one)
  X, // string source DS:rSI
  Y, // string destination ES:rDI
  V, // ModRM reg: XMM register
  W, // ModRM r/m: XMM register or memory
  U, // ModRM r/m: XMM register only (the row is register-form only)
  P, // ModRM reg: MMX register (REX.R ignored)
  Q, // ModRM r/m: MMX register or memory (REX.B ignored for the register)
  N, // ModRM r/m: MMX register only
  B, // VEX.vvvv: general register (BMI1's second source or destination)
}

/** Size codes: positive values are bytes; negative values depend on prefixes. */
export const enum Size {
  b = 1,
  w = 2,
  d = 4,
  q = 8,
  v = -1, // operand size: 16/32/64
  z = -2, // 16 for 16-bit operand size, else 32 (immediates then sign-extend)
  y = -3, // 32, or 64 with REX.W
  none = 0,
  dq = 16, // 128-bit (also ps/pd/x: packed single/double, or a full XMM register)
}

export interface OperandForm {
  readonly text: string;
  readonly kind: Kind;
  readonly size: Size;
  /** For Kind.Reg: the encoding number of the register. */
  readonly reg: number;
}

/**
 * SDM size codes. SIMD ones name the element type too (ps/pd packed single/double, ss/sd scalar,
 * pi an MMX quadword of integers, dq/x a full XMM register); only their width matters here.
 */
const SIZE_LETTERS: Record<string, Size> = {
  b: Size.b, w: Size.w, d: Size.d, q: Size.q, v: Size.v, z: Size.z, y: Size.y,
  dq: Size.dq, x: Size.dq, ps: Size.dq, pd: Size.dq, ss: Size.d, sd: Size.q, pi: Size.q,
};
const KIND_LETTERS: Record<string, Kind> = {
  E: Kind.E, G: Kind.G, M: Kind.M, R: Kind.R, I: Kind.I, J: Kind.J, O: Kind.O, Z: Kind.Z,
  S: Kind.S, C: Kind.C, D: Kind.D, X: Kind.X, Y: Kind.Y,
  V: Kind.V, W: Kind.W, U: Kind.U, P: Kind.P, Q: Kind.Q, N: Kind.N, B: Kind.B,
};

/** XMM (V/W/U) and MMX (P/Q/N) operand kinds. */
export function isSimdKind(k: Kind): boolean {
  return k >= Kind.V && k <= Kind.N;
}

/** MMX operand kinds (P/Q/N): registers MM0–MM7, aliased on the x87 registers. */
export function isMmxKind(k: Kind): boolean {
  return k >= Kind.P && k <= Kind.N;
}
const FIXED: Record<string, [number, Size]> = {
  AL: [0, Size.b], CL: [1, Size.b], DX: [2, Size.w], AX: [0, Size.w], eAX: [0, Size.z], rAX: [0, Size.v],
};

export function parseOperand(text: string): OperandForm {
  if (text === '1') return { text, kind: Kind.One, size: Size.b, reg: 0 };
  const fixed = FIXED[text];
  if (fixed) return { text, kind: Kind.Reg, size: fixed[1], reg: fixed[0] };
  const kind = KIND_LETTERS[text[0]!];
  const size = text.length === 1 ? Size.none : SIZE_LETTERS[text.slice(1)];
  if (kind === undefined || size === undefined) throw new Error(`unknown operand form '${text}'`);
  return { text, kind, size, reg: 0 };
}

export function parseOperands(forms: string): OperandForm[] {
  return forms === '' ? [] : forms.split(',').map((s) => parseOperand(s.trim()));
}

/** Does this operand list need a ModRM byte? */
export function needsModrm(ops: readonly OperandForm[]): boolean {
  return ops.some((o) => o.kind === Kind.E || o.kind === Kind.G || o.kind === Kind.M || o.kind === Kind.R ||
    o.kind === Kind.S || o.kind === Kind.C || o.kind === Kind.D || isSimdKind(o.kind));
}
