import { describe, expect, it } from 'vitest';
import { StepHistory, type StepRecord } from './step-history.js';

function rec(index: number, writes: Array<[number, number]> = [], gprsWritten: StepRecord['gprsWritten'] = []): StepRecord {
  return {
    index, rip: 0x1000n + BigInt(index), bytes: new Uint8Array([0x90]), text: 'nop', reads: [], devices: [], followed: [], gprsWritten,
    writes: writes.map(([addr, length]) => ({ lin: BigInt(addr), size: length, phys: [{ addr, length }], old: new Uint8Array(length) })),
  };
}

describe('step history', () => {
  it('knows the last writer of each byte and register, across page boundaries', () => {
    const h = new StepHistory(8);
    h.add(rec(0, [[0x1ffc, 8]], ['rax']));
    h.add(rec(1, [[0x2000, 2]]));
    h.add(rec(2, [], ['rbx', 'rax']));
    expect(h.lastWriterOf(0x1ffc)).toBe(0);
    expect(h.lastWriterOf(0x2001)).toBe(1);
    expect(h.lastWriterOf(0x2003)).toBe(0);
    expect(h.lastWriterOf(0x2004)).toBeUndefined();
    // before a given instruction: its own write does not count
    expect(h.lastWriterOf(0x2000, 1)).toBe(0);
    expect(h.lastWriterOfRegister('rax', 3)).toBe(2);
    expect(h.lastWriterOfRegister('rax', 2)).toBe(0);
    expect(h.lastWriterOfRegister('rcx', 3)).toBeUndefined();
  });

  it('keeps a window of records and hands out the last n in order', () => {
    const h = new StepHistory(4);
    for (let i = 0; i < 10; i++) h.add(rec(i));
    expect(h.get(5)).toBeUndefined(); // fell out of the window
    expect(h.lastN(9, 3).map((r) => r.index)).toEqual([7, 8, 9]);
    expect(h.lastN(9, 10).map((r) => r.index)).toEqual([6, 7, 8, 9]);
  });
});
