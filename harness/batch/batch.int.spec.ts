import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASE_FORMAT, decodeCase, type Case } from '../../corpus/case-schema.js';
import { QemuTarget } from '../../oracle/qemu/qemu-target.js';
import { LAYOUT } from '../../contracts/test-machine.js';
import { asm } from '../asm/assembler.js';
import { createCaseSource } from '../campaign/case-source.js';
import { createEmulatorDut } from '../emulator-dut.js';
import { LockstepRunner } from '../lockstep.js';
import { batchIneligible, finalUndefinedFlags, stageBatch } from './batch-image.js';
import { BATCH, RECORD } from './batch-layout.js';
import { BatchScreen, recordsAgree } from './batch-screen.js';

/**
 * The guest-side batch against real QEMU and the emulator. Its promise: a case it reports as
 * agreed is one the per-case lockstep finds no divergence in, and a case with a real divergence
 * is never reported as agreed. Both are checked case by case against LockstepRunner.
 */
let qemu: QemuTarget;
beforeAll(async () => {
  qemu = await QemuTarget.launch();
});
afterAll(async () => {
  await qemu?.close();
});

async function handCase(id: string, text: string, extra: Partial<Record<string, unknown>> = {}): Promise<Case> {
  const code = await asm(text, LAYOUT.code);
  return decodeCase({
    format: CASE_FORMAT,
    id,
    code: Buffer.from(code).toString('hex'),
    regs: { rbx: '0x20000' },
    memory: [{ addr: '0x20000', bytes: '1122334455667788'.repeat(4) }],
    compare: [{ addr: '0x20000', length: 32 }, { addr: '0xfc00', length: 0x400 }],
    provenance: { generator: 'hand' },
    ...extra,
  });
}

async function generated(seed: number, n: number): Promise<Case[]> {
  const source = createCaseSource({ seed, length: [10, 10], raw: false });
  const out: Case[] = [];
  for (let i = 0; out.length < n; i++) {
    const g = await source(i);
    if (g.case) out.push(g.case);
  }
  return out;
}

describe('BatchScreen (QEMU vs emulator)', () => {
  it('agrees only on cases the per-case lockstep also finds matching', async () => {
    const emulator = createEmulatorDut([]);
    const cases = await generated(11, 40);
    const r = await new BatchScreen(qemu, emulator).screen(cases);
    expect(r.completed).toBe(true);
    expect(r.batched).toBe(cases.length);
    // the emulator agrees with QEMU on nearly everything; undefined flags send some cases to the per-case run
    expect(r.agreed.filter(Boolean).length).toBeGreaterThan(cases.length * 0.7);
    const single = new LockstepRunner(qemu, emulator);
    for (const [i, c] of cases.entries()) {
      const one = await single.run(c, { mode: 'block' });
      if (r.agreed[i]) expect(one.outcome, `case ${i} agreed in the batch`).toBe('match');
    }
  }, 120_000);

  it('never agrees on a case with a planted bug, and agrees around it', async () => {
    const dut = createEmulatorDut(['rip-rel-from-start']);
    const plain = await handCase('plain', 'mov rax, qword ptr [rbx]\nadd rax, 0x1234\nmov qword ptr [rbx + 8], rax');
    const ripRel = await handCase('rip-rel', 'add r13, qword ptr [rip + 0x10001]\nmov qword ptr [rbx], r13');
    const r = await new BatchScreen(qemu, dut).screen([plain, ripRel, plain]);
    expect(r.agreed).toEqual([true, false, true]);
    const one = await new LockstepRunner(qemu, dut).run(ripRel, { mode: 'block' });
    expect(one.outcome).toBe('divergence');
    await dut.close();
  }, 60_000);

  it('sees a difference in memory alone', async () => {
    // PUSH imm32 not sign-extended: only the pushed qword (and its copy) differ, registers agree.
    // (A mutant that breaks an instruction the runner itself uses — the checksum's 64-bit ADD
    // from memory, say — makes every record differ: slower, since all cases then run alone, but
    // never a missed divergence.)
    const dut = createEmulatorDut(['push-imm32-no-sext']);
    const plain = await handCase('plain', 'inc qword ptr [rbx]');
    const c = await handCase('mem-only', 'push -0x12345\npop qword ptr [rbx]');
    const r = await new BatchScreen(qemu, dut).screen([plain, c, plain]);
    expect(r.agreed).toEqual([true, false, true]);
    const one = await new LockstepRunner(qemu, dut).run(c, { mode: 'block' });
    expect(one.outcome).toBe('divergence');
    expect(one.divergence?.diffs).toEqual([]);
    expect(one.divergence?.memoryDiffs.length).toBeGreaterThan(0);
    await dut.close();
  }, 60_000);

  it('checksums every compared qword: a change in any one of 1 to 9 is seen (the loop takes four at a time, then the rest)', async () => {
    const cases: Case[] = [];
    for (let n = 1; n <= 9; n++) {
      for (let q = 0; q < n; q++) {
        // only the data qword is compared, not the stack slot the push also wrote
        const extra = { memory: [{ addr: '0x20000', bytes: '11'.repeat(8 * n) }], compare: [{ addr: '0x20000', length: 8 * n }] };
        cases.push(await handCase(`q${n}-${q}`, `push -0x12345\npop qword ptr [rbx + ${8 * q}]`, extra));
      }
    }
    const plain = createEmulatorDut([]);
    expect((await new BatchScreen(qemu, plain).screen(cases)).agreed).toEqual(cases.map(() => true));
    const mutant = createEmulatorDut(['push-imm32-no-sext']);
    expect((await new BatchScreen(qemu, mutant).screen(cases)).agreed).toEqual(cases.map(() => false));
    await Promise.all([plain.close(), mutant.close()]);
  }, 60_000);

  it('recreates every staged byte in the guest, the generator\'s xorshift fills included', async () => {
    const emulator = createEmulatorDut([]);
    // generated cases' scratch memory (mostly xorshift streams the runner regenerates), run as a lone NOP
    const cases = (await generated(12, 12)).map((c) => ({ ...c, code: Uint8Array.of(0x90), asm: ['nop'] }));
    let regenerated = 0;
    for (const c of cases) {
      const staged = stageBatch([c], BATCH.code);
      const sent = staged.writes.reduce((n, w) => n + w.bytes.length, 0);
      const memory = c.memory.reduce((n, m) => n + m.bytes.length, 0);
      if (sent < memory / 2) regenerated++;
      const r = await new BatchScreen(qemu, emulator).screen([c]);
      expect(r.agreed).toEqual([true]);
      for (const t of [qemu, emulator]) {
        for (const m of c.memory) expect(Buffer.from(await t.readMemory(m.addr, m.bytes.length, 'phys')).equals(Buffer.from(m.bytes)), `${t.name} ${c.id}`).toBe(true);
      }
    }
    expect(regenerated).toBeGreaterThan(3);
  }, 60_000);

  it('agrees with the per-case run where QEMU depends on translation blocks (CMPXCHG8B after SBB)', async () => {
    // QEMU 7.2 computes CMPXCHG8B's flags from a stale lazy-flag state within a translation block
    const emulator = createEmulatorDut([]);
    const c = await handCase('cx8', 'sbb rax, 0x2\ncmpxchg8b qword ptr [rbx]', { regs: { rbx: '0x20000', rax: '0xfffffffffffffec5' }, rflags: '0xc3' });
    expect((await new LockstepRunner(qemu, emulator).run(c, { mode: 'block' })).outcome).toBe('match');
    expect((await new BatchScreen(qemu, emulator).screen([c, c])).agreed).toEqual([true, true]);
  }, 60_000);

  it('does not let a case\'s flags reach the runner (NT left set makes IRETQ fault)', async () => {
    const dut = createEmulatorDut(['rip-rel-from-start']);
    const setsNt = await handCase('nt', 'pushfq\nor qword ptr [rsp], 0x4000\npopfq');
    const ripRel = await handCase('rip-rel', 'add r13, qword ptr [rip + 0x10001]\nmov qword ptr [rbx], r13');
    const r = await new BatchScreen(qemu, dut).screen([setsNt, ripRel]);
    expect(r.agreed).toEqual([true, false]);
    await dut.close();
  }, 60_000);

  it('scrubs the test machine\'s pages with a guest loop, and the per-case lockstep goes on after it', async () => {
    const emulator = createEmulatorDut([]);
    const screen = new BatchScreen(qemu, emulator);
    const junk = new Uint8Array(0x100).fill(0xa5);
    for (const t of [qemu, emulator]) {
      for (const addr of [LAYOUT.stackBase, LAYOUT.code + 0x800n, LAYOUT.unmapped - 0x100n]) await t.writeMemory(addr, junk, 'phys');
      expect(await screen.scrub(t)).toBe(true);
      const all = await t.readMemory(LAYOUT.stackBase, Number(LAYOUT.unmapped - LAYOUT.stackBase), 'phys');
      expect(all.every((b) => b === 0), t.name).toBe(true);
    }
    const c = await handCase('after', 'mov rax, qword ptr [rbx]\nadd rax, 0x1234\nmov qword ptr [rbx + 8], rax');
    expect((await new LockstepRunner(qemu, emulator).run(c, { mode: 'step' })).outcome).toBe('match');
  }, 60_000);

  it('records exceptions, even with a wrecked stack pointer, and agrees on them', async () => {
    const emulator = createEmulatorDut([]);
    const cases = [
      await handCase('pf', 'mov rax, qword ptr [0x40000]'),
      await handCase('de', 'xor ecx, ecx\ndiv ecx'),
      await handCase('bad-rsp', 'mov rsp, 0x7000\npush rax'),
      await handCase('ud', 'ud2'),
      await handCase('ok', 'inc qword ptr [rbx]'),
    ];
    const r = await new BatchScreen(qemu, emulator).screen(cases);
    expect(r.completed).toBe(true);
    expect(r.agreed).toEqual([true, true, true, true, true]);
  }, 60_000);

  it('leaves cases with system instructions to the per-case lockstep, and runs x87/SSE ones in a simd batch', async () => {
    const emulator = createEmulatorDut([]);
    const ok = await handCase('ok', 'inc qword ptr [rbx]');
    const x87 = await handCase('x87', 'fld1\nfstp qword ptr [rbx]');
    const cr = await handCase('cr', 'mov rax, cr0');
    const r = await new BatchScreen(qemu, emulator).screen([ok, x87, cr, ok]);
    expect(batchIneligible(x87)).toBeUndefined();
    expect(batchIneligible(cr)).toMatch(/cr0/);
    expect(r.batched).toBe(3);
    expect(r.agreed).toEqual([true, true, false, true]);
  }, 60_000);

  it('sees a difference in x87/SSE state alone on QEMU as on the emulator (XMM, MXCSR, an x87 register, FCW, an MMX register)', async () => {
    const emulator = createEmulatorDut([]);
    const pairs = [
      ['mov eax, 0x1\nmovq xmm11, rax\npslldq xmm11, 0xf\nxor eax, eax', 'mov eax, 0x2\nmovq xmm11, rax\npslldq xmm11, 0xf\nxor eax, eax'],
      ['mov dword ptr [rbx], 0x1f80\nldmxcsr dword ptr [rbx]\nmov dword ptr [rbx], 0x11', 'mov dword ptr [rbx], 0x3f80\nldmxcsr dword ptr [rbx]\nmov dword ptr [rbx], 0x11'],
      ['fld1', 'fldz'],
      ['mov word ptr [rbx], 0x37f\nfldcw word ptr [rbx]\nmov word ptr [rbx], 0x1111', 'mov word ptr [rbx], 0x77f\nfldcw word ptr [rbx]\nmov word ptr [rbx], 0x1111'],
      ['mov eax, 0x5\nmovd mm2, eax\nxor eax, eax', 'mov eax, 0x6\nmovd mm2, eax\nxor eax, eax'],
    ];
    const cases = await Promise.all(pairs.flat().map((t, i) => handCase(`p${i}`, t)));
    const round = await new BatchScreen(qemu, emulator).runBatch(cases);
    expect(round.completed).toBe(true);
    const q = (records: Uint8Array, k: number, o: number) => new DataView(records.buffer, records.byteOffset).getBigUint64(k * BATCH.recordBytes + o, true);
    for (let k = 0; k < cases.length; k++) {
      // QEMU's runner (FXRSTOR, FXSAVE, the checksum loop) and the native batch agree on every record
      expect(Buffer.compare(round.reference.subarray(k * BATCH.recordBytes, (k + 1) * BATCH.recordBytes), round.dut.subarray(k * BATCH.recordBytes, (k + 1) * BATCH.recordBytes)), pairs.flat()[k]).toBe(0);
    }
    for (let p = 0; p < pairs.length; p++) {
      const differing = [];
      for (let o = 0; o < BATCH.recordBytes; o += 8) if (q(round.reference, 2 * p, o) !== q(round.reference, 2 * p + 1, o)) differing.push(o);
      expect(differing, pairs[p]![0]).toEqual([RECORD.simdHash, RECORD.simdHash2]);
    }
  }, 60_000);

  it('never agrees on a generated sse or x87 case the per-case lockstep (XMM, MXCSR, x87 compared) finds diverging, and agrees on most', async () => {
    const emulator = createEmulatorDut([]);
    const screen = new BatchScreen(qemu, emulator);
    const single = new LockstepRunner(qemu, emulator);
    let matched = 0;
    let diverged = 0;
    for (const [seed, family] of [[51, 'sse'], [52, 'x87']] as const) {
      const source = createCaseSource({ seed, length: [4, 10], raw: false, families: [family] });
      const cases: Case[] = [];
      for (let i = 0; cases.length < 96; i++) {
        const g = await source(i);
        if (g.case) cases.push(g.case);
      }
      const r = await screen.screen(cases);
      expect(r.batched).toBe(96);
      for (let k = 0; k < cases.length; k++) {
        const one = await single.run(cases[k]!, { mode: 'block' });
        if (one.outcome === 'match') matched++;
        else diverged++;
        // never agreed on a divergence; agreed on (nearly) every match
        if (one.outcome !== 'match') expect(r.agreed[k], cases[k]!.asm?.join('; ')).toBe(false);
      }
      expect(r.agreed.filter(Boolean).length).toBeGreaterThan(80);
    }
    expect(matched).toBeGreaterThan(160);
    expect(matched + diverged).toBe(192);
  }, 180_000);

  it('settles the cases before and after a case that halts: the batch stops there, the cases after it go in a second one', async () => {
    const emulator = createEmulatorDut([]);
    const ok = await handCase('ok', 'inc qword ptr [rbx]');
    const other = await handCase('other', 'mov rax, qword ptr [rbx]\nadd rax, 0x1234\nmov qword ptr [rbx + 8], rax');
    const hangs = await handCase('hlt', 'hlt');
    const screen = new BatchScreen(qemu, emulator);
    const r = await screen.screen([ok, other, hangs, other, ok]);
    expect(r.completed).toBe(false);
    expect(r.rounds).toBe(2);
    expect(r.batched).toBe(5);
    expect(r.agreed).toEqual([true, true, false, true, true]);
    expect(r.differed).toEqual([false, false, false, false, false]);
    // the per-case lockstep still sees exceptions through the test machine's own IDT
    const pf = await handCase('pf', 'mov rax, qword ptr [0x40000]');
    const one = await new LockstepRunner(qemu, emulator).run(pf, { mode: 'block' });
    expect(one.outcome).toBe('match');
    expect(one.exception?.vector).toBe(14);
    expect(one.exception?.cr2).toBe(0x40000n);
    const again = await screen.screen([ok, ok]);
    expect(again.agreed).toEqual([true, true]);
  }, 60_000);

  it('settles the cases around a halting one with a gdb-style DUT too (both run the guest runner and stop in the same case)', async () => {
    const emulator = createEmulatorDut([]);
    const ok = await handCase('ok', 'inc qword ptr [rbx]');
    const hangs = await handCase('hlt', 'hlt');
    const r = await new BatchScreen(qemu, emulator, { native: { dut: false } }).screen([ok, ok, hangs, ok]);
    expect(r.completed).toBe(false);
    expect(r.agreed).toEqual([true, true, false, true]);
    // and the next batch starts on restored targets
    expect((await new BatchScreen(qemu, emulator).screen([ok, ok])).agreed).toEqual([true, true]);
  }, 60_000);

  it('writes, natively on the emulator, the records QEMU\'s runner writes wherever the per-case lockstep finds the case matching', async () => {
    const emulator = createEmulatorDut([]);
    const screen = new BatchScreen(qemu, emulator);
    const single = new LockstepRunner(qemu, emulator);
    let matched = 0;
    let identical = 0;
    for (const seed of [31, 32, 33]) {
      const cases = (await generated(seed, 96)).filter((c) => !batchIneligible(c));
      const round = await screen.runBatch(cases);
      expect(round.completed).toBe(true);
      for (let k = 0; k < round.complete; k++) {
        const one = await single.run(cases[k]!, { mode: 'block' });
        if (one.outcome !== 'match') continue;
        matched++;
        const o = k * BATCH.recordBytes;
        const q = round.reference.subarray(o, o + BATCH.recordBytes);
        const e = round.dut.subarray(o, o + BATCH.recordBytes);
        if (Buffer.compare(q, e) === 0) identical++;
        // equal but for the flags the case's last writers leave undefined (block-mode matches compare them too: then equal)
        expect(recordsAgree(q, e, finalUndefinedFlags(cases[k]!)), `${cases[k]!.id}: ${cases[k]!.asm?.join('; ')}`).toBe(true);
      }
    }
    expect(matched).toBeGreaterThan(250);
    expect(identical).toBeGreaterThan(matched * 0.9);
  }, 180_000);

  it('settles by batch every case whose records agree when a planted bug breaks an instruction the guest runner uses (rex-b-ignored)', async () => {
    const dut = createEmulatorDut(['rex-b-ignored']);
    const cases = (await generated(34, 96)).filter((c) => !batchIneligible(c));
    const r = await new BatchScreen(qemu, dut).screen(cases);
    expect(r.completed).toBe(true);
    const agreed = r.agreed.filter(Boolean).length;
    // most 10-instruction cases use REX.B somewhere (R8-R15 as a base or r/m operand; 14 of 96 did
    // not with seed 34); the others are settled here (through the guest runner: none)
    expect(agreed).toBeGreaterThan(cases.length * 0.1);
    const single = new LockstepRunner(qemu, dut);
    let confirmed = 0;
    for (const [i, c] of cases.entries()) {
      const one = await single.run(c, { mode: r.differed[i] ? 'step' : 'block' });
      if (r.agreed[i]) expect(one.outcome, `case ${i} agreed in the batch`).toBe('match');
      if (r.differed[i] && one.outcome === 'divergence') confirmed++;
    }
    // and the batch's differences are the bug's
    expect(confirmed).toBeGreaterThan(r.differed.filter(Boolean).length * 0.8);
    await dut.close();
  }, 180_000);
});
