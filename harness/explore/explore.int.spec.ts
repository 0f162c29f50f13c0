import { Code, Decoder, DecoderOptions, Instruction } from 'iced-x86';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QEMU64_EXTENDED_CPU } from '../../emulator/cpu/cpu-model.js';
import { EmulatorTarget } from '../../emulator/emulator-target.js';
import { QemuTarget } from '../../oracle/qemu/qemu-target.js';
import { emulatorModelFor } from '../emulator-dut.js';
import { explore, type ExploreOutcome, type WalkedCandidate } from './explorer.js';
import { exploreProgram } from './explore-runner.js';
import { GuestExplorer } from './guest-explore.js';
import { NativeExplorer } from './native-explore.js';
import { featureHint } from './findings.js';
import { compareRecords, describeOutcome } from './outcome.js';
import { selectSeeds } from './space.js';
import { NEEDS_MORE } from './tunnel.js';

// Real QEMU 7.2, no mocks. Expectations come from the SDM (an instruction whose CPUID feature is
// absent raises #UD; a fetch past a present page faults with CR2 at the next page) and iced-x86.
const CPU = QEMU64_EXTENDED_CPU; // qemu64 with BMI1, without BMI2
let qemu: QemuTarget;
beforeAll(async () => {
  qemu = await QemuTarget.launch({ cpuModel: CPU });
});
afterAll(async () => {
  await qemu?.close();
});

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/ /g, ''), 'hex'));

describe('explore machine', () => {
  it('gives QEMU and the emulator the same record for what both do as the SDM says, and tells lengths by the fetch fault', async () => {
    const program = await exploreProgram();
    const guest = new GuestExplorer(qemu, program);
    const native = await NativeExplorer.create(new EmulatorTarget({ model: emulatorModelFor(CPU), ramBytes: 8 << 20 }), program);
    const cases: Array<[string, string]> = [
      ['90', 'executes (length 1)'],
      ['48 01 c8', 'executes (length 3)'],
      ['48 01', 'needs more than 2 bytes (instruction fetch #PF at the page end)'],
      ['0f 0b', '#UD'],
      ['f4', '#GP(0x0)'], // HLT at CPL 3
      ['0f 01 f8', '#GP(0x0)'], // SWAPGS at CPL 3
      // SYSRET at CPL 3 with EFER.SCE clear: the SDM's Operation raises #UD before the CPL's #GP
      // (the emulator checked the CPL first; found by explore on 0F 00-09)
      ['0f 07', '#UD'],
      // RDPMC at CPL 3 with CR4.PCE clear: #GP(0) (SDM); the emulator had no row for it (#UD)
      ['0f 33', '#GP(0x0)'],
      ['48 89 05 f8 ff ff ff', '#PF(0x7) at 0x4c0ff8'], // mov [rip-8], rax: the user code page is present and read-only
      ['48 89 05 00 00 00 00', '#PF(0x6) at 0x4c1000'], // mov [rip], rax: the page after it is absent
      ['eb 10', 'executes, continues at 0x4c1010'], // the single-step trap reports the branch target
    ];
    const candidates = cases.map(([b]) => hex(b));
    const digests = new Uint32Array((await guest.run(candidates)).slice().buffer);
    for (const [i, [bytes, expected]] of cases.entries()) {
      const emu = native.run(candidates[i]!);
      const q = new Uint32Array((await guest.record(i)).slice().buffer);
      expect(describeOutcome(q, candidates[i]!.length), bytes).toBe(expected);
      expect(compareRecords(q, emu.words, candidates[i]!.length, undefined).kind, bytes).toBeUndefined();
      expect([...emu.digest], bytes).toEqual([...digests.subarray(i * 4, i * 4 + 4)]);
    }
  });
});

describe('explore machine: software interrupts and 0F AE /7 at CPL 3 (emulator bugs difftest explore found)', () => {
  // Every IDT gate of the explore machine is DPL 0, so INT n/INT3/INTO at CPL 3 fail the gate's
  // DPL check. QEMU 7.2 gives that #GP the error code vector·16+2 (a known QEMU deviation: the SDM
  // puts the vector in bits 15:3, vector·8+2, as the emulator does); everything else must agree.
  const cases: Array<[string, string, string | undefined]> = [
    // SDM: a fault in INT n's delivery saves the INT's address (the record's RIP is the candidate's start)
    ['cd 40', '#GP(0x402)', '#GP(0x202)'],
    ['cd 03', '#GP(0x32)', '#GP(0x1a)'],
    ['cc', '#GP(0x32)', '#GP(0x1a)'],
    // a software interrupt is no first exception for the double-fault table: #GP, not #DF
    ['cd 00', '#GP(0x2)', '#GP(0x2)'],
    ['cd 08', '#GP(0x82)', '#GP(0x42)'],
    ['cd 0d', '#GP(0xd2)', '#GP(0x6a)'],
    // INT1 has no DPL check: #DB, trap-like (RIP after it), on the emulator as on the host CPU
    // (Linux user mode, whose #DB gate is DPL 0: SIGTRAP with trap number 1). QEMU 7.2 raises
    // #UD under its gdb stub (translate.c: F1 is gen_debug, "exits to external debugger").
    ['f1', '#UD', 'executes (length 1)'],
    // 0F AE /7 with a memory operand: CLFLUSH without prefixes; 66 asks for CLFLUSHOPT, which
    // the model lacks, and F2/F3 make it #UD (QEMU 7.2 translate.c, 0F AE /7)
    ['0f ae 38', 'executes (length 3)', undefined],
    ['66 0f ae 38', '#UD', undefined],
    ['f2 0f ae 38', '#UD', undefined],
    ['f3 0f ae 38', '#UD', undefined],
    ['66 f2 0f ae 38', '#UD', undefined],
    ['f2 66 0f ae 38', '#UD', undefined],
    ['66 f3 0f ae 38', '#UD', undefined],
    // SFENCE: QEMU 7.2 takes 66 0F AE F8 for PCOMMIT (absent: #UD); other prefixes and ModRM values run
    ['0f ae f8', 'executes (length 3)', undefined],
    ['66 0f ae f8', '#UD', undefined],
    ['66 f2 0f ae f8', '#UD', undefined],
    ['66 0f ae f9', 'executes (length 4)', undefined],
    ['f3 0f ae f8', 'executes (length 4)', undefined],
  ];
  it('QEMU and the emulator agree but for QEMU\'s gate error code and INT1', async () => {
    const program = await exploreProgram();
    const guest = new GuestExplorer(qemu, program);
    const native = await NativeExplorer.create(new EmulatorTarget({ model: emulatorModelFor(CPU), ramBytes: 8 << 20 }), program);
    const candidates = cases.map(([b]) => hex(b));
    await guest.run(candidates);
    const seen: string[] = [];
    const expected: string[] = [];
    for (const [i, [bytes, onQemu, onEmulator]] of cases.entries()) {
      const emu = native.run(candidates[i]!);
      const q = new Uint32Array((await guest.record(i)).slice().buffer);
      const cmp = compareRecords(q, emu.words, candidates[i]!.length, undefined);
      seen.push(`${bytes}: QEMU ${describeOutcome(q, candidates[i]!.length)}, emulator ${describeOutcome(emu.words, candidates[i]!.length)}, differ in [${cmp.fields.join(', ')}]`);
      const differ = onEmulator === undefined || onEmulator === onQemu ? '' : onEmulator.startsWith('#GP') ? 'error code' : 'vector, RIP';
      expected.push(`${bytes}: QEMU ${onQemu}, emulator ${onEmulator ?? onQemu}, differ in [${differ}]`);
      if (emu.broken) await native.recover();
    }
    expect(seen).toEqual(expected);
  });
});

describe('difftest explore on the VEX 0F38 F0–FF rows', () => {
  let outcome: ExploreOutcome;
  const walked: WalkedCandidate[] = [];
  beforeAll(async () => {
    const seeds = selectSeeds(['VEX.0F38'], ['C4.L0.W0.NP', 'C4.L0.W0.F3']).map((s) => ({ ...s, opcodes: [0xf0, 0xff] as [number, number] }));
    outcome = await explore({ seeds, launchOracle: () => QemuTarget.launch({ cpuModel: CPU }), workers: 1, model: emulatorModelFor(CPU), onCandidate: (c) => walked.push(c) });
  }, 120_000);

  it('walks every row to its end', () => {
    expect(outcome.interrupted).toBe(false);
    expect(outcome.coverage.map((c) => [c.id, c.opcodesDone, c.opcodesInSeed])).toEqual([
      ['VEX.0F38/C4.L0.W0.NP', 16, 16],
      ['VEX.0F38/C4.L0.W0.F3', 16, 16],
    ]);
  });

  it('finds no disagreement on SARX and BZHI: without BMI2 the emulator runs them as QEMU 7.2 does (it checks BMI1; README), though the SDM says #UD', () => {
    const groups = outcome.findings.sorted();
    expect(groups.filter((x) => x.mnemonic === 'sarx' || x.mnemonic === 'bzhi').map((x) => `${x.mnemonic} ${x.prefixClass}`)).toEqual([]);
    const sarx = walked.filter((c) => Buffer.from(c.bytes).toString('hex').startsWith('c4e27af7') && c.qemu !== NEEDS_MORE);
    expect(sarx.length).toBeGreaterThan(0);
    expect(sarx.filter((c) => c.qemu === '#UD' || c.emulator !== c.qemu).map((c) => `${Buffer.from(c.bytes).toString('hex')}: ${c.qemu} / ${c.emulator}`)).toEqual([]);
    // had one side raised #UD, the hint would still say what the SDM says: the model lacks BMI2
    expect(featureHint(hex('c4 e2 7a f7 00'), 'executes', '#UD', emulatorModelFor(CPU))).toMatch(/^needs BMI2, which the model lacks: QEMU should raise #UD/);
  });

  it('settles on each instruction both sides decode at the length iced-x86 gives it', () => {
    const ins = new Instruction();
    let checked = 0;
    const wrong: string[] = [];
    for (const c of walked) {
      if (c.qemu === NEEDS_MORE || c.emulator === NEEDS_MORE) continue;
      const d = new Decoder(64, c.bytes, DecoderOptions.None);
      d.decodeOut(ins);
      d.free();
      if (ins.code === Code.INVALID) continue;
      checked++;
      if (ins.length !== c.bytes.length) wrong.push(`${Buffer.from(c.bytes).toString('hex')}: iced ${ins.length}`);
    }
    ins.free();
    expect(checked).toBeGreaterThan(1000);
    expect(wrong).toEqual([]);
  });
});
