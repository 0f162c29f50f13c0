import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QemuTarget } from '../../oracle/qemu/qemu-target.js';
import { buildTestMachine, LAYOUT } from '../../contracts/test-machine.js';
import { EmulatorTarget } from '../emulator-target.js';
import { nasm } from '../test-support/nasm.js';
import { x87Sequences } from '../test-support/sequences-x87.js';

/**
 * The x87 tag word is the one piece of FPU state QEMU's gdb stub does not report (its ftag
 * reads as 0), so the per-step differential suite cannot compare it; QEMU's `info registers`
 * prints it (FTW, abridged). Here every x87 sequence runs to its end in block mode on both
 * targets and the whole FPU state, tag word included, must agree.
 */
let qemu: QemuTarget;
const emu = new EmulatorTarget();

beforeAll(async () => {
  qemu = await QemuTarget.launch();
}, 60_000);

afterAll(async () => {
  await qemu?.close();
});

const all = x87Sequences().filter((s) => !s.qemuDeviation);

describe('x87 state including the tag word, emulator vs QEMU info registers', () => {
  it('runs every x87 sequence', () => {
    expect(all.length).toBeGreaterThan(100);
  });

  it.each(all.map((s) => [s.name, s.asm] as const))('%s', async (_name, asm) => {
    const tm = buildTestMachine({
      code: nasm(asm, Number(LAYOUT.code)),
      memory: [{ addr: LAYOUT.data, bytes: new Uint8Array(LAYOUT.dataSize) }],
    });
    await emu.reset(tm.state, tm.memory);
    await qemu.reset(tm.state, tm.memory);
    const stops = [tm.endAddress, ...tm.exceptionStops];
    const re = await emu.runUntil(stops, 10_000);
    const rq = await qemu.runUntil(stops, 10_000);
    expect(re).toEqual(rq);
    const se = await emu.readState({ system: true });
    const sq = await qemu.readState({ system: true });
    expect(sq.fpu?.ftw, 'QEMU reports FTW through info registers').toBeTypeOf('number');
    expect(se.fpu).toEqual(sq.fpu);
  });
});

describe('gdb register numbering of the x87 stack (measured on QEMU 7.2)', () => {
  it('st0..st7 are the physical registers R0..R7, not ST(i) relative to TOP', async () => {
    const tm = buildTestMachine({ code: nasm('fninit\nfld1\nnop', Number(LAYOUT.code)) });
    await qemu.reset(tm.state, tm.memory);
    await qemu.step(2);
    const s = await qemu.readState();
    expect(s.fpu!.fsw >> 11).toBe(7); // TOP = 7 after one push
    expect(s.fpu!.st[7]).toBe(0x3fff_8000000000000000n); // R7 = ST(0) = 1.0
    expect(s.fpu!.st[0]).toBe(0n);
  });
});
