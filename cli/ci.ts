import { existsSync } from 'node:fs';
import { listCaseFiles } from '../corpus/case-files.js';
import { readCaseFile, type Case } from '../corpus/case-schema.js';
import type { CampaignResult, DivergenceReport } from '../harness/campaign-result.js';
import { buildDivergenceReport } from '../harness/divergence-report.js';
import { judgeCase } from '../harness/expectation.js';
import { LockstepSession } from '../harness/session.js';
import { parseDutSpec } from '../harness/targets.js';
import { UsageError } from '../util/errors.js';
import { DEFAULT_SUPPRESSIONS, FUZZ_OPTIONS, parseSeed, runFuzz } from './fuzz.js';
import { parseOptions } from './options.js';

const DEFAULT_REGRESSIONS = 'corpus/regressions';

const USAGE = `difftest ci [--seed N (default 1)] [--count N (default 300)] [--regressions DIR]
           [--suppressions FILE] [fuzz options…]

What an emulator project runs on every commit: a fixed-seed campaign plus the regression
corpus (${DEFAULT_REGRESSIONS}). Divergences matching ${DEFAULT_SUPPRESSIONS} (or
--suppressions) are reported separately and do not fail the run. Writes junit.xml with the
rest of the report. Exit code 1 on any unsuppressed divergence or regression failure.`;

/** Replay the regression corpus; a failing regression becomes a divergence in the result. */
async function regressions(files: ReadonlyArray<{ file: string; c: Case }>, dutText: string, inject: string[], cpu?: string) {
  const out: DivergenceReport[] = [];
  if (files.length === 0) return { out, ran: 0 };
  const session = await LockstepSession.open(parseDutSpec(dutText, inject), cpu);
  try {
    for (const { file, c } of files) {
      const r = await session.runner.run(c, { mode: 'block' });
      // a fixed known bug does not fail CI (replay reports it); any other surprise does
      if (judgeCase(c, r).verdict === 'diverged') {
        const replay = `node bin/difftest.mjs replay ${file}${dutText !== 'emulator' ? ` --dut ${dutText}` : ''}`;
        const rep = buildDivergenceReport(c, r.divergence!, { caseFile: file, replayCommand: replay });
        out.push({ ...rep, signature: `regression ${file}: ${rep.signature}` });
      }
    }
  } finally {
    await session.close();
  }
  return { out, ran: files.length };
}

export const ciCommand = {
  summary: 'fixed-seed campaign + regression corpus, for CI',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseOptions(
      argv,
      { ...FUZZ_OPTIONS, regressions: { type: 'string' } },
      USAGE,
    );
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'; usage: ${USAGE.split('\n')[0]}`);
    const regDir = values.regressions ?? DEFAULT_REGRESSIONS;
    const regFiles = existsSync(regDir) || values.regressions ? await listCaseFiles([regDir]) : [];
    // validate the whole corpus before starting QEMU
    const cases = await Promise.all(regFiles.map(async (f) => ({ file: f, c: await readCaseFile(f) })));
    const { result } = await runFuzz({
      seed: parseSeed(values.seed ?? '1'),
      argv,
      values,
      defaultCount: 300,
      command: 'ci',
      postprocess: async (r: CampaignResult) => {
        const reg = await regressions(cases, values.dut ?? 'emulator', values.inject ?? [], values.cpu);
        process.stdout.write(`difftest: regression corpus: ${reg.ran} case(s), ${reg.out.length} failing\n`);
        return { ...r, testsRun: r.testsRun + reg.ran, divergences: [...r.divergences, ...reg.out] };
      },
    });
    return result.divergences.some((d) => !d.suppressed) ? 1 : 0;
  },
};
