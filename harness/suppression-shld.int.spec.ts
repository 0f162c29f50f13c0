import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASE_FORMAT, decodeCase, type Case } from '../corpus/case-schema.js';
import { readSuppressions, suppressionFor, type Suppressions } from '../corpus/suppressions.js';
import { EmulatorTarget } from '../emulator/emulator-target.js';
import { QemuTarget } from '../oracle/qemu/qemu-target.js';
import { LockstepRunner } from './lockstep.js';
import { divergenceSignature } from './signature.js';
import { CorruptingTarget } from './testing/corrupting-target.js';

/**
 * The SHLD/SHRD suppression on real divergences: QEMU 7.2 against the emulator, which is right
 * where QEMU's RIP-relative address is wrong. That divergence is suppressed; a bug planted in
 * the emulator's base-register form (a wrong stored byte, a wrong CF), or one that adds a
 * register to a RIP-relative divergence, produces a signature the suppression does not match.
 */
let qemu: QemuTarget;
let suppressions: Suppressions;
beforeAll(async () => {
  qemu = await QemuTarget.launch();
  suppressions = await readSuppressions(new URL('../difftest-suppressions.json', import.meta.url).pathname);
});
afterAll(async () => {
  await qemu?.close();
});

/** The pattern this suppression had before: every memory form, whatever differed. */
const OLD: Suppressions = {
  format: 'difftest-suppressions/1',
  suppressions: [{ signature: '/^SH[LR]D r\\/m(16|32|64), r(16|32|64), imm8 (mem|rip-rel) :: /', reason: 'old' }],
};

const ramp = Buffer.from(Uint8Array.from({ length: 64 }, (_, i) => (0x11 * i + 1) & 0xff)).toString('hex');

/** `shld dword [operand 0x20010], esi, 4` in the given encoding, on a 64-byte ramp at 0x20000. */
function shldCase(id: string, code: string): Case {
  return decodeCase({
    format: CASE_FORMAT, id, code, regs: { rsi: '0x8877665544332211', rbx: '0x20000' },
    memory: [{ addr: '0x20000', bytes: ramp }], compare: [{ addr: '0x20000', length: 64 }], provenance: { generator: 'hand' },
  });
}
const BASE = '0fa4731004'; // shld [rbx+0x10], esi, 4
const RIP = '0fa4350800010004'; // shld [rip+0x10008], esi, 4 (ends at 0x10008: operand 0x20010)

async function signatureOf(dut: EmulatorTarget | CorruptingTarget, c: Case): Promise<string> {
  const r = await new LockstepRunner(qemu, dut).run(c);
  expect(r.outcome).toBe('divergence');
  return divergenceSignature(r.divergence!);
}

const isShld = (rip: boolean) => (ins: { text: string }) => /^shld /.test(ins.text) && /\[rip[+-]/.test(ins.text) === rip;

describe('SHLD/SHRD imm8 suppression against real divergences', () => {
  it('suppresses QEMU 7.2 RIP-relative divergences (the regression cases)', async () => {
    for (const name of ['qemu-bug-shld-mem32-imm', 'qemu-bug-shrd-mem16-imm']) {
      const c = decodeCase(JSON.parse(await readFile(new URL(`../corpus/regressions/${name}.json`, import.meta.url), 'utf8')));
      const sig = await signatureOf(new EmulatorTarget(), c);
      expect(sig).toMatch(/ imm8 rip-rel :: /);
      expect(suppressionFor(suppressions, sig), sig).toBeDefined();
    }
  });

  it('the base-register form agrees (nothing to suppress)', async () => {
    const r = await new LockstepRunner(qemu, new EmulatorTarget()).run(shldCase('shld-base', BASE));
    expect(r.outcome).toBe('match');
  });

  it('does not suppress a wrong store planted in the emulator\'s base-register form', async () => {
    const dut = new CorruptingTarget(new EmulatorTarget(), isShld(false), (s) => s, 'emulator-with-bad-shld-store', () => [
      { addr: 0x20011n, bytes: Uint8Array.of(0x5a) },
    ]);
    const sig = await signatureOf(dut, shldCase('shld-base-bad-store', BASE));
    expect(sig).toBe('SHLD r/m32, r32, imm8 mem :: memory');
    expect(suppressionFor(suppressions, sig)).toBeUndefined();
    expect(suppressionFor(OLD, sig)).toBe('old'); // what the broad pattern hid
  });

  it('does not suppress a wrong CF planted in the emulator\'s base-register form', async () => {
    const dut = new CorruptingTarget(new EmulatorTarget(), isShld(false), (s) => ({ ...s, rflags: s.rflags ^ 1n }));
    const sig = await signatureOf(dut, shldCase('shld-base-bad-cf', BASE));
    expect(sig).toBe('SHLD r/m32, r32, imm8 mem :: rflags.CF');
    expect(suppressionFor(suppressions, sig)).toBeUndefined();
    expect(suppressionFor(OLD, sig)).toBe('old');
  });

  it('does not suppress a RIP-relative divergence that also has a register QEMU\'s bug cannot touch', async () => {
    const dut = new CorruptingTarget(new EmulatorTarget(), isShld(true), (s) => ({ ...s, gpr: { ...s.gpr, rax: s.gpr.rax ^ 0x100n } }));
    const sig = await signatureOf(dut, shldCase('shld-rip-bad-rax', RIP));
    expect(sig).toMatch(/^SHLD r\/m32, r32, imm8 rip-rel :: gpr,.*memory$/);
    expect(suppressionFor(suppressions, sig)).toBeUndefined();
    // and without the planted bug the same case is QEMU's bug alone, suppressed
    const plain = await signatureOf(new EmulatorTarget(), shldCase('shld-rip', RIP));
    expect(suppressionFor(suppressions, plain), plain).toBeDefined();
  });
});
