import path from 'node:path';
import { readCaseFile } from '../corpus/case-schema.js';
import { minimizeDivergence } from '../harness/campaign/minimize-divergence.js';
import { saveCase } from '../harness/campaign/save-case.js';
import type { CampaignResult } from '../harness/campaign-result.js';
import { buildDivergenceReport } from '../harness/divergence-report.js';
import { LockstepSession } from '../harness/session.js';
import { divergenceSignature } from '../harness/signature.js';
import { FRAGMENT_SYNC_RULES } from '../harness/sync-rules.js';
import { DUT_HELP, parseDutSpec } from '../harness/targets.js';
import { writeReport } from '../reports/write-report.js';
import { UsageError } from '../util/errors.js';
import { parseOptions } from './options.js';
import { describeDivergence } from './text-summary.js';

const USAGE = `difftest minimize <case.json> [--dut ${DUT_HELP}] [--inject NAME]... [--cpu MODEL] [--budget N] [--out DIR]

Shrinks a diverging case to the fewest instructions and the smallest initial state that
still diverge the same way, writes it next to the input as <name>.min.json, and writes a
report (index.html, summary.md, …) to reports/runs/minimize-<id>/ (or --out).`;

export const minimizeCommand = {
  summary: 'shrink a diverging case',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseOptions(
      argv,
      { dut: { type: 'string' }, inject: { type: 'string', multiple: true }, cpu: { type: 'string' }, budget: { type: 'string' }, out: { type: 'string' } },
      USAGE,
    );
    if (positionals.length !== 1) throw new UsageError(`minimize takes exactly one case file; usage: ${USAGE.split('\n')[0]}`);
    const budget = values.budget ? Number(values.budget) : 600;
    if (!Number.isInteger(budget) || budget < 1) throw new UsageError(`--budget '${values.budget}' must be a positive whole number`);
    const file = positionals[0]!;
    const c = await readCaseFile(file);
    const dutText = values.dut ?? 'emulator';
    const session = await LockstepSession.open(parseDutSpec(dutText, values.inject ?? []), values.cpu);
    const startedAt = new Date();
    try {
      const r = await session.runner.run(c, { mode: 'block' });
      if (r.outcome !== 'divergence') {
        process.stdout.write(`difftest: ${file} does not diverge on ${session.dut.name} (${r.end}); nothing to minimize\n`);
        return 0;
      }
      const sig = divergenceSignature(r.divergence!);
      process.stdout.write(`difftest: minimizing ${file}: ${sig}\n`);
      const min = await minimizeDivergence(session.runner, c, r.divergence!, sig, budget);
      const finalCase = min?.case ?? c;
      const finalDiv = min?.divergence ?? r.divergence!;
      const outFile = await saveCase(path.dirname(file), `${path.basename(file, '.json')}.min`, finalCase);
      const dutArgs = [values.dut ? `--dut ${values.dut}` : '', ...(values.inject ?? []).map((i) => `--inject ${i}`)].filter(Boolean).join(' ');
      const report = buildDivergenceReport(finalCase, finalDiv, {
        caseFile: outFile,
        replayCommand: `node bin/difftest.mjs replay ${outFile}${dutArgs ? ` ${dutArgs}` : ''}`,
        minimization: min ? { fromInstructions: min.fromInstructions, toInstructions: min.toInstructions, seconds: min.seconds } : undefined,
      });
      const result: CampaignResult = {
        format: 'difftest-result/1',
        runId: `minimize-${c.id}`,
        command: ['difftest', 'minimize', ...argv].join(' '),
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        seed: c.provenance.seed ?? 'n/a',
        mode: 'step',
        workers: 1,
        oracle: session.reference.info(),
        dut: { name: session.dut.name, implementation: session.dut.info().implementation, mutants: [] },
        testsRun: 1,
        seconds: (Date.now() - startedAt.getTime()) / 1000,
        partial: false,
        divergences: [report],
        groups: [],
        coverageMissing: [],
        oracleCrashes: [],
        coverage: [],
        coverageTotalRows: 0,
        assemblerRejects: [],
        maskedFlags: [],
        syncRules: [...FRAGMENT_SYNC_RULES],
      };
      const { dir } = await writeReport(result, path.resolve(values.out ?? path.join('reports', 'runs', `minimize-${c.id}`)));
      process.stdout.write(
        `${describeDivergence(finalDiv, 2)}\n` +
          (min ? `difftest: ${min.fromInstructions} → ${min.toInstructions} instruction(s) in ${min.seconds.toFixed(1)}s\n` : 'difftest: could not shrink reproducibly; kept the original\n') +
          `difftest: minimized case ${outFile}\ndifftest: report ${path.relative(process.cwd(), dir)}/index.html\n`,
      );
      return 1;
    } finally {
      await session.close();
    }
  },
};
