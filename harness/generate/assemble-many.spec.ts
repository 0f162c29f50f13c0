import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initAssembler } from '../asm/assembler.js';
import type { KeystoneX86 } from '../asm/keystone.js';
import { createCaseSource } from '../campaign/case-source.js';
import { assemblePrograms, MAX_JOINED_CHARS } from './assemble-many.js';
import { fastProgramArbitrary, type GeneratedProgram } from './program.js';
import { assembleProgram } from './to-case.js';

let ks: KeystoneX86;
beforeAll(async () => {
  ks = await initAssembler();
});

function programs(seed: number, n: number, length: [number, number]): GeneratedProgram[] {
  return fc.sample(fastProgramArbitrary({ length }), { seed, numRuns: n });
}

describe('assemblePrograms (many programs per keystone call)', () => {
  it('gives each program the outcome assembleProgram gives it alone', () => {
    const ps = programs(5, 300, [1, 10]);
    const joined = assemblePrograms(ps.map((program, i) => ({ program, seed: `s-${i}` })));
    const alone = ps.map((program, i) => assembleProgram(program, `s-${i}`));
    expect(joined).toEqual(alone);
    // RIP fix-ups (second pass) happen in these programs, or this would not test them
    expect(ps.some((p) => p.lines.some((l) => l.includes('rip')))).toBe(true);
  });

  it('takes a line seen before from its checked encoding, without keystone, and the outcome stays the same', () => {
    const items = (ps: GeneratedProgram[]) => ps.map((program, i) => ({ program, seed: `c-${i}` }));
    const all = programs(7, 200, [10, 10]);
    const clean = assemblePrograms(items(all)).flatMap((o, i) => (o.ok && o.rejects.length === 0 && !all[i]!.lines.some((l) => l.includes('rip')) ? [all[i]!] : []));
    expect(clean.length).toBeGreaterThan(50);
    const calls = ks.stats.calls;
    const again = assemblePrograms(items(clean)); // every line is cached now
    expect(ks.stats.calls - calls).toBe(0);
    expect(again).toEqual(clean.map((program, i) => assembleProgram(program, `c-${i}`)));
  });

  it('cuts a group too big for one keystone call (keystone-wasm traps past ~64 KiB of text)', () => {
    const ps = programs(6, 400, [10, 10]);
    expect(ps.reduce((n, p) => n + p.lines.join('\n').length, 0)).toBeGreaterThan(2 * MAX_JOINED_CHARS);
    const calls = ks.stats.calls;
    const joined = assemblePrograms(ps.map((program, i) => ({ program, seed: `g-${i}` })));
    expect(ks.stats.calls - calls).toBeLessThan(20);
    expect(joined.filter((o) => !o.ok)).toEqual([]);
    expect(joined).toEqual(ps.map((program, i) => assembleProgram(program, `g-${i}`)));
  });

  it('settles lines keystone refuses or mis-encodes the way the single path does, wherever they sit', () => {
    // prefilter (illegal), mis-encoded immediate, keystone refusal without a line, undecodable bytes
    const bad = ['mov sil, ah', 'add al, 0x1234', 'lea eax, eax', 'mov cr9, rax'];
    for (const [k, line] of bad.entries()) {
      const ps = programs(40 + k, 40, [3, 10]);
      for (const at of [0, 17, 18, 39]) ps[at]!.lines[1] = line; // lines is computed once and kept
      const joined = assemblePrograms(ps.map((program, i) => ({ program, seed: `b-${i}` })));
      const alone = ps.map((program, i) => assembleProgram(program, `b-${i}`));
      expect(joined, line).toEqual(alone);
      for (const at of [0, 17, 18, 39]) expect(joined[at]!.rejects.length, line).toBeGreaterThan(0);
      expect(joined.filter((o) => o.rejects.length > 0).length, line).toBe(4);
    }
  });

  it('is what a campaign case source uses for calls made together, with the same cases as one call at a time', async () => {
    const config = { seed: 9, families: undefined, length: [10, 10] as [number, number], raw: false };
    const source = createCaseSource(config);
    await source(0); // keystone loaded
    const calls = ks.stats.calls;
    const together = await Promise.all(Array.from({ length: 60 }, (_, i) => source(i)));
    expect(ks.stats.calls - calls).toBeLessThan(5); // one or two passes, not a call per case
    const oneByOne = [];
    const single = createCaseSource(config);
    for (let i = 0; i < 60; i++) oneByOne.push(await single(i));
    expect(together).toEqual(oneByOne);
    expect(oneByOne.filter((g) => g.case).length).toBeGreaterThan(55);
  });

  it('loses no case when keystone dies with no warm spare: the group waits for a fresh instance', async () => {
    const config = { seed: 12, families: undefined, length: [10, 10] as [number, number], raw: false };
    const single = createCaseSource(config);
    const oneByOne = [];
    for (let i = 0; i < 40; i++) oneByOne.push(await single(i));
    const source = createCaseSource(config);
    await source(0);
    await ks.ready();
    // two deaths in a row (an oversized input traps the instance): the first uses up the warm spare
    const huge = Array.from({ length: 6000 }, () => 'add rax, qword ptr [rbx + rcx*4 + 0x12345]').join('\n');
    const before = ks.stats.recreations;
    for (let k = 0; k < 2; k++) {
      try {
        ks.tryAssemble(huge, 0x10000n);
      } catch {
        /* no spare left to retry with */
      }
    }
    expect(ks.stats.recreations).toBeGreaterThan(before);
    const together = await Promise.all(Array.from({ length: 40 }, (_, i) => source(i)));
    expect(together).toEqual(oneByOne);
  });
});
