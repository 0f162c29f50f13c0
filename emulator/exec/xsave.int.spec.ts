import { describe, expect, it } from 'vitest';
import { buildTestMachine, LAYOUT } from '../../contracts/test-machine.js';
import { QemuTarget } from '../../oracle/qemu/qemu-target.js';
import { modelForQemuCpu } from '../cpu/cpu-model.js';
import { EmulatorTarget } from '../emulator-target.js';
import { nasm } from '../test-support/nasm.js';
import { qemuAndEmulatorWith } from '../test-support/model-pair.js';

/**
 * XSAVE/XRSTOR/XSAVEOPT/XGETBV/XSETBV (exec/xsave.ts) on QEMU 7.2 `-cpu qemu64,+xsave,+xsaveopt,+xgetbv1`
 * and on the emulator with the matching model, from the same state: the bytes each save writes
 * over a patterned area (header bytes it leaves alone included), the registers each restore loads
 * (x87 with tags, MXCSR, XMM), and where each fault lands. Every sequence enables CR4.OSXSAVE and
 * sets XCR0 itself: QEMU keeps XCR0 from one reset to the next.
 */
const CPU = 'qemu64,+xsave,+xsaveopt,+xgetbv1';
const targets = qemuAndEmulatorWith(CPU);

const AREA = 0x20400n;
const AREA2 = 0x20800n;
const SIZE = 0x240;

/** CR4.OSXSAVE on, then XCR0 = `xcr0` (RAX, RCX, RDX are clobbered). */
const enable = (xcr0: number) => ['mov rax, cr4', 'bts rax, 18', 'mov cr4, rax', 'xor ecx, ecx', 'xor edx, edx', `mov eax, ${xcr0}`, 'xsetbv'];

/** x87 registers with several tags, a non-default FCW and TOP (as fpu/fxsave.int.spec.ts). */
const X87_SETUP = [
  'fninit', 'fld1', 'fldpi', 'fldz', 'fld tword [rel v]', 'ffree st2', 'fld1', 'fld1', 'fdivrp st1, st0', 'fincstp',
  'mov eax, 0x0b7f', 'mov [0x20000], eax', 'fldcw [0x20000]', 'jmp over', 'v: dq 0x8000000000000001', 'dw 0x0000', 'over:',
];

const XMM = Array.from({ length: 16 }, (_, i) => BigInt(i + 1) * 0x0101_0101_0101_0101_1111_1111_1111_1111n);

interface Outcome {
  readonly stop: bigint;
  readonly area: string;
  readonly area2: string;
}

/** The code of a sequence: FNINIT first, as the reset leaves QEMU's x87 tags from the last run. */
const assembled = new Map<string, Uint8Array>();
function assemble(lines: string[]): Uint8Array {
  const src = ['fninit', ...lines].join('\n');
  let code = assembled.get(src);
  if (!code) assembled.set(src, (code = nasm(src, Number(LAYOUT.code))));
  return code;
}

async function runOn(t: QemuTarget | EmulatorTarget, lines: string[], area: Uint8Array): Promise<Outcome> {
  const code = assemble(lines);
  const tm = buildTestMachine({ code, memory: [{ addr: LAYOUT.data, bytes: new Uint8Array(LAYOUT.dataSize) }, { addr: AREA, bytes: area }, { addr: AREA2, bytes: area }] });
  await t.reset({ ...tm.state, sse: { mxcsr: 0x1f84, xmm: XMM } }, tm.memory);
  const stop = await t.runUntil([tm.endAddress, ...tm.exceptionStops], 2000);
  expect(stop.kind).toBe('breakpoint');
  const hex = async (a: bigint) => Buffer.from(await t.readMemory(a, SIZE, 'phys')).toString('hex');
  return { stop: stop.kind === 'breakpoint' ? stop.rip : -1n, area: await hex(AREA), area2: await hex(AREA2) };
}

/** Runs `lines` on both; expects the same stop, area bytes and registers (x87, SSE, GPRs, flags), and returns QEMU's outcome. */
async function same(lines: string[], area: Uint8Array = new Uint8Array(SIZE).fill(0xa5)): Promise<Outcome> {
  const e = await runOn(targets.emu, lines, area);
  const se = await targets.emu.readState({ system: true });
  const q = await runOn(targets.qemu, lines, area);
  const sq = await targets.qemu.readState({ system: true });
  expect(e).toEqual(q);
  expect(se.gpr).toEqual(sq.gpr);
  expect(se.rflags).toEqual(sq.rflags);
  expect(se.cr4).toEqual(sq.cr4);
  expect(se.fpu).toEqual(sq.fpu);
  expect(se.sse).toEqual(sq.sse);
  return q;
}

const endOf = (lines: string[]) => LAYOUT.code + BigInt(assemble(lines).length);
const stopOf = (vector: number) => LAYOUT.handlers + BigInt(vector) * LAYOUT.handlerStride;

/** A standard-format image: FCW, FSW (TOP 5), abridged tag, ST registers, MXCSR, XMM, then XSTATE_BV and the header's other words. */
function image(bv: bigint, header: { xcomp?: bigint; reserved?: bigint } = {}, mxcsr = 0x7fc1): Uint8Array {
  const b = new Uint8Array(SIZE);
  const v = new DataView(b.buffer);
  v.setUint16(0, 0x0e7e, true);
  v.setUint16(2, 0x2981, true);
  v.setUint8(4, 0b10110001);
  for (let i = 0; i < 8; i++) {
    v.setBigUint64(32 + 16 * i, 0x8000000000000000n | BigInt(i * 0x1111), true);
    v.setUint16(40 + 16 * i, 0x3fff + i, true);
  }
  v.setUint32(24, mxcsr, true);
  for (let i = 0; i < 64; i++) v.setUint32(160 + 4 * i, 0x01020304 * (i + 1), true);
  v.setBigUint64(512, bv, true);
  v.setBigUint64(520, header.xcomp ?? 0n, true);
  v.setBigUint64(528, header.reserved ?? 0n, true);
  return b;
}

describe(`XSAVE family against QEMU (-cpu ${CPU})`, () => {
  it('XSAVE and XSAVEOPT write the legacy region and XSTATE_BV as QEMU does; XGETBV and CPUID see the new state', async () => {
    const lines = [...X87_SETUP, ...enable(3), 'mov eax, 3', `xsave [${AREA}]`, 'mov eax, -1', 'mov edx, -1', `xsaveopt [${AREA2}]`,
      'xor ecx, ecx', 'xgetbv', 'mov r8, rax', 'mov r9, rdx', 'mov ecx, 1', 'xgetbv', 'mov r10, rax', 'mov eax, 1', 'cpuid', 'mov r11, rcx', 'mov eax, 0xd', 'xor ecx, ecx', 'cpuid'];
    const q = await same(lines);
    expect(q.stop).toBe(endOf(lines));
    const area = Buffer.from(q.area, 'hex');
    expect(area.readBigUInt64LE(512)).toBe(0xa5a5a5a5a5a5a5a7n); // XSTATE_BV: RFBM's bits set, the rest kept
    expect(area[520]).toBe(0xa5); // the rest of the header is not written
    expect(area.readUInt32LE(24)).toBe(0x1f84);
    expect(q.area2).toBe(q.area); // XSAVEOPT in QEMU: XINUSE untracked, so the same bytes
  });

  for (const [name, xcr0, rfbm] of [['RFBM x87 only', 3, 1], ['RFBM SSE only', 3, 2], ['XCR0 x87 only', 1, 3]] as const) {
    it(`XSAVE with ${name} writes only those components`, async () => {
      const q = await same([...X87_SETUP, ...enable(xcr0), `mov eax, ${rfbm}`, `xsave [${AREA}]`]);
      const area = Buffer.from(q.area, 'hex');
      expect(area.readUInt32LE(24) === 0x1f84).toBe((rfbm & xcr0 & 2) !== 0);
      expect(area[0] === 0xa5).toBe((rfbm & xcr0 & 1) === 0);
    });
  }

  for (const [name, bv, rfbm] of [['both components', 3n, 3], ['x87 only in XSTATE_BV (SSE to its initial state)', 1n, 3],
    ['nothing in XSTATE_BV (both initial, MXCSR still loaded)', 0n, 3], ['RFBM x87 only', 3n, 1], ['RFBM SSE only', 0n, 2]] as const) {
    it(`XRSTOR: ${name}`, async () => {
      const q = await same([...X87_SETUP, ...enable(3), `mov eax, ${rfbm}`, 'xor edx, edx', `xrstor [${AREA}]`], image(bv));
      expect(q.stop).toBeGreaterThan(LAYOUT.code);
    });
  }

  const faults: Array<[string, string[], number, Uint8Array?]> = [
    ['XSAVE without CR4.OSXSAVE: #UD', ['mov eax, 3', `xsave [${AREA}]`], 6],
    ['XGETBV without CR4.OSXSAVE: #UD', ['xor ecx, ecx', 'xgetbv'], 6],
    ['XSAVE to an area 16-byte but not 64-byte aligned: #GP', [...enable(3), `xsave [${AREA + 0x10n}]`], 13],
    ['XRSTOR to a misaligned area: #GP', [...enable(3), `xrstor [${AREA + 0x20n}]`], 13],
    ['XRSTOR with an XSTATE_BV bit outside XCR0: #GP', [...enable(1), 'mov eax, 3', `xrstor [${AREA}]`], 13, image(3n)],
    ['XRSTOR with XSTATE_BV bit 63 (compacted form): #GP', [...enable(3), 'mov eax, 3', `xrstor [${AREA}]`], 13, image(0x8000000000000003n)],
    ['XRSTOR with XCOMP_BV nonzero: #GP', [...enable(3), 'mov eax, 3', `xrstor [${AREA}]`], 13, image(3n, { xcomp: 1n })],
    ['XRSTOR with header bytes 16–23 nonzero: #GP', [...enable(3), 'mov eax, 3', `xrstor [${AREA}]`], 13, image(3n, { reserved: 1n << 40n })],
    ['XSETBV without x87: #GP', [...enable(3), 'mov eax, 2', 'xsetbv'], 13],
    ['XSETBV with AVX, which qemu64 lacks: #GP', [...enable(3), 'mov eax, 7', 'xsetbv'], 13],
    ['XSETBV with ECX = 1: #GP', [...enable(3), 'mov ecx, 1', 'mov eax, 3', 'xsetbv'], 13],
    ['XSETBV with EDX nonzero: #GP', [...enable(3), 'mov edx, 1', 'mov eax, 3', 'xsetbv'], 13],
    ['XGETBV with ECX = 2: #GP', [...enable(3), 'mov ecx, 2', 'xgetbv'], 13],
    ['XSAVE with a 66 prefix: #UD', [...enable(3), `db 0x66`, `xsave [${AREA}]`], 6],
    ['LOCK XSAVE: #UD', [...enable(3), `db 0xf0`, `xsave [${AREA}]`], 6],
  ];
  for (const [name, lines, vector, area] of faults) {
    it(name, async () => {
      const q = await same(lines, area);
      expect(q.stop).toBe(stopOf(vector));
    });
  }

  it('CPUID answers as QEMU does, leaf by leaf, before and after CR4.OSXSAVE (leaf 1 ECX bit 27; leaf 0xD)', async () => {
    const leaves = [0, 1, 2, 4, 5, 6, 7, 0xb, 0xd, 0xe, 0x14, 0x40000000, 0x80000000, 0x80000001, 0x80000008, 0x8000000a];
    for (const osxsave of [false, true]) {
      for (const leaf of leaves) {
        for (const sub of [4, 7, 0xb, 0xd].includes(leaf) ? [0, 1, 2, 3] : [0]) {
          const lines = [...(osxsave ? enable(3) : []), `mov eax, ${leaf}`, `mov ecx, ${sub}`, 'cpuid'];
          expect((await same(lines)).stop).toBe(endOf(lines));
        }
      }
    }
  });

  it('XSAVE with CR0.TS set: #NM on the emulator (SDM); QEMU 7.2 checks nothing (known QEMU deviation)', async () => {
    const lines = [...enable(3), 'mov rax, cr0', 'bts rax, 3', 'mov cr0, rax', 'mov eax, 3', `xsave [${AREA}]`];
    expect((await runOn(targets.emu, lines, new Uint8Array(SIZE))).stop).toBe(stopOf(7));
    expect((await runOn(targets.qemu, lines, new Uint8Array(SIZE))).stop).toBe(endOf(lines));
  });

  it('XRSTOR of an MXCSR with reserved bits: #GP on the emulator (SDM); QEMU 7.2 loads it (known QEMU deviation)', async () => {
    const lines = [...enable(3), 'mov eax, 3', `xrstor [${AREA}]`, 'stmxcsr [0x20000]', 'mov r8d, [0x20000]'];
    expect((await runOn(targets.emu, lines, image(3n, {}, 0x11f80))).stop).toBe(stopOf(13));
    expect((await runOn(targets.qemu, lines, image(3n, {}, 0x11f80))).stop).toBe(endOf(lines));
  });
});

/**
 * QEMU 7.2's MOV to CR4 with a bit it takes as reserved neither raises #GP(0) nor completes: the
 * vCPU stays on the instruction (measured: the step limit runs out with RIP on it and CR4 as it
 * was; bit 22 under qemu64 does the same). And it takes CR4.OSXSAVE as reserved unless CPUID
 * leaf 0xD.1's EAX is nonzero (`+xsaveopt` or `+xgetbv1` make it writable; its reserved-bit mask
 * looks at that feature word rather than CPUID.1:ECX.XSAVE), so `-cpu qemu64,+xsave` alone cannot
 * enable XSAVE. The emulator follows the SDM: #GP(0) without XSAVE, OSXSAVE set with it.
 */
describe('MOV CR4 with OSXSAVE where QEMU 7.2 takes it as reserved (known QEMU deviations)', () => {
  const lines = ['mov rax, cr4', 'bts rax, 18', 'mov cr4, rax'];
  for (const [cpu, emulatorStop] of [['qemu64', 'the #GP handler'], ['qemu64,+xsave', 'the end, CR4.OSXSAVE set']] as const) {
    it(`-cpu ${cpu}: the emulator reaches ${emulatorStop}; QEMU runs MOV CR4 forever`, async () => {
      const code = assemble(lines);
      const tm = buildTestMachine({ code });
      const e = new EmulatorTarget({ model: modelForQemuCpu(cpu)! });
      await e.reset(tm.state, tm.memory);
      const se = await e.runUntil([tm.endAddress, ...tm.exceptionStops], 20);
      expect(se).toEqual({ kind: 'breakpoint', rip: cpu === 'qemu64' ? stopOf(13) : tm.endAddress });
      const q = await QemuTarget.launch({ cpuModel: cpu });
      try {
        await q.reset(tm.state, tm.memory);
        expect((await q.runUntil([tm.endAddress, ...tm.exceptionStops], 20)).kind).toBe('limit');
        const s = await q.readState();
        expect([s.rip, s.cr4 & (1n << 18n)]).toEqual([tm.endAddress - 3n, 0n]); // still at MOV CR4 (0f 22 e0), not written
      } finally {
        await q.close();
      }
    }, 30_000);
  }
});
