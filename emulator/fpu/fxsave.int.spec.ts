import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QemuTarget } from '../../oracle/qemu/qemu-target.js';
import { buildTestMachine, LAYOUT } from '../../contracts/test-machine.js';
import { EmulatorTarget } from '../emulator-target.js';
import { nasm } from '../test-support/nasm.js';
import { fxrstorX87, fxsaveX87 } from './environment.js';

/**
 * The x87 part of FXSAVE/FXRSTOR (fpu/environment.ts), for the 0F AE rows: QEMU executes the
 * real instruction; the emulator runs the same code up to it and applies the image function.
 * FXSAVE: bytes 0–23 and the register slots 32–159 must match (24–31 are MXCSR, SSE state).
 * FXRSTOR: the loaded FPU state (tags included, via info registers) must match.
 */
let qemu: QemuTarget;
const emu = new EmulatorTarget();

beforeAll(async () => {
  qemu = await QemuTarget.launch();
}, 60_000);

afterAll(async () => {
  await qemu?.close();
});

const IMAGE = 0x20400n;

const SETUP = [
  'fninit', 'fld1', 'fldpi', 'fldz', 'fld tword [rel v]', 'ffree st2', 'fld1', 'fld1', 'fdivrp st1, st0', 'fincstp',
  'mov eax, 0x0b7f', 'mov [0x20000], eax', 'fldcw [0x20000]', 'jmp over', 'v: dq 0x8000000000000001', 'dw 0x0000', 'over:',
].join('\n');

async function runBoth(prefix: string, instruction: string, image?: Uint8Array): Promise<void> {
  const head = nasm(prefix, Number(LAYOUT.code));
  const tm = buildTestMachine({
    code: nasm(`${prefix}\n${instruction}\nnop`, Number(LAYOUT.code)),
    memory: [{ addr: LAYOUT.data, bytes: new Uint8Array(LAYOUT.dataSize) }, ...(image ? [{ addr: IMAGE, bytes: image }] : [])],
  });
  await emu.reset(tm.state, tm.memory);
  await qemu.reset(tm.state, tm.memory);
  const at = LAYOUT.code + BigInt(head.length);
  expect(await emu.runUntil([at], 1000)).toEqual({ kind: 'breakpoint', rip: at });
  expect(await qemu.runUntil([at + BigInt(nasm(`${prefix}\n${instruction}`, Number(LAYOUT.code)).length - head.length)], 1000)).toMatchObject({ kind: 'breakpoint' });
}

describe('FXSAVE/FXRSTOR x87 images against QEMU', () => {
  it('FXSAVE writes FCW, FSW, the abridged tag, zero pointers and ST(0)–ST(7) as QEMU does', async () => {
    await runBoth(SETUP, `fxsave [${IMAGE}]`);
    const c = emu.internals.cpu;
    fxsaveX87(c, c.fpu, Number(IMAGE));
    const e = await emu.readMemory(IMAGE, 160, 'phys');
    const q = await qemu.readMemory(IMAGE, 160, 'phys');
    expect(Buffer.from(e.subarray(0, 24)).toString('hex')).toBe(Buffer.from(q.subarray(0, 24)).toString('hex'));
    expect(Buffer.from(e.subarray(32)).toString('hex')).toBe(Buffer.from(q.subarray(32)).toString('hex'));
    expect(q[4]).not.toBe(0); // some registers are in use: the tag byte is not trivially zero
  });

  it('FXRSTOR loads FCW, FSW (TOP, B from ES), tags and registers as QEMU does', async () => {
    const image = new Uint8Array(512);
    const v = new DataView(image.buffer);
    v.setUint16(0, 0x0e7e, true); // FCW
    v.setUint16(2, 0x2981, true); // FSW: TOP=5, ES and IE set, B clear (FXRSTOR derives it)
    v.setUint8(4, 0b10110001); // abridged tag
    for (let i = 0; i < 8; i++) {
      v.setBigUint64(32 + 16 * i, 0x8000000000000000n | BigInt(i * 0x1111), true);
      v.setUint16(40 + 16 * i, 0x3fff + i, true);
    }
    v.setUint32(24, 0x1f80, true); // MXCSR (valid, so QEMU's FXRSTOR does not fault)
    await runBoth('fninit', `fxrstor [${IMAGE}]`, image);
    const c = emu.internals.cpu;
    fxrstorX87(c, c.fpu, Number(IMAGE));
    const se = await emu.readState({ system: true });
    const sq = await qemu.readState({ system: true });
    expect(se.fpu).toEqual(sq.fpu);
    expect(sq.fpu?.ftw).toBe(0b10110001);
  });
});
