import { ExportReplayer } from '../harness/export/replay-export.js';
import { createDut, DUT_HELP, parseDutSpec } from '../harness/targets.js';
import { emulatorModelFor } from '../harness/emulator-dut.js';
import { ensureQemu } from '../oracle/qemu/install.js';
import { UsageError } from '../util/errors.js';
import { parseOptions } from './options.js';
import { parseTimeoutOption, TARGET_OPTIONS, TIMEOUT_HELP, TIMEOUT_USAGE } from './target-options.js';

const USAGE = `difftest replay-export DIR [--dut ${DUT_HELP}] [--inject NAME]... [--cpu MODEL] ${TIMEOUT_USAGE}

Runs every test of an export ('difftest export --format singlesteptests … --out DIR') on one
target, from the files alone: machine.json's memory, then per test the initial registers and
bytes, one instruction, and the final registers and bytes compared (undefined flags masked). The
default target is our emulator; --dut qemu runs them on QEMU, --dut gdb:… on any emulator with a
gdb stub. (harness/export/replay-export.ts is the replayer, a model for one in another language.)

  ${TIMEOUT_HELP}
Exit code: 0 when every test passed, 1 when one failed, 2 on bad input or a setup problem.`;

const OPTIONS = {
  dut: { type: 'string' },
  inject: { type: 'string', multiple: true },
  cpu: { type: 'string' },
  ...TARGET_OPTIONS,
} as const;

/** Failing tests printed (all are counted). */
const SHOWN_FAILURES = 20;

export const replayExportCommand = {
  summary: 'run an exported single-step test set on the emulator, QEMU or a gdb stub',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseOptions(argv, OPTIONS, USAGE);
    if (positionals.length !== 1) throw new UsageError(`replay-export takes one export directory; usage: ${USAGE.split('\n')[0]}`);
    const dutText = values.dut ?? 'emulator';
    const dut = parseDutSpec(dutText, values.inject ?? [], { timeoutMs: parseTimeoutOption(values.timeout) });
    if (dut.kind === 'emulator') emulatorModelFor(values.cpu);
    const replayer = await ExportReplayer.open(positionals[0]!);
    if (dut.kind === 'qemu') await ensureQemu();
    const target = await createDut(dut, values.cpu);
    const t0 = performance.now();
    try {
      const summary = await replayer.runAll(target);
      for (const f of summary.failures.slice(0, SHOWN_FAILURES)) {
        process.stdout.write(`FAIL ${f.file} #${f.idx} ${f.name}: ${f.differences.slice(0, 4).join('; ')}${f.differences.length > 4 ? '; …' : ''}\n`);
      }
      if (summary.failures.length > SHOWN_FAILURES) process.stdout.write(`…and ${summary.failures.length - SHOWN_FAILURES} more failing tests\n`);
      const seconds = (performance.now() - t0) / 1000;
      process.stdout.write(
        `difftest: ${summary.tests} tests in ${summary.files} files on ${target.info().implementation}: ${summary.passed} passed, ${summary.failures.length} failed (${seconds.toFixed(1)} s)\n`,
      );
      return summary.failures.length ? 1 : 0;
    } finally {
      await target.close();
    }
  },
};
