import { describe, expect, it } from 'vitest';
import { buildTestMachine32, LAYOUT32, registerView32, SELECTORS32 } from '../../contracts/test-machine-32.js';
import { QemuTarget } from '../../oracle/qemu/qemu-target.js';
import { EmulatorTarget } from '../emulator-target.js';
import { nasm } from '../test-support/nasm.js';
import { qemuAndEmulatorWith } from '../test-support/model-pair.js';

/**
 * XSAVE/XRSTOR, BMI1 and BMI2 in 32-bit protected mode (the 32-bit test machine, paging off) on
 * QEMU 7.2 `-cpu qemu64,+xsave,+xsaveopt,+bmi1,+bmi2` and on the emulator with that model (+xsaveopt: with
 * +xsave alone QEMU refuses CR4.OSXSAVE, see xsave.int.spec.ts): only XMM0–XMM7 are saved
 * and put in their initial state there; C4/C5 are VEX only when the next byte's bits 7:6 are 11,
 * else LES/LDS; VEX.W is ignored (32-bit operands). Registers as QEMU's stub shows them outside
 * 64-bit code (low halves of the GPRs, XMM0–XMM7), the area and data bytes, and where each run
 * stops must agree.
 */
const CPU = 'qemu64,+xsave,+xsaveopt,+bmi1,+bmi2';
const targets = qemuAndEmulatorWith(CPU);

const AREA = LAYOUT32.data + 0x400n;
const XMM = Array.from({ length: 16 }, (_, i) => BigInt(i + 1) * 0x0101_0101_0101_0101_1111_1111_1111_1111n);
const ENABLE = ['mov eax, cr4', 'bts eax, 18', 'mov cr4, eax', 'xor ecx, ecx', 'xor edx, edx', 'mov eax, 3', 'xsetbv'];

async function runOn(t: QemuTarget | EmulatorTarget, lines: string[], data: Uint8Array) {
  const code = nasm(['fninit', ...lines].join('\n'), Number(LAYOUT32.code), 32);
  const tm = buildTestMachine32({ code, memory: [{ addr: LAYOUT32.data, bytes: data }] });
  if (t instanceof QemuTarget) t.forgetSystemState();
  await t.reset({ ...tm.state, sse: { mxcsr: 0x1f80, xmm: XMM } }, tm.memory);
  const stop = await t.runUntil([tm.endAddress, ...tm.exceptionStops], 100);
  const s = await t.readState({ system: true });
  const bytes = Buffer.from(await t.readMemory(LAYOUT32.data, 0x800, 'phys')).toString('hex');
  const sse = s.sse && { mxcsr: s.sse.mxcsr, xmm: s.sse.xmm.slice(0, 8) };
  return { stop: stop.kind === 'breakpoint' ? stop.rip : -1n, end: tm.endAddress, gpr: registerView32(s).gpr, rflags: s.rflags, es: s.seg.es.selector, sse, fpu: s.fpu, bytes };
}

async function same(lines: string[], data = new Uint8Array(0x800).fill(0xa5)) {
  const e = await runOn(targets.emu, lines, data);
  const q = await runOn(targets.qemu, lines, data);
  expect(e).toEqual(q);
  return q;
}

describe(`32-bit protected mode (-cpu ${CPU})`, () => {
  it('XSAVE stores XMM0–XMM7 only; XRSTOR with XSTATE_BV = 0 (header words zeroed) zeroes XMM0–XMM7', async () => {
    const q = await same([...ENABLE, `xsave [${AREA}]`, 'xor eax, eax', ...[512n, 516n, 520n, 524n, 528n, 532n].map((o) => `mov [${AREA + o}], eax`), 'mov eax, 3', `xrstor [${AREA}]`]);
    expect(q.stop).toBe(q.end);
    const area = Buffer.from(q.bytes, 'hex').subarray(0x400);
    expect(area[160 + 16 * 8]).toBe(0xa5); // XMM8's slot is not written
    expect(q.sse?.xmm[0]).toBe(0n);
  });

  it('BMI1 with 32-bit operands (VEX.W ignored), and C4/C5 with a memory ModRM as LES/LDS', async () => {
    const data = new Uint8Array(0x800);
    new DataView(data.buffer).setUint32(0, 0x12345678, true);
    new DataView(data.buffer).setUint16(4, SELECTORS32.data, true);
    const q = await same([
      'mov ebx, 0xf0f0f0f0', 'mov ecx, 0x0ff00ff0', 'andn eax, ebx, ecx', 'mov esi, eax',
      'db 0xc4, 0xe2, 0xf0, 0xf7, 0xfb', // bextr edi, ebx, ecx with W=1
      'blsr edx, ecx', 'blsmsk ebp, ecx',
      `les eax, [${LAYOUT32.data}]`, `lds ecx, [${LAYOUT32.data}]`,
    ], data);
    expect(q.stop).toBe(q.end);
    expect(q.gpr.rsi).toBe(0x0f000f00n);
    expect(q.gpr.rax).toBe(0x12345678n);
    expect(q.es).toBe(SELECTORS32.data);
  });

  it('BMI2 with 32-bit operands (VEX.W ignored), registers and memory', async () => {
    const data = new Uint8Array(0x800);
    new DataView(data.buffer).setUint32(0, 0x9abcdef1, true);
    const q = await same([
      'mov ebx, 0x87654321', 'mov ecx, 33', 'mov edx, 0xfedcba98',
      'db 0xc4, 0xe2, 0xf3, 0xf6, 0xc3', // mulx eax, ecx, ebx with W=1: EDX × EBX
      'mov ecx, 33', `shlx esi, [${LAYOUT32.data}], ecx`, 'sarx edi, ebx, ecx', 'shrx ebp, ebx, ecx',
      'push esi', 'push edi', 'push ebp',
      `pdep esi, ebx, [${LAYOUT32.data}]`, 'pext edi, ebx, edx', 'rorx ebp, ebx, 36',
      'push esi', 'push edi', 'push ebp',
      'mov ecx, 40', 'bzhi esi, ebx, ecx', 'mov ecx, 7', `bzhi edi, [${LAYOUT32.data}], ecx`,
    ], data);
    expect(q.stop).toBe(q.end);
    expect(q.gpr.rax).toBe(0x86cb3650n); // high half of 0xfedcba98 × 0x87654321
    expect(q.gpr.rsi).toBe(0x87654321n); // BZHI index 40 ≥ 32 keeps the source
    expect(q.gpr.rdi).toBe(0x71n);
  });
});
