import { describe, expect, it } from 'vitest';
import { missingHandlers } from '../exec/handlers.js';
import { AF, CF, OF, PF, SF, ZF } from './flags.js';
import { ALL_ROWS, listRows, ROWS_BY_MAP, undefinedFlagsOf } from './table.js';

describe('opcode table', () => {
  it('has a handler for every row', () => {
    expect(missingHandlers()).toEqual([]);
  });

  it('lists rows as data with undefined-flag masks (SDM flag tables)', () => {
    const rows = listRows();
    expect(rows.length).toBe(ALL_ROWS.length);
    const find = (m: string, ops: string) => rows.find((r) => r.mnemonic === m && r.operands === ops)!;
    expect(find('AND', 'Ev,Gv').flagsUndefined).toBe(AF);
    expect(find('ADD', 'Ev,Gv').flagsUndefined).toBe(0);
    expect(find('MUL', 'Ev').flagsUndefined).toBe(SF | ZF | AF | PF);
    expect(find('DIV', 'Ev').flagsUndefined).toBe(CF | PF | AF | ZF | SF | OF);
    expect(find('BSF', 'Gv,Ev').flagsUndefined).toBe(CF | PF | AF | SF | OF);
    expect(find('SHL', 'Ev,CL').flagsUndefined).toBe(OF | AF);
    expect(find('INC', 'Ev').flagsWritten & CF).toBe(0);
    expect(undefinedFlagsOf(find('BT', 'Ev,Ib').id)).toBe(OF | SF | AF | PF);
  });

  it('covers the whole one-byte map except prefixes and the 0F escape', () => {
    const prefixes = new Set([0x0f, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);
    for (let op = 0x40; op < 0x50; op++) prefixes.add(op); // REX in 64-bit mode
    const missing = [];
    for (let op = 0; op < 256; op++) if (!prefixes.has(op) && ROWS_BY_MAP.one[op]!.length === 0) missing.push(op.toString(16));
    expect(missing).toEqual([]);
  });

  it('marks lockable rows only where the SDM allows LOCK', () => {
    const lockable = new Set(ALL_ROWS.filter((r) => r.lock).map((r) => r.mnemonic));
    expect([...lockable].sort()).toEqual(
      ['ADC', 'ADD', 'AND', 'BTC', 'BTR', 'BTS', 'CMPXCHG', 'CMPXCHG8B', 'DEC', 'INC', 'NEG', 'NOT', 'OR', 'SBB', 'SUB', 'XADD', 'XCHG', 'XOR'],
    );
  });
});
