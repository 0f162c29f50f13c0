import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCase, readCaseFile, type Case } from '../../corpus/case-schema.js';
import { setMutants } from '../../emulator/mutants.js';
import { hostRunsUnavailable } from '../../oracle/host/runner-build.js';
import { QemuTarget } from '../../oracle/qemu/qemu-target.js';
import { buildDivergenceReport } from '../divergence-report.js';
import { createEmulatorDut } from '../emulator-dut.js';
import { LockstepRunner } from '../lockstep.js';
import { ThirdOpinion } from './triangulate.js';

/**
 * Whose bug, on real runs: QEMU and the emulator in lockstep find the divergence, the host CPU
 * runs the same case natively. A planted emulator bug must come out as the emulator's, the known
 * QEMU 7.2 bugs (README) as QEMU's, and a case with a privileged instruction as no third opinion.
 */
const unavailable = hostRunsUnavailable();
const regression = (name: string) => new URL(`../../corpus/regressions/${name}`, import.meta.url).pathname;

let qemu: QemuTarget;
let opinion: ThirdOpinion;

async function verdictOf(c: Case, inject: Parameters<typeof createEmulatorDut>[0] = []) {
  const dut = createEmulatorDut(inject);
  try {
    const r = await new LockstepRunner(qemu, dut).run(c, { mode: 'step' });
    expect(r.outcome, 'QEMU and the emulator must disagree on this case').toBe('divergence');
    return await opinion.judge(c, buildDivergenceReport(c, r.divergence!, { replayCommand: '' }));
  } finally {
    setMutants([]);
    await dut.close();
  }
}

/** `add rax, [rip+disp]` reading a qword at 0x20000 whose upper half is not zero. */
const addRipCase = (prefix: number[] = []) =>
  decodeCase({
    format: 'difftest-case/1',
    id: 'add64-rip',
    code: Buffer.from([...prefix, 0x48, 0x03, 0x05, ...le32(0x20000 - (0x10000 + prefix.length + 7))]).toString('hex'),
    regs: { rax: '0x1' },
    memory: [{ addr: '0x20000', bytes: '0123456789abcdef' }],
    provenance: { generator: 'test' },
  });
function le32(v: number): number[] {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return [...b];
}

describe.skipIf(unavailable !== undefined)(`whose bug${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  beforeAll(async () => {
    qemu = await QemuTarget.launch();
    const o = await ThirdOpinion.open();
    if ('unavailable' in o) throw new Error(o.unavailable);
    opinion = o;
  });
  afterAll(async () => {
    await Promise.allSettled([qemu?.close(), opinion?.close()]);
  });

  it('a protected32 or real16 case gets no third opinion: the host runs 64-bit user code', async () => {
    for (const mode of ['protected32', 'real16'] as const) {
      // 66 19 d8 / 19 d8: sbb ax, bx with CF in, the planted 16-bit SBB bug
      const c = decodeCase({ format: 'difftest-case/1', id: `sbb-${mode}`, mode, code: mode === 'real16' ? '19d8' : '6619d8', regs: { rax: '0x5', rbx: '0x1' }, rflags: '0x3', provenance: { generator: 'test' } });
      const w = await verdictOf(c, ['sbb16-no-carry']);
      expect(w.verdict).toBe('none');
      expect(w.reason).toBe(`no third opinion: the host runs 64-bit user code, and this is a ${mode} case`);
    }
  });

  it("a planted emulator bug (add64-mem-trunc32) is the emulator's: the host agrees with QEMU on RAX", async () => {
    const w = await verdictOf(addRipCase(), ['add64-mem-trunc32']);
    expect(w.verdict).toBe('emulator');
    expect(w.fields).toContainEqual({ field: 'RAX', host: '0xefcdab8967452302', sides: 'qemu' });
    expect(w.fields.every((f) => f.sides === 'qemu')).toBe(true);
    expect(w.ms).toBeGreaterThan(0);
  });

  it("QEMU's SHLD/SHRD RIP-relative imm8 bug is QEMU's: the host shifts the bytes the emulator shifts", async () => {
    for (const file of ['qemu-bug-shld-mem32-imm.json', 'qemu-bug-shrd-mem16-imm.json']) {
      const w = await verdictOf(await readCaseFile(regression(file)));
      expect(w.verdict, `${file}: ${w.reason}`).toBe('qemu');
      expect(w.fields.length).toBeGreaterThan(0);
      expect(w.fields.every((f) => f.sides === 'emulator')).toBe(true);
    }
  });

  it("QEMU's #UD on the register form of the reserved NOP 0F 18 is QEMU's bug", async () => {
    const w = await verdictOf(await readCaseFile(regression('qemu-bug-reserved-nop-reg.json')));
    expect(w.verdict).toBe('qemu');
    expect(w.fields).toContainEqual({ field: 'exception', host: 'no exception', sides: 'emulator' });
  });

  it('a case that runs a privileged instruction before the divergent one gets no third opinion, saying which', async () => {
    // cli; add rax, [rip+disp] with the planted bug: CLI raises #GP at CPL 3
    const w = await verdictOf(addRipCase([0xfa]), ['add64-mem-trunc32']);
    expect(w.verdict).toBe('none');
    expect(w.reason).toBe('no third opinion: `cli` is privileged: it raises #GP at CPL 3, where the host runs cases');
  });
});

