import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exportCommand } from '../../cli/export.js';
import { createEmulatorDut } from '../emulator-dut.js';
import { QemuTarget } from '../../oracle/qemu/qemu-target.js';
import { ExportReplayer } from './replay-export.js';
import type { ExecutionTarget } from '../../contracts/execution-target.js';
import { jsonSchemaTexts } from './single-step-json-schema.js';
import { ExportIndexSchema, SingleStepFileSchema } from './single-step-schema.js';

/**
 * Exports recorded on QEMU, then replayed from the files alone on the emulator and on a fresh
 * QEMU: every test must pass on both (the emulator agrees with QEMU on these cases, and a test
 * that left out a byte its instruction reads would not replay on QEMU either); a planted bug
 * must make some fail.
 */
const dir = mkdtempSync(path.join(tmpdir(), 'difftest-export-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function replayOn(out: string, target: ExecutionTarget | Promise<ExecutionTarget>) {
  const replayer = await ExportReplayer.open(out);
  try {
    return await replayer.runAll(await target);
  } finally {
    await (await target).close();
  }
}

describe('difftest export --format singlesteptests', () => {
  it('exports the regression corpus, and the export replays on the emulator and on QEMU', async () => {
    const out = path.join(dir, 'corpus');
    expect(await exportCommand.run(['--format', 'singlesteptests', 'corpus/regressions', '--out', out])).toBe(0);
    const index = ExportIndexSchema.parse(JSON.parse(readFileSync(path.join(out, 'index.json'), 'utf8')));
    expect(index.tests).toBeGreaterThanOrEqual(10);
    // QEMU's known deviations are not references (SHLD/SHRD's RIP-relative imm8 form, 0F 18's register
    // form, the SSE/MMX/x87 ones): exactly the corpus cases that declare a divergence are left out
    const corpus = readdirSync('corpus/regressions')
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(path.join('corpus/regressions', f), 'utf8')) as { id: string; mode?: string; expected?: { outcome?: string } });
    const declared = corpus.filter((c) => c.expected?.outcome === 'divergence').map((c) => c.id);
    expect(declared).toEqual(expect.arrayContaining(['qemu-bug-reserved-nop-reg', 'qemu-bug-shld-mem32-imm', 'qemu-bug-shrd-mem16-imm']));
    // and the legacy-mode cases: the format describes x86-64 long mode
    const legacy = corpus.filter((c) => c.mode !== undefined && c.mode !== 'long64').map((c) => c.id);
    expect(legacy).toEqual(expect.arrayContaining(['real16-leave-16bit-stack', 'protected32-bcd-salc']));
    // and the system family's: a step's state has no debug registers, MSRs or XCR0
    const system = corpus.filter((c) => (c as { writesSystemState?: boolean }).writesSystemState).map((c) => c.id);
    expect(system).toEqual(expect.arrayContaining(['system-dr5-aliases-dr7-bit10']));
    expect(index.excluded.map((e) => e.case).sort()).toEqual([...new Set([...declared, ...legacy, ...system])].sort());
    for (const e of index.excluded.filter((x) => legacy.includes(x.case))) expect(e.reason).toMatch(/describes x86-64 long mode; this case runs in (real16|protected32)/);
    // the SHLD/SHRD controls through a base register are references, and kept
    expect(index.files.map((f) => f.file)).toEqual(expect.arrayContaining(['0FA4-shld.json', '0FAC-shrd.json', 'C8-enter.json', '03-add.json']));
    // the JSON Schemas beside the export are the ones in docs/
    for (const [file, text] of Object.entries(jsonSchemaTexts())) expect(readFileSync(path.join(out, 'schema', file), 'utf8')).toBe(text);

    const onEmulator = await replayOn(out, createEmulatorDut([]));
    expect(onEmulator.failures).toEqual([]);
    expect(onEmulator.passed).toBe(index.tests);
    const onQemu = await replayOn(out, QemuTarget.launch());
    expect(onQemu.failures).toEqual([]);
  }, 120_000);

  it('exports a fixed-seed campaign one file per opcode row; it replays on both, and a planted bug fails it', async () => {
    const out = path.join(dir, 'campaign');
    expect(await exportCommand.run(['--format', 'singlesteptests', '--seed', '1', '--count', '40', '--out', out])).toBe(0);
    const index = ExportIndexSchema.parse(JSON.parse(readFileSync(path.join(out, 'index.json'), 'utf8')));
    expect(index.tests).toBeGreaterThan(150);
    expect(index.files.length).toBeGreaterThan(60);
    for (const f of index.files) {
      const tests = SingleStepFileSchema.parse(JSON.parse(readFileSync(path.join(out, f.file), 'utf8')));
      expect(tests.length).toBe(f.tests);
      // one opcode row per file: every test's first opcode byte after its prefixes is the file's
      const opcode = /^(?:66|F2|F3)?(?:0F38|0F3A|0F)?([0-9A-F]{2})/.exec(f.file)![1]!;
      for (const t of tests) expect(t.bytes.map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join('')).toContain(opcode);
    }
    expect(readdirSync(out).filter((f) => f.endsWith('.json')).length).toBe(index.files.length + 2); // + index.json, machine.json

    const onEmulator = await replayOn(out, createEmulatorDut([]));
    expect(onEmulator.failures).toEqual([]);
    const onQemu = await replayOn(out, QemuTarget.launch());
    expect(onQemu.failures).toEqual([]);
    const planted = await replayOn(out, createEmulatorDut(['af-never-set']));
    expect(planted.failures.length).toBeGreaterThan(0);
    expect(planted.failures.every((f) => f.differences.some((d) => d.startsWith('rflags')))).toBe(true);
  }, 180_000);
});
