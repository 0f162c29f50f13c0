import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QemuTarget } from '../../oracle/qemu/qemu-target.js';
import { buildTestMachine, LAYOUT } from '../../contracts/test-machine.js';
import { EmulatorTarget } from '../emulator-target.js';
import { nasm } from '../test-support/nasm.js';

/**
 * FXSAVE/FXRSTOR (0F AE /0, /1; exec/sse/state.ts with the x87 image of fpu/environment.ts) run
 * on QEMU and on the emulator from the same state: the whole 512-byte image FXSAVE writes over a
 * patterned area (bytes QEMU leaves alone must stay as they were), and the x87 state FXRSTOR loads
 * (tags included, via info registers), MXCSR and XMM.
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

const XMM = Array.from({ length: 16 }, (_, i) => BigInt(i + 1) * 0x0101_0101_0101_0101_1111_1111_1111_1111n);

async function runBoth(asm: string, image: Uint8Array): Promise<void> {
  const code = nasm(asm, Number(LAYOUT.code));
  const tm = buildTestMachine({ code, memory: [{ addr: LAYOUT.data, bytes: new Uint8Array(LAYOUT.dataSize) }, { addr: IMAGE, bytes: image }] });
  const state = { ...tm.state, sse: { mxcsr: 0x1f84, xmm: XMM } };
  for (const t of [emu, qemu]) {
    await t.reset(state, tm.memory);
    expect(await t.runUntil([tm.endAddress, ...tm.exceptionStops], 1000)).toEqual({ kind: 'breakpoint', rip: tm.endAddress });
  }
}

describe('FXSAVE/FXRSTOR against QEMU', () => {
  it('FXSAVE writes the image QEMU writes and leaves the bytes QEMU leaves', async () => {
    await runBoth(`${SETUP}\nfxsave [${IMAGE}]`, new Uint8Array(512).fill(0xa5));
    const e = await emu.readMemory(IMAGE, 512, 'phys');
    const q = await qemu.readMemory(IMAGE, 512, 'phys');
    expect(Buffer.from(e).toString('hex')).toBe(Buffer.from(q).toString('hex'));
    expect(q[4]).not.toBe(0); // some registers are in use: the tag byte is not trivially zero
    expect(q[6]).toBe(0xa5); // FOP is not written
    expect(q[511]).toBe(0xa5);
  });

  it('FXRSTOR loads FCW, FSW (TOP, B from ES), tags, registers, MXCSR and XMM as QEMU does', async () => {
    const image = new Uint8Array(512);
    const v = new DataView(image.buffer);
    v.setUint16(0, 0x0e7e, true); // FCW
    v.setUint16(2, 0x2981, true); // FSW: TOP=5, ES and IE set, B clear (FXRSTOR derives it)
    v.setUint8(4, 0b10110001); // abridged tag
    for (let i = 0; i < 8; i++) {
      v.setBigUint64(32 + 16 * i, 0x8000000000000000n | BigInt(i * 0x1111), true);
      v.setUint16(40 + 16 * i, 0x3fff + i, true);
    }
    v.setUint32(24, 0x7fc1, true); // MXCSR
    for (let i = 0; i < 64; i++) v.setUint32(160 + 4 * i, 0x01020304 * (i + 1), true);
    await runBoth(`fninit\nfxrstor [${IMAGE}]`, image);
    const se = await emu.readState({ system: true });
    const sq = await qemu.readState({ system: true });
    expect(se.fpu).toEqual(sq.fpu);
    expect(sq.fpu?.ftw).toBe(0b10110001);
    expect(se.sse).toEqual(sq.sse);
    expect(sq.sse?.mxcsr).toBe(0x7fc1);
  });
});
