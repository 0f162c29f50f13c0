import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { modelForQemuCpu } from '../cpu/cpu-model.js';
import { ALL_ROWS } from '../isa/table.js';
import { bareMachine, execOne } from '../test-support/bare-machine.js';

/**
 * Every case in testdata/host-bmi2.json ran on the host x86-64 CPU (testdata/host-bmi2.c): BZHI,
 * PDEP, PEXT, SHLX, SARX, SHRX, RORX and MULX (also with one register as both of its destinations),
 * 32- and 64-bit, over edge values (indexes and counts at and past the operand size, junk above
 * them, zero and all-ones masks), with the status flags preset set and clear. Here the same
 * instruction, VEX-encoded by hand, runs on the emulator (qemu64,+bmi1,+bmi2): the whole
 * destination registers and every status flag the SDM defines must match.
 */
type Case = [op: string, width: number, a: string, b: string, flagsIn: number, r: string, r2: string, f: number];
const cases: Case[] = JSON.parse(readFileSync(new URL('../testdata/host-bmi2.json', import.meta.url), 'utf8'));

const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSI = 6;
const MAP_0F38 = 2, MAP_0F3A = 3;
const PP = { none: 0, 0x66: 1, 0xf3: 2, 0xf2: 3 } as const;

/** C4 RXB.map W.vvvv.L0.pp opcode ModRM(mod 3), registers below 8. */
function vex(map: number, pp: number, w: number, vvvv: number, opcode: number, reg: number, rm: number): number[] {
  return [0xc4, 0xe0 | map, (w === 64 ? 0x80 : 0) | ((~vvvv & 15) << 3) | pp, opcode, 0xc0 | (reg << 3) | rm];
}

/**
 * The case's operands: a in RBX, b in RSI (RDX for MULX; RORX's b is its immediate); the result is
 * read from RAX, MULX's low half from RCX.
 */
const ENCODE: Record<string, (w: number, b: bigint) => number[]> = {
  bzhi: (w) => vex(MAP_0F38, PP.none, w, RSI, 0xf5, RAX, RBX), // RAX = BZHI(RBX, index RSI)
  pdep: (w) => vex(MAP_0F38, PP[0xf2], w, RBX, 0xf5, RAX, RSI), // RAX = PDEP(RBX, mask RSI)
  pext: (w) => vex(MAP_0F38, PP[0xf3], w, RBX, 0xf5, RAX, RSI),
  shlx: (w) => vex(MAP_0F38, PP[0x66], w, RSI, 0xf7, RAX, RBX), // RAX = RBX << RSI
  sarx: (w) => vex(MAP_0F38, PP[0xf3], w, RSI, 0xf7, RAX, RBX),
  shrx: (w) => vex(MAP_0F38, PP[0xf2], w, RSI, 0xf7, RAX, RBX),
  rorx: (w, b) => [...vex(MAP_0F3A, PP[0xf2], w, 0, 0xf0, RAX, RBX), Number(b)],
  mulx: (w) => vex(MAP_0F38, PP[0xf2], w, RCX, 0xf6, RAX, RBX), // RAX:RCX = RDX × RBX
  'mulx-same': (w) => vex(MAP_0F38, PP[0xf2], w, RAX, 0xf6, RAX, RBX),
};

describe('BMI2 VEX rows match the host CPU', () => {
  const groups = new Map<string, Case[]>();
  for (const c of cases) groups.set(`${c[0]} ${c[1]}-bit`, [...(groups.get(`${c[0]} ${c[1]}-bit`) ?? []), c]);
  it('covers every BMI2 row, both sizes', () => {
    const mnemonics = ALL_ROWS.filter((r) => r.feature === 'bmi2').map((r) => r.mnemonic.toLowerCase());
    expect(mnemonics.sort()).toEqual(Object.keys(ENCODE).filter((k) => !k.includes('-')).sort());
    for (const m of mnemonics) for (const w of [32, 64]) expect(groups.has(`${m} ${w}-bit`)).toBe(true);
  });
  for (const [key, group] of groups) {
    it(`${key} (${group.length} cases)`, () => {
      const m = bareMachine(modelForQemuCpu('qemu64,+bmi1,+bmi2'));
      const row = ALL_ROWS.find((r) => r.vex && r.mnemonic === group[0]![0].split('-')[0]!.toUpperCase())!;
      const mask = 0x8d5 & ~row.flagsUndefined;
      const failures: string[] = [];
      for (const [op, w, aHex, bHex, flagsIn, rHex, r2Hex, f] of group) {
        const b = BigInt(`0x${bHex}`);
        m.cpu.set64(RAX, 0x5555555555555555n);
        m.cpu.set64(RCX, 0x5555555555555555n);
        m.cpu.set64(RBX, BigInt(`0x${aHex}`));
        m.cpu.set64(op.startsWith('mulx') ? RDX : RSI, b);
        m.cpu.setFlags(flagsIn);
        const out = execOne(m, Uint8Array.from(ENCODE[op]!(w, b)));
        const got = m.cpu.get64(RAX);
        const got2 = op === 'mulx' ? m.cpu.get64(RCX) : 0n;
        const flags = m.cpu.getFlags() & mask;
        if (out.kind !== 'ok' || got !== BigInt(`0x${rHex}`) || got2 !== BigInt(`0x${r2Hex}`) || flags !== (f & mask)) {
          failures.push(`${op}${w} a=0x${aHex} b=0x${bHex} flags in 0x${flagsIn.toString(16)}: got 0x${got.toString(16)}/0x${got2.toString(16)} f=0x${flags.toString(16)}, host 0x${rHex}/0x${r2Hex} f=0x${(f & mask).toString(16)} (${out.kind})`);
        }
      }
      expect(failures.slice(0, 10)).toEqual([]);
    });
  }
});
