/**
 * The mnemonic as a feature: the divergent instruction re-encoded as its siblings in the opcode
 * table — rows with the same operand form and size rule (ADD → OR/ADC/SBB/AND/SUB/XOR/CMP,
 * SHL → ROL/…/SAR, SHLD → SHRD, INC → DEC/NOT/NEG/…). A mnemonic is necessary only when every
 * sibling tried agrees, or when it has none (then it is untested, and said so).
 */
import type { IsaRow } from '../../emulator/isa/row.js';
import { ALL_ROWS } from '../../emulator/isa/table.js';
import { modrmOf, withByte } from './encoding.js';
import { operandKey, type Expectation } from './expectations.js';
import type { FeatureDefinition } from './feature.js';

/** Siblings run at most (each costs one run, more when it agrees): the nearest rows first. */
export const MAX_SIBLINGS = 8;

/** Handlers that compute nothing worth comparing (hint NOPs, #UD rows). */
const INERT_HANDLERS = new Set(['nop', 'nop90', 'ud']);

const STRING_HANDLERS = new Set(['movs', 'cmps', 'stos', 'lods', 'scas']);
const isString = (r: IsaRow): boolean => STRING_HANDLERS.has(r.handler);
const byteString = (r: IsaRow): boolean => /[XY]b/.test(r.forms);

/**
 * Same operand form, and two families whose members each have a form of their own: LEA computes
 * the address the Gv,Ev rows read (its siblings are those rows, and theirs include it), and the
 * string operations of one size (MOVSB, CMPSB, STOSB, LODSB, SCASB) are siblings of each other.
 */
function sameForm(a: IsaRow, b: IsaRow, memory: boolean): boolean {
  if (a.forms === b.forms) return true;
  if (isString(a) && isString(b)) return byteString(a) === byteString(b);
  const lea = (r: IsaRow) => r.mnemonic === 'LEA' && r.forms === 'Gv,M';
  return memory && ((lea(a) && b.forms === 'Gv,Ev') || (lea(b) && a.forms === 'Gv,Ev'));
}

/**
 * Sibling rows of `row` in the same map, nearest first (same opcode, then same ALU column, then
 * the rest). Some match on paper only (83 /0 ADD Ev,Ib sign-extends its Ib, C1 /4 SHL's is a
 * count): iced rejects those variants, and the analysis runs the first MAX_SIBLINGS that build.
 */
export function siblingRows(row: IsaRow, memory: boolean): IsaRow[] {
  const opcodeRegister = row.forms.split(',').some((f) => f.startsWith('Z'));
  const seen = new Set([row.mnemonic]);
  const candidates = ALL_ROWS.filter(
    (r) =>
      r.map === row.map && r.mnemonic !== row.mnemonic && sameForm(row, r, memory) && r.sizeRule === row.sizeRule &&
      !r.invalid64 && !r.privileged && !r.ioPrivileged && !INERT_HANDLERS.has(r.handler) && r.feature === undefined &&
      r.rm === undefined && (r.mod === undefined || r.mod === (memory ? 'mem' : 'reg')) &&
      (r.prefix === undefined || r.prefix === 'none' || r.prefix === row.prefix) &&
      (r.ext === undefined) === (row.ext === undefined) &&
      (!opcodeRegister || (r.opcode & 7) === (row.opcode & 7)),
  );
  const movLea = (r: IsaRow) => (r.mnemonic === 'MOV' && row.mnemonic === 'LEA') || (r.mnemonic === 'LEA' && row.mnemonic === 'MOV');
  const distance = (r: IsaRow) => (r.opcode === row.opcode || movLea(r) ? 0 : row.opcode < 0x40 && (r.opcode & 7) === (row.opcode & 7) ? 1 : 2);
  return candidates
    .sort((a, b) => distance(a) - distance(b) || a.id - b.id)
    .filter((r) => !seen.has(r.mnemonic) && seen.add(r.mnemonic));
}

/**
 * The same operands as the original under the sibling's mnemonic (LEA's memory operand has no
 * size of its own); a string sibling has operands of its own, and iced names its size (MOVS → MOVSD).
 */
function expectSibling(row: IsaRow): Expectation {
  const key = (o: Parameters<typeof operandKey>[0]) => operandKey(o.kind === 'memory' ? { ...o, size: 0 } : o);
  const mnemonic = row.mnemonic;
  return (original, variant) => {
    if (isString(row)) return variant.mnemonic.startsWith(mnemonic) ? undefined : `decodes as ${variant.decoded.text}, meant ${mnemonic}`;
    if (variant.mnemonic !== mnemonic) return `decodes as ${variant.decoded.text}, meant ${mnemonic}`;
    const a = original.operands.map(key).join(', ');
    const b = variant.operands.map(key).join(', ');
    return a === b ? undefined : `operands [${b}] differ from [${a}]`;
  };
}

export const MNEMONIC_FEATURE: FeatureDefinition = {
  kind: 'mnemonic',
  instances: (s) => [{ name: s.view.mnemonic, text: `the instruction is ${s.view.mnemonic}` }],
  plans: (s) => {
    const row = s.view.row;
    const l = s.layout;
    if (!row || !l) return [];
    const memory = s.view.memoryOperand >= 0;
    return siblingRows(row, memory).map((r) => {
      let bytes = r.opcode === row.opcode ? l.bytes : withByte(l.bytes, l.opcode, r.opcode);
      const m = modrmOf(l);
      if (r.ext !== undefined && m) bytes = withByte(bytes, l.modrm!, (m.mod << 6) | (r.ext << 3) | m.rm);
      return { change: `${s.view.mnemonic} → ${r.mnemonic}`, bytes, expect: expectSibling(r) };
    });
  },
};
