import { describe, expect, it } from 'vitest';
import type { ExploreResult } from '../harness/explore/explore-result.js';
import { coverageOf } from '../harness/explore/explore-result.js';
import { crashReason, exploreConsoleSummary, opcodeList, renderExploreMarkdown } from './explore-report.js';

describe('explore report', () => {
  it('writes opcode lists as runs', () => {
    expect(opcodeList([0xf7, 0xf5])).toBe('F5 F7');
    expect(opcodeList([0x00, 0x01, 0x02, 0x03, 0x0d, 0x18, 0x19])).toBe('00–03 0D 18 19');
  });

  it('names why QEMU died without its per-process socket path', () => {
    expect(crashReason('gdb connection to unix:/tmp/difftest-qemu-AbC/gdb.sock lost: the stub closed the connection; QEMU stderr: ../../tcg/tcg.c:3243: tcg fatal error')).toBe('../../tcg/tcg.c:3243: tcg fatal error');
    expect(crashReason('gdb connection to unix:/tmp/x/gdb.sock lost')).toBe('gdb connection to unix:… lost');
  });

  const result: ExploreResult = {
    tool: 'difftest explore',
    command: 'node bin/difftest.mjs explore --seconds 60 --map VEX.0F38',
    parameters: { cpu: 'qemu64,+bmi1', maps: ['VEX.0F38'], classes: [], seconds: 60, workers: 1, batch: 512, tunnel: { sameBeforeSkip: 4, nibbleSkips: 2, fullBytes: 2 } },
    qemu: { implementation: 'qemu 7.2.22', cpuModel: 'qemu64,+bmi1' },
    emulator: { implementation: 'difftest-emulator 0.1.0', cpuModel: 'qemu64,+bmi1' },
    startedAt: '2026-12-04T00:00:00.000Z',
    walkSeconds: 10,
    wallSeconds: 11,
    candidates: 1000,
    discarded: 10,
    batches: 5,
    interrupted: true,
    timing: { emulatorMs: 1, oracleMs: 2, recordsMs: 3 },
    coverage: coverageOf([
      { id: 'VEX.0F38/C4.L0.W0.F3', map: 'VEX.0F38', prefixClass: 'C4.L0.W0.F3', opcodesInSeed: 256, opcodesDone: 256, counts: { candidates: 900, opcodes: 256, tailTried: 30, tailSkipped: 70 } },
      { id: 'VEX.0F38/C4.L0.W0.NP', map: 'VEX.0F38', prefixClass: 'C4.L0.W0.NP', opcodesInSeed: 256, opcodesDone: 64, counts: { candidates: 100, opcodes: 64, tailTried: 10, tailSkipped: 10 } },
    ]),
    disagreements: 896,
    maskedAgreements: 2,
    masked: { 'RFLAGS (SF)': 2 },
    groups: [
      {
        map: 'VEX.0F38', prefixClass: 'C4.L0.W0.F3', kind: 'fault', qemu: 'executes', emulator: '#UD', what: 'vector, RIP', count: 896, opcodes: [0xf7], mnemonic: 'sarx',
        hint: 'needs BMI2, which the model lacks: QEMU should raise #UD',
        example: { bytes: 'c4 e2 7a f7 00', text: 'sarx eax, [rax], eax', kind: 'fault', fields: ['vector', 'RIP'], qemu: 'executes (length 5)', emulator: '#UD' },
      },
    ],
    oracleCrashes: [{ bytes: 'f0 0f a3 c0', seed: '0F/LOCK', message: 'QEMU stderr: tcg fatal error', presumedAlike: 7 }],
    workerErrors: [],
  };

  it('gives the reproducing command, the coverage figure, and each group with its count, opcodes, example and the model\'s say', () => {
    const md = renderExploreMarkdown(result);
    expect(md).toContain('Reproduce: `node bin/difftest.mjs explore --seconds 60 --map VEX.0F38`');
    // 256 + 64 of 512 opcode rows
    expect(md).toContain('62.5% of the space walked: 320 of 512 opcode rows');
    expect(md).toContain('1 of 2 map × prefix classes complete (the walk was stopped before its end: budget or signal)');
    expect(md).toContain('| C4.L0.W0.F3 | fault | executes | #UD | vector, RIP | 896 | F7 (sarx) | `c4 e2 7a f7 00` | `sarx eax, [rax], eax` | executes (length 5) / #UD | needs BMI2, which the model lacks: QEMU should raise #UD |');
    expect(md).toContain("- `f0 0f a3 c0` (0F/LOCK): tcg fatal error; 7 candidate(s) of its form (any r/m, this one's later runs included) not sent, presumed to kill it as well");
    const console = exploreConsoleSummary(result, '/tmp/x');
    expect(console).toMatch(/coverage 62\.5% \(320 of 512 opcode rows, 1 of 2 map × prefix classes complete\); stopped before the end \(budget or signal\)/);
    expect(console).toContain('VEX.0F38 C4.L0.W0.F3: QEMU executes, emulator #UD (fault: vector, RIP) ×896, opcode F7 (sarx)');
  });
});
