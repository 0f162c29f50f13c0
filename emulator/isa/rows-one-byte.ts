import { CONDITIONS, CONDITION_FLAGS, row, type IsaRow } from './row.js';
import { X87_ROWS } from './rows-x87.js';

/**
 * The one-byte opcode map (SDM Vol. 2 Table A-2), 64-bit mode semantics. Prefix bytes are not rows.
 * Relative branches use 'd64' (0x66 selects a 16-bit offset and truncates the target to 16 bits):
 * that is QEMU's (and AMD's) behaviour; Intel ignores 0x66 there. We follow the oracle.
 */

const ALU = ['ADD', 'OR', 'ADC', 'SBB', 'AND', 'SUB', 'XOR', 'CMP'] as const;
const SHIFTS = ['ROL', 'ROR', 'RCL', 'RCR', 'SHL', 'SHR', 'SAL', 'SAR'] as const;

/** Flags for an ALU operation: logic ops leave AF undefined (QEMU clears it). */
function aluFlags(op: number): { r?: string; w: string; u?: string } {
  if (op === 1 || op === 4 || op === 6) return { w: 'oszapc', u: 'a' };
  if (op === 2 || op === 3) return { r: 'c', w: 'oszapc' };
  return { w: 'oszapc' };
}

/** Flags of the count-of-1 forms (D0/D1): OF is defined there; shifts still leave AF undefined. */
export function shiftByOneFlags(op: number): { r?: string; w: string; u: string } {
  const f = shiftFlags(op);
  return { ...f, u: f.u.replace('o', '') };
}

export function shiftFlags(op: number): { r?: string; w: string; u: string } {
  if (op < 2) return { w: 'oc', u: 'o' }; // ROL/ROR: OF defined for count 1 only
  if (op < 4) return { r: 'c', w: 'oc', u: 'o' }; // RCL/RCR
  return { w: 'oszapc', u: 'oa' }; // shifts: OF for count 1 only, AF always undefined
}

function oneByte(): IsaRow[] {
  const rows: IsaRow[] = [];
  const add = (r: IsaRow) => rows.push(r);

  ALU.forEach((name, op) => {
    const base = op * 8;
    const f = aluFlags(op);
    const lock = name !== 'CMP';
    add(row('one', base + 0, name, 'Eb,Gb', { ...f, lock, handler: 'alu', arg: op }));
    add(row('one', base + 1, name, 'Ev,Gv', { ...f, lock, handler: 'alu', arg: op }));
    add(row('one', base + 2, name, 'Gb,Eb', { ...f, handler: 'alu', arg: op }));
    add(row('one', base + 3, name, 'Gv,Ev', { ...f, handler: 'alu', arg: op }));
    add(row('one', base + 4, name, 'AL,Ib', { ...f, handler: 'alu', arg: op }));
    add(row('one', base + 5, name, 'rAX,Iz', { ...f, handler: 'alu', arg: op }));
    // 0x80 group: Eb,Ib / Ev,Iz / Ev,Ib (sign-extended); 0x82 is invalid in 64-bit mode.
    add(row('one', 0x80, name, 'Eb,Ib', { ...f, lock, ext: op, handler: 'alu', arg: op }));
    add(row('one', 0x81, name, 'Ev,Iz', { ...f, lock, ext: op, handler: 'alu', arg: op }));
    add(row('one', 0x82, name, 'Eb,Ib', { ...f, lock, ext: op, handler: 'alu', arg: op, invalid64: true }));
    add(row('one', 0x83, name, 'Ev,Ib', { ...f, lock, ext: op, handler: 'alu', arg: op }));
  });
  // Decimal adjustments, BOUND, SALC: outside 64-bit mode only (62 is EVEX in 64-bit mode).
  // Undefined flags: written as QEMU 7.2 writes them (exec/bcd.ts), masked by the comparison.
  add(row('one', 0x27, 'DAA', '', { r: 'ac', w: 'oszapc', u: 'o', invalid64: true }));
  add(row('one', 0x2f, 'DAS', '', { r: 'ac', w: 'oszapc', u: 'o', invalid64: true }));
  add(row('one', 0x37, 'AAA', '', { r: 'a', w: 'oszapc', u: 'oszp', handler: 'ascii_adjust', arg: 1, invalid64: true }));
  add(row('one', 0x3f, 'AAS', '', { r: 'a', w: 'oszapc', u: 'oszp', handler: 'ascii_adjust', arg: -1, invalid64: true }));
  add(row('one', 0x62, 'BOUND', 'Gv,M', { invalid64: true }));
  add(row('one', 0xd4, 'AAM', 'Ib', { w: 'oszapc', u: 'oac', invalid64: true }));
  add(row('one', 0xd5, 'AAD', 'Ib', { w: 'oszapc', u: 'oac', invalid64: true }));
  add(row('one', 0xd6, 'SALC', '', { r: 'c', invalid64: true }));
  // Outside 64-bit mode only (#UD there; 40–4F are REX prefixes in 64-bit mode).
  const SREG_NAMES = ['ES', 'CS', 'SS', 'DS'];
  for (let s = 0; s < 4; s++) {
    add(row('one', s * 8 + 0x06, `PUSH ${SREG_NAMES[s]}`, '', { handler: 'push_sreg', arg: s, invalid64: true }));
    if (s !== 1) add(row('one', s * 8 + 0x07, `POP ${SREG_NAMES[s]}`, '', { handler: 'pop_sreg', arg: s, invalid64: true }));
  }
  for (let r = 0; r < 8; r++) {
    add(row('one', 0x40 + r, 'INC', 'Zv', { w: 'oszap', handler: 'inc', invalid64: true }));
    add(row('one', 0x48 + r, 'DEC', 'Zv', { w: 'oszap', handler: 'dec', invalid64: true }));
  }
  add(row('one', 0x60, 'PUSHA', '', { handler: 'pusha', invalid64: true }));
  add(row('one', 0x61, 'POPA', '', { handler: 'popa', invalid64: true }));
  // Ap: a far pointer as immediates, offset (operand size) then selector.
  add(row('one', 0x9a, 'CALLF', 'Iv,Iw', { handler: 'callf_direct', invalid64: true }));
  add(row('one', 0xea, 'JMPF', 'Iv,Iw', { handler: 'jmpf_direct', invalid64: true }));
  // Mp: offset (operand size) then selector, loaded together; C4/C5 are VEX in 64-bit mode.
  add(row('one', 0xc4, 'LES', 'Gv,M', { handler: 'load_far_pointer', arg: 0, invalid64: true }));
  add(row('one', 0xc5, 'LDS', 'Gv,M', { handler: 'load_far_pointer', arg: 3, invalid64: true }));
  add(row('one', 0xce, 'INTO', '', { r: 'o', handler: 'into', invalid64: true }));
  for (let r = 0; r < 8; r++) {
    add(row('one', 0x50 + r, 'PUSH', 'Zv', { size: 'd64' }));
    add(row('one', 0x58 + r, 'POP', 'Zv', { size: 'd64' }));
  }
  add(row('one', 0x63, 'MOVSXD', 'Gv,Ed', { only64: true }));
  add(row('one', 0x63, 'ARPL', 'Ew,Gw', { w: 'z', handler: 'arpl', invalid64: true }));
  add(row('one', 0x68, 'PUSH', 'Iz', { size: 'd64' }));
  add(row('one', 0x69, 'IMUL', 'Gv,Ev,Iz', { w: 'oszapc', u: 'szap', handler: 'imul3' }));
  add(row('one', 0x6a, 'PUSH', 'Ib', { size: 'd64' }));
  add(row('one', 0x6b, 'IMUL', 'Gv,Ev,Ib', { w: 'oszapc', u: 'szap', handler: 'imul3' }));
  add(row('one', 0x6c, 'INSB', 'Yb,DX', { rep: 'rep', io: true, handler: 'ins', r: 'd' }));
  add(row('one', 0x6d, 'INS', 'Yz,DX', { rep: 'rep', io: true, handler: 'ins', r: 'd' }));
  add(row('one', 0x6e, 'OUTSB', 'DX,Xb', { rep: 'rep', io: true, handler: 'outs', r: 'd' }));
  add(row('one', 0x6f, 'OUTS', 'DX,Xz', { rep: 'rep', io: true, handler: 'outs', r: 'd' }));
  CONDITIONS.forEach((cc, i) => add(row('one', 0x70 + i, `J${cc.toUpperCase()}`, 'Jb', { size: 'd64', r: CONDITION_FLAGS[i], handler: 'jcc', arg: i })));
  add(row('one', 0x84, 'TEST', 'Eb,Gb', { w: 'oszapc', u: 'a' }));
  add(row('one', 0x85, 'TEST', 'Ev,Gv', { w: 'oszapc', u: 'a' }));
  add(row('one', 0x86, 'XCHG', 'Eb,Gb', { lock: true }));
  add(row('one', 0x87, 'XCHG', 'Ev,Gv', { lock: true }));
  add(row('one', 0x88, 'MOV', 'Eb,Gb'));
  add(row('one', 0x89, 'MOV', 'Ev,Gv'));
  add(row('one', 0x8a, 'MOV', 'Gb,Eb'));
  add(row('one', 0x8b, 'MOV', 'Gv,Ev'));
  add(row('one', 0x8c, 'MOV', 'Ev,Sw', { handler: 'mov_from_sreg' }));
  add(row('one', 0x8d, 'LEA', 'Gv,M'));
  add(row('one', 0x8e, 'MOV', 'Sw,Ew', { handler: 'mov_to_sreg' }));
  add(row('one', 0x8f, 'POP', 'Ev', { ext: 0, size: 'd64' }));
  add(row('one', 0x90, 'NOP', '', { handler: 'nop90' })); // XCHG r8,rAX with REX.B; PAUSE with F3
  for (let r = 1; r < 8; r++) add(row('one', 0x90 + r, 'XCHG', 'Zv,rAX'));
  add(row('one', 0x98, 'CBW', '', { handler: 'cbw' })); // CBW/CWDE/CDQE by operand size
  add(row('one', 0x99, 'CWD', '', { handler: 'cwd' })); // CWD/CDQ/CQO
  add(row('one', 0x9b, 'FWAIT', '', { handler: 'fwait' }));
  add(row('one', 0x9c, 'PUSHF', '', { size: 'd64', r: 'oszapcdit' }));
  add(row('one', 0x9d, 'POPF', '', { size: 'd64', w: 'oszapcdit' }));
  add(row('one', 0x9e, 'SAHF', '', { w: 'szapc' }));
  add(row('one', 0x9f, 'LAHF', '', { r: 'szapc' }));
  add(row('one', 0xa0, 'MOV', 'AL,Ob'));
  add(row('one', 0xa1, 'MOV', 'rAX,Ov'));
  add(row('one', 0xa2, 'MOV', 'Ob,AL'));
  add(row('one', 0xa3, 'MOV', 'Ov,rAX'));
  add(row('one', 0xa4, 'MOVSB', 'Yb,Xb', { rep: 'rep', r: 'd', handler: 'movs' }));
  add(row('one', 0xa5, 'MOVS', 'Yv,Xv', { rep: 'rep', r: 'd', handler: 'movs' }));
  add(row('one', 0xa6, 'CMPSB', 'Xb,Yb', { rep: 'repcc', r: 'd', w: 'oszapc', handler: 'cmps' }));
  add(row('one', 0xa7, 'CMPS', 'Xv,Yv', { rep: 'repcc', r: 'd', w: 'oszapc', handler: 'cmps' }));
  add(row('one', 0xa8, 'TEST', 'AL,Ib', { w: 'oszapc', u: 'a' }));
  add(row('one', 0xa9, 'TEST', 'rAX,Iz', { w: 'oszapc', u: 'a' }));
  add(row('one', 0xaa, 'STOSB', 'Yb,AL', { rep: 'rep', r: 'd', handler: 'stos' }));
  add(row('one', 0xab, 'STOS', 'Yv,rAX', { rep: 'rep', r: 'd', handler: 'stos' }));
  add(row('one', 0xac, 'LODSB', 'AL,Xb', { rep: 'rep', r: 'd', handler: 'lods' }));
  add(row('one', 0xad, 'LODS', 'rAX,Xv', { rep: 'rep', r: 'd', handler: 'lods' }));
  add(row('one', 0xae, 'SCASB', 'AL,Yb', { rep: 'repcc', r: 'd', w: 'oszapc', handler: 'scas' }));
  add(row('one', 0xaf, 'SCAS', 'rAX,Yv', { rep: 'repcc', r: 'd', w: 'oszapc', handler: 'scas' }));
  for (let r = 0; r < 8; r++) {
    add(row('one', 0xb0 + r, 'MOV', 'Zb,Ib'));
    add(row('one', 0xb8 + r, 'MOV', 'Zv,Iv', { handler: 'mov_imm' })); // imm64 with REX.W (movabs)
  }
  SHIFTS.forEach((name, op) => {
    const f = shiftFlags(op);
    add(row('one', 0xc0, name, 'Eb,Ib', { ...f, ext: op, handler: 'shift', arg: op }));
    add(row('one', 0xc1, name, 'Ev,Ib', { ...f, ext: op, handler: 'shift', arg: op }));
    const one = shiftByOneFlags(op);
    add(row('one', 0xd0, name, 'Eb,1', { ...one, ext: op, handler: 'shift', arg: op }));
    add(row('one', 0xd1, name, 'Ev,1', { ...one, ext: op, handler: 'shift', arg: op }));
    add(row('one', 0xd2, name, 'Eb,CL', { ...f, ext: op, handler: 'shift', arg: op }));
    add(row('one', 0xd3, name, 'Ev,CL', { ...f, ext: op, handler: 'shift', arg: op }));
  });
  add(row('one', 0xc2, 'RET', 'Iw', { size: 'd64', handler: 'ret' }));
  add(row('one', 0xc3, 'RET', '', { size: 'd64', handler: 'ret' }));
  add(row('one', 0xc6, 'MOV', 'Eb,Ib', { ext: 0 }));
  add(row('one', 0xc7, 'MOV', 'Ev,Iz', { ext: 0 }));
  add(row('one', 0xc8, 'ENTER', 'Iw,Ib', { size: 'd64' }));
  add(row('one', 0xc9, 'LEAVE', '', { size: 'd64' }));
  add(row('one', 0xca, 'RETF', 'Iw', { handler: 'retf' })); // operand size 32 by default, also in 64-bit mode
  add(row('one', 0xcb, 'RETF', '', { handler: 'retf' }));
  add(row('one', 0xcc, 'INT3', '', { handler: 'int3' }));
  add(row('one', 0xcd, 'INT', 'Ib', { handler: 'int' }));
  add(row('one', 0xcf, 'IRET', '', { handler: 'iret', w: 'oszapcdit' }));
  add(row('one', 0xd7, 'XLAT', '', { handler: 'xlat' }));
  for (const r of X87_ROWS) add(r);
  add(row('one', 0xe0, 'LOOPNE', 'Jb', { size: 'd64', r: 'z', handler: 'loop', arg: 0 }));
  add(row('one', 0xe1, 'LOOPE', 'Jb', { size: 'd64', r: 'z', handler: 'loop', arg: 1 }));
  add(row('one', 0xe2, 'LOOP', 'Jb', { size: 'd64', handler: 'loop', arg: 2 }));
  add(row('one', 0xe3, 'JRCXZ', 'Jb', { size: 'd64', handler: 'jrcxz' }));
  add(row('one', 0xe4, 'IN', 'AL,Ib', { io: true, handler: 'in' }));
  add(row('one', 0xe5, 'IN', 'eAX,Ib', { io: true, handler: 'in' }));
  add(row('one', 0xe6, 'OUT', 'Ib,AL', { io: true, handler: 'out' }));
  add(row('one', 0xe7, 'OUT', 'Ib,eAX', { io: true, handler: 'out' }));
  add(row('one', 0xe8, 'CALL', 'Jz', { size: 'd64', handler: 'call_rel' }));
  add(row('one', 0xe9, 'JMP', 'Jz', { size: 'd64', handler: 'jmp_rel' }));
  add(row('one', 0xeb, 'JMP', 'Jb', { size: 'd64', handler: 'jmp_rel' }));
  add(row('one', 0xec, 'IN', 'AL,DX', { io: true, handler: 'in' }));
  add(row('one', 0xed, 'IN', 'eAX,DX', { io: true, handler: 'in' }));
  add(row('one', 0xee, 'OUT', 'DX,AL', { io: true, handler: 'out' }));
  add(row('one', 0xef, 'OUT', 'DX,eAX', { io: true, handler: 'out' }));
  add(row('one', 0xf1, 'INT1', '', { handler: 'int1' }));
  add(row('one', 0xf4, 'HLT', '', { priv: true }));
  add(row('one', 0xf5, 'CMC', '', { r: 'c', w: 'c' }));
  const grp3: Array<[string, string, object]> = [
    ['TEST', 'Ib', { w: 'oszapc', u: 'a', handler: 'test' }],
    // /1 is an undocumented TEST alias on hardware; QEMU 7.2 (the oracle) raises #UD, and so do we.
    ['TEST', 'Ib', { w: 'oszapc', u: 'a', handler: 'ud' }],
    ['NOT', '', { lock: true }],
    ['NEG', '', { lock: true, w: 'oszapc' }],
    ['MUL', '', { w: 'oszapc', u: 'szap' }],
    ['IMUL', '', { w: 'oszapc', u: 'szap', handler: 'imul1' }],
    ['DIV', '', { u: 'oszapc' }],
    ['IDIV', '', { u: 'oszapc' }],
  ];
  grp3.forEach(([name, imm, o], ext) => {
    add(row('one', 0xf6, name, imm ? `Eb,${imm}` : 'Eb', { ...o, ext }));
    add(row('one', 0xf7, name, imm ? 'Ev,Iz' : 'Ev', { ...o, ext }));
  });
  add(row('one', 0xf8, 'CLC', '', { w: 'c' }));
  add(row('one', 0xf9, 'STC', '', { w: 'c' }));
  add(row('one', 0xfa, 'CLI', '', { w: 'i', handler: 'cli' }));
  add(row('one', 0xfb, 'STI', '', { w: 'i', handler: 'sti' }));
  add(row('one', 0xfc, 'CLD', '', { w: 'd' }));
  add(row('one', 0xfd, 'STD', '', { w: 'd' }));
  add(row('one', 0xfe, 'INC', 'Eb', { ext: 0, lock: true, w: 'oszap' }));
  add(row('one', 0xfe, 'DEC', 'Eb', { ext: 1, lock: true, w: 'oszap' }));
  add(row('one', 0xff, 'INC', 'Ev', { ext: 0, lock: true, w: 'oszap' }));
  add(row('one', 0xff, 'DEC', 'Ev', { ext: 1, lock: true, w: 'oszap' }));
  add(row('one', 0xff, 'CALL', 'Ev', { ext: 2, size: 'f64', handler: 'call_ind' }));
  add(row('one', 0xff, 'CALLF', 'M', { ext: 3, handler: 'callf' })); // m16:16/32, m16:64 with REX.W
  add(row('one', 0xff, 'JMP', 'Ev', { ext: 4, size: 'f64', handler: 'jmp_ind' }));
  add(row('one', 0xff, 'JMPF', 'M', { ext: 5, handler: 'jmpf' }));
  add(row('one', 0xff, 'PUSH', 'Ev', { ext: 6, size: 'd64' }));
  return rows;
}

export const ONE_BYTE_ROWS: readonly IsaRow[] = oneByte();
