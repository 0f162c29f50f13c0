import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { modelForQemuCpu } from '../cpu/cpu-model.js';
import { ALL_ROWS } from '../isa/table.js';
import { bareMachine, execOne } from '../test-support/bare-machine.js';

/**
 * Every case in testdata/host-bmi1.json ran on the host x86-64 CPU (testdata/host-bmi1.c): ANDN,
 * BEXTR, BLSI, BLSMSK and BLSR, 32- and 64-bit, over edge values, with the status flags preset
 * set and clear. Here the same instruction, VEX-encoded by hand, runs on the emulator (qemu64,+bmi1):
 * the whole destination register and every status flag the SDM defines must match.
 */
type Case = [op: string, width: number, a: string, b: string, flagsIn: number, r: string, f: number];
const cases: Case[] = JSON.parse(readFileSync(new URL('../testdata/host-bmi1.json', import.meta.url), 'utf8'));

const RAX = 0, RBX = 3, RSI = 6;

/** C4 RXB.map(0F38) W.vvvv.L0.pp00 opcode ModRM(mod 3), registers below 8. */
function vex(w: number, vvvv: number, opcode: number, reg: number, rm: number): Uint8Array {
  return Uint8Array.from([0xc4, 0xe2, (w === 64 ? 0x80 : 0) | ((~vvvv & 15) << 3), opcode, 0xc0 | (reg << 3) | rm]);
}

/** Registers each case loads: a into RBX, b into RSI; the result is read from RAX. */
const ENCODE: Record<string, (w: number) => Uint8Array> = {
  andn: (w) => vex(w, RBX, 0xf2, RAX, RSI), // RAX = ~RBX & RSI
  bextr: (w) => vex(w, RSI, 0xf7, RAX, RBX), // RAX = BEXTR(RBX, control RSI)
  blsr: (w) => vex(w, RAX, 0xf3, 1, RBX),
  blsmsk: (w) => vex(w, RAX, 0xf3, 2, RBX),
  blsi: (w) => vex(w, RAX, 0xf3, 3, RBX),
};

describe('BMI1 VEX rows match the host CPU', () => {
  const groups = new Map<string, Case[]>();
  for (const c of cases) groups.set(`${c[0]} ${c[1]}-bit`, [...(groups.get(`${c[0]} ${c[1]}-bit`) ?? []), c]);
  for (const [key, group] of groups) {
    it(`${key} (${group.length} cases)`, () => {
      const m = bareMachine(modelForQemuCpu('qemu64,+bmi1'));
      const row = ALL_ROWS.find((r) => r.vex && r.mnemonic === group[0]![0].toUpperCase())!;
      const mask = 0x8d5 & ~row.flagsUndefined;
      const failures: string[] = [];
      for (const [op, w, aHex, bHex, flagsIn, rHex, f] of group) {
        m.cpu.set64(RAX, 0x5555555555555555n);
        m.cpu.set64(RBX, BigInt(`0x${aHex}`));
        m.cpu.set64(RSI, BigInt(`0x${bHex}`));
        m.cpu.setFlags(flagsIn);
        const out = execOne(m, ENCODE[op]!(w));
        const got = m.cpu.get64(RAX);
        const flags = m.cpu.getFlags() & mask;
        if (out.kind !== 'ok' || got !== BigInt(`0x${rHex}`) || flags !== (f & mask)) {
          failures.push(`${op}${w} a=0x${aHex} b=0x${bHex} flags in 0x${flagsIn.toString(16)}: got 0x${got.toString(16)} f=0x${flags.toString(16)}, host 0x${rHex} f=0x${(f & mask).toString(16)} (${out.kind})`);
        }
      }
      expect(failures.slice(0, 10)).toEqual([]);
    });
  }
});
