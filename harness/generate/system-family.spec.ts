import { beforeAll, describe, expect, it } from 'vitest';
import { initAssembler } from '../asm/assembler.js';
import type { KeystoneX86 } from '../asm/keystone.js';
import { modelForQemuCpu } from '../../emulator/cpu/cpu-model.js';
import { ALL_ROWS } from '../../emulator/isa/table.js';
import { generatableRows, parseFamilies, systemRows } from './row-catalog.js';
import { SYSTEM_MSRS, systemCase, systemProgram } from './system-family.js';

const QEMU64 = modelForQemuCpu('qemu64')!.features;
const XSAVE = modelForQemuCpu('qemu64,+xsave,+xsaveopt,+xgetbv1,+rdtscp')!.features;

let ks: KeystoneX86;
beforeAll(async () => {
  ks = await initAssembler(64);
});

/** The MSR indices a program's body writes (ECX loaded before each WRMSR). */
function msrsWritten(lines: readonly string[]): number[] {
  const out: number[] = [];
  let ecx: number | undefined;
  for (const l of lines) {
    const m = /^mov ecx, (0x[0-9a-f]+|\d+)$/.exec(l);
    if (m) ecx = Number(m[1]);
    if (l === 'wrmsr' && ecx !== undefined) out.push(ecx);
  }
  return out;
}

describe('the system family', () => {
  it('is the same program for the same seed, and another for another seed', () => {
    expect(systemProgram(42, QEMU64)).toEqual(systemProgram(42, QEMU64));
    expect(systemProgram(42, QEMU64).lines).not.toEqual(systemProgram(43, QEMU64).lines);
  });

  it('resets, before the templates, every MSR they write and the debug registers they touch', () => {
    for (let seed = 1; seed < 400; seed++) {
      const p = systemProgram(seed, XSAVE);
      const head = p.lines.slice(0, p.keep);
      const body = p.lines.slice(p.keep);
      const resettable = new Set(SYSTEM_MSRS.filter((m) => m.reset !== undefined).map((m) => m.index));
      for (const index of msrsWritten(body).filter((i) => resettable.has(i))) expect(msrsWritten(head), `seed ${seed}`).toContain(index);
      if (body.some((l) => /^mov dr\d, /.test(l))) expect(head, `seed ${seed}`).toContain('mov dr7, rax');
      if (body.includes('xsetbv')) expect(head, `seed ${seed}`).toContain('xsetbv');
    }
  });

  it('draws the XSAVE templates only for a model with XSAVE', () => {
    const lines = (features: typeof QEMU64) => Array.from({ length: 300 }, (_, i) => systemProgram(i, features).lines).flat();
    expect(lines(QEMU64).some((l) => /^x(save|rstor|setbv|getbv)/.test(l))).toBe(false);
    expect(lines(XSAVE).filter((l) => /^x(save|rstor|setbv|getbv)/.test(l)).length).toBeGreaterThan(50);
  });

  it.each([['qemu64', QEMU64], ['qemu64,+xsave…', XSAVE]] as const)('assembles every case, marks it as writing system state, and reaches every row the family aims at (%s)', (_, features) => {
    const rows = new Set<number>();
    for (let i = 0; i < 400; i++) {
      const out = systemCase(i * 7919 + 1, String(i), features, ks);
      expect(out.ok, JSON.stringify(out.rejects)).toBe(true);
      if (!out.ok) continue;
      expect(out.case.writesSystemState).toBe(true);
      for (const r of out.rowsExercised) if (r !== undefined) rows.add(r);
    }
    const aimed = systemRows(features);
    const missed = aimed.filter((r) => !rows.has(r.id)).map((r) => r.mnemonic);
    expect(missed).toEqual([]);
    expect(aimed.map((r) => r.mnemonic)).toEqual(expect.arrayContaining(['WRMSR', 'RDMSR', 'SWAPGS', 'INVLPG', 'LMSW', 'CLTS', 'FXRSTOR', ...(features === XSAVE ? ['XSETBV', 'XRSTOR'] : [])]));
  });

  it('is its own family: asked for alone, its rows are the coverage table\'s', () => {
    expect(() => parseFamilies(['system', 'alu'])).toThrow(/family 'system' has a generator of its own/);
    expect(generatableRows(['system'], 'keystone', QEMU64).map((r) => r.id)).toEqual(systemRows(QEMU64).map((r) => r.id));
    expect(systemRows(QEMU64).every((r) => ALL_ROWS[r.id] === r && r.feature === undefined)).toBe(true);
  });
});
