import { listCaseFiles } from '../corpus/case-files.js';
import { readCaseFile } from '../corpus/case-schema.js';
import { LockstepSession } from '../harness/session.js';
import { judgeCase } from '../harness/expectation.js';
import { DUT_HELP, parseDutSpec } from '../harness/targets.js';
import { UsageError } from '../util/errors.js';
import { parseOptions } from './options.js';
import { describeDivergence } from './text-summary.js';

const USAGE = `difftest replay <case.json|dir>... [--dut ${DUT_HELP}] [--inject NAME] [--mode block|step] [--cpu MODEL]

Runs saved cases on QEMU and the system under test and reports every divergence.
A case that declares an expected divergence passes when it still diverges with the same
signature (a known bug), and is reported as fixed when it no longer diverges.
Exit code: 0 when every case behaves as expected, 1 otherwise.`;

export const replayCommand = {
  summary: 'replay saved cases',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseOptions(
      argv,
      { dut: { type: 'string' }, inject: { type: 'string', multiple: true }, mode: { type: 'string' }, cpu: { type: 'string' } },
      USAGE,
    );
    if (positionals.length === 0) throw new UsageError(`replay needs at least one case file or directory; usage: ${USAGE.split('\n')[0]}`);
    const mode = values.mode ?? 'block';
    if (mode !== 'block' && mode !== 'step') throw new UsageError(`--mode '${mode}' is not a mode; use block or step`);
    const dut = parseDutSpec(values.dut ?? 'emulator', values.inject ?? []);
    const files = await listCaseFiles(positionals);
    // validate every file before starting anything expensive
    const cases = await Promise.all(files.map(async (f) => ({ file: f, c: await readCaseFile(f) })));
    const session = await LockstepSession.open(dut, values.cpu);
    let bad = 0;
    try {
      for (const { file, c } of cases) {
        const r = await session.runner.run(c, { mode });
        const { verdict, signature } = judgeCase(c, r);
        if (verdict === 'fixed') {
          bad++;
          process.stdout.write(`FIXED      ${file}: no longer diverges (was: ${c.expected?.signature ?? 'divergence'}); update its expected outcome\n`);
          continue;
        }
        if (verdict === 'ok') {
          process.stdout.write(`ok         ${file} (${r.end}${r.steps >= 0 ? `, ${r.steps} steps` : ''})\n`);
          continue;
        }
        if (verdict === 'known') {
          process.stdout.write(`known      ${file}: ${signature}\n`);
          continue;
        }
        bad++;
        process.stdout.write(`DIVERGENCE ${file}: ${signature}\n${describeDivergence(r.divergence!, 4)}\n`);
      }
    } finally {
      await session.close();
    }
    process.stdout.write(`difftest: ${cases.length} case(s), ${bad} unexpected result(s)\n`);
    return bad ? 1 : 0;
  },
};
