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
}

export interface OperandForm {
  readonly text: string;
  readonly kind: Kind;
  readonly size: Size;
  /** For Kind.Reg: the encoding number of the register. */
  readonly reg: number;
}

const SIZE_LETTERS: Record<string, Size> = { b: Size.b, w: Size.w, d: Size.d, q: Size.q, v: Size.v, z: Size.z, y: Size.y };
const KIND_LETTERS: Record<string, Kind> = {
  E: Kind.E, G: Kind.G, M: Kind.M, R: Kind.R, I: Kind.I, J: Kind.J, O: Kind.O, Z: Kind.Z,
  S: Kind.S, C: Kind.C, D: Kind.D, X: Kind.X, Y: Kind.Y,
};
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
    o.kind === Kind.S || o.kind === Kind.C || o.kind === Kind.D);
}
