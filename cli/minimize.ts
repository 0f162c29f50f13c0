import { rmdir } from 'node:fs/promises';
import path from 'node:path';
import { CASE_LINES_EXT, readCaseEntries } from '../corpus/case-files.js';
import { CaseFileError, type Case } from '../corpus/case-schema.js';
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
import { prepareOutDir } from '../util/out-dir.js';
import { parseOptions } from './options.js';
import { parseTimeoutOption, TARGET_OPTIONS, TIMEOUT_HELP, TIMEOUT_USAGE } from './target-options.js';
import { describeDivergence } from './text-summary.js';

const USAGE = `difftest minimize <case.json|cases.jsonl:LINE> [--dut ${DUT_HELP}] [--inject NAME]... [--cpu MODEL] [--budget N] [--out DIR] ${TIMEOUT_USAGE}

Shrinks a diverging case to the fewest instructions and the smallest initial state that
still diverge the same way. Writes everything to one report folder, reports/runs/<time>-minimize-<id>/
(or --out DIR; the input is never written to): the minimized case as cases/<name>.min.json and
a report (index.html, summary.md, result.json, junit.xml).
  --budget N: at most N candidate runs (default 600)
  ${TIMEOUT_HELP}
Exit code: 0 when the case does not diverge (nothing to minimize, nothing written); 1 when it
diverges (the minimized case and the report are written); 2 on bad input (options, case file,
--out) or a setup problem.`;

const OPTIONS = {
  dut: { type: 'string' },
  inject: { type: 'string', multiple: true },
  cpu: { type: 'string' },
  budget: { type: 'string' },
  out: { type: 'string' },
  ...TARGET_OPTIONS,
} as const;

/** One case: a .json file, or one line of a .jsonl file (FILE.jsonl:LINE, or the file when it holds one case). */
async function readOneCase(arg: string): Promise<{ c: Case; name: string }> {
  const m = new RegExp(`^(.*\\${CASE_LINES_EXT}):(\\d+)$`).exec(arg);
  const file = m ? m[1]! : arg;
  const entries = await readCaseEntries(file);
  const whole = entries.find((e) => e.source === file && 'error' in e); // the file itself could not be read
  if (whole && 'error' in whole) throw new CaseFileError(whole.error);
  const picked = m ? entries.filter((e) => e.source === arg) : entries;
  if (picked.length === 0) throw new CaseFileError(`${file} has no case on line ${m?.[2]}; pass FILE${CASE_LINES_EXT}:LINE with a line that holds a case`);
  if (picked.length > 1) {
    throw new CaseFileError(`${file} holds ${picked.length} cases; pick one as ${file}:LINE (lines ${picked.map((e) => e.source.slice(file.length + 1)).join(', ')})`);
  }
  const e = picked[0]!;
  if ('error' in e) throw new CaseFileError(e.error);
  const base = path.basename(file, path.extname(file));
  return { c: e.case, name: m ? `${base}-line${m[2]}` : base };
}

/** Relative to the working directory when under it, else absolute. */
function shownPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel.startsWith('..') || path.isAbsolute(rel) ? p : rel;
}

/** A folder name from a case id (ids are ours, but a hand-written case may hold anything). */
const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80);

export const minimizeCommand = {
  summary: 'shrink a diverging case',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseOptions(argv, OPTIONS, USAGE);
    if (positionals.length !== 1) throw new UsageError(`minimize takes exactly one case file; usage: ${USAGE.split('\n')[0]}`);
    const budget = values.budget ? Number(values.budget) : 600;
    if (!Number.isInteger(budget) || budget < 1) throw new UsageError(`--budget '${values.budget}' must be a positive whole number`);
    const timeoutMs = parseTimeoutOption(values.timeout);
    const file = positionals[0]!;
    const { c, name } = await readOneCase(file);
    const dut = parseDutSpec(values.dut ?? 'emulator', values.inject ?? [], { timeoutMs });
    const startedAt = new Date();
    const runId = `${startedAt.toISOString().replace(/[:.]/g, '-').slice(0, 19)}-minimize-${safeName(c.id)}`;
    // checked before QEMU starts: a minimization that cannot be saved is lost
    const outDir = await prepareOutDir(values.out ?? path.join('reports', 'runs', runId));
    const session = await LockstepSession.open(dut, values.cpu, { timeoutMs });
    try {
      const r = await session.runner.run(c, { mode: 'block' });
      if (r.outcome !== 'divergence') {
        process.stdout.write(`difftest: ${file} does not diverge on ${session.dut.name} (${r.end}); nothing to minimize\n`);
        // the default folder was made for this run only; a folder the user named stays
        if (values.out === undefined) await rmdir(outDir).catch(() => undefined);
        return 0;
      }
      const sig = divergenceSignature(r.divergence!);
      process.stdout.write(`difftest: minimizing ${file}: ${sig}\n`);
      const min = await minimizeDivergence(session.runner, c, r.divergence!, sig, { budget });
      const finalCase = min?.case ?? c;
      const finalDiv = min?.divergence ?? r.divergence!;
      const outFile = shownPath(await saveCase(path.join(outDir, 'cases'), `${name}.min`, finalCase));
      const dutArgs = [values.dut ? `--dut ${values.dut}` : '', ...(values.inject ?? []).map((i) => `--inject ${i}`)].filter(Boolean).join(' ');
      const report = buildDivergenceReport(finalCase, finalDiv, {
        caseFile: outFile,
        replayCommand: `node bin/difftest.mjs replay ${outFile}${dutArgs ? ` ${dutArgs}` : ''}`,
        minimization: min ? { fromInstructions: min.fromInstructions, toInstructions: min.toInstructions, seconds: min.seconds } : undefined,
      });
      const result: CampaignResult = {
        format: 'difftest-result/1',
        runId,
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
      const { dir } = await writeReport(result, outDir);
      process.stdout.write(
        `${describeDivergence(finalDiv, 2)}\n` +
          (min ? `difftest: ${min.fromInstructions} → ${min.toInstructions} instruction(s) in ${min.seconds.toFixed(1)}s\n` : 'difftest: could not shrink reproducibly; kept the original\n') +
          `difftest: minimized case ${outFile}\ndifftest: report ${shownPath(path.join(dir, 'index.html'))}\n`,
      );
      return 1;
    } finally {
      await session.close();
    }
  },
};
