import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CASE_LINES_EXT, listCaseFiles, readCaseEntries } from '../corpus/case-files.js';
import { readCaseFile, type Case } from '../corpus/case-schema.js';
import { createCaseSource, FAMILY_NAMES } from '../harness/campaign/case-source.js';
import { deviationsFrom, SingleStepRecorder, type Exclusion, type RecordedStep } from '../harness/export/record.js';
import { readSuppressions } from '../corpus/suppressions.js';
import { existsSync } from 'node:fs';
import { groupByRow, writeExport } from '../harness/export/write-export.js';
import { ensureQemu } from '../oracle/qemu/install.js';
import { QemuTarget } from '../oracle/qemu/qemu-target.js';
import { readResult } from '../reports/json.js';
import { absolutizeResult } from '../reports/paths.js';
import { UsageError } from '../util/errors.js';
import { prepareOutDir } from '../util/out-dir.js';
import { DEFAULT_SUPPRESSIONS, parseSeed } from './fuzz.js';
import { parseOptions } from './options.js';
import { parseTimeoutOption, TARGET_OPTIONS, TIMEOUT_HELP, TIMEOUT_USAGE } from './target-options.js';

const USAGE = `difftest export --format singlesteptests [CASES|RESULT.json|DIR]... --out DIR
              [--seed N --count N [--family NAME]... [--length MIN-MAX] [--raw]]
              [--cpu MODEL] [--max-steps N] [--suppressions FILE] ${TIMEOUT_USAGE}

Writes per-instruction tests in the spirit of the SingleStepTests corpora, so that emulator
projects in any language can run them without QEMU: each instruction of each case is run alone
on QEMU (the reference), and recorded with every register before it, the registers it changed,
and every byte it fetched, read or wrote, before and after. One JSON file per opcode row
(emulator/isa: e.g. 01-add.json, 80.4-and.json, 0FAF-imul.json), index.json (files, sources,
and the instructions left out with why), machine.json (the 64-bit test machine every test runs
on), and schema/*.schema.json (generated from the zod schemas; also in docs/singlestep-schema/).

Inputs: case files (*.json, *${CASE_LINES_EXT}) or directories of them (the regression corpus:
corpus/regressions), a campaign's result.json (its divergent cases), and/or a fixed-seed
campaign's cases, generated as fuzz generates them (--seed N --count N, with fuzz's --family,
--length and --raw). Instructions are left out when their result is not repeatable (RDTSC,
RDRAND…), when QEMU is known to be wrong for them (the case records a known divergence there,
or a suppression in --suppressions FILE, default ./${DEFAULT_SUPPRESSIONS}, names their
form), or when they wrote memory whose prior bytes were not read. Replay an export with
'difftest replay-export DIR'.

  --max-steps N   instructions recorded per case at most (default 64; a REP iteration is one)
  --cpu MODEL     QEMU -cpu (default qemu64)
  ${TIMEOUT_HELP}
Exit code: 0 when the export was written, 2 on bad input or a setup problem.`;

const OPTIONS = {
  format: { type: 'string' },
  out: { type: 'string' },
  seed: { type: 'string' },
  count: { type: 'string' },
  family: { type: 'string', multiple: true },
  length: { type: 'string' },
  raw: { type: 'boolean' },
  cpu: { type: 'string' },
  'max-steps': { type: 'string' },
  suppressions: { type: 'string' },
  ...TARGET_OPTIONS,
} as const;

function wholeNumber(option: string, text: string, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${option} '${text}' must be a whole number from 1 to ${max}`);
  return n;
}

/** The cases named on the command line, read (and checked) before QEMU starts. */
async function inputCases(inputs: readonly string[]): Promise<Case[]> {
  const out: Case[] = [];
  for (const input of inputs) {
    if (input.endsWith('.json') && (await readFile(input, 'utf8').catch(() => '')).includes('"difftest-result/1"')) {
      const result = absolutizeResult(await readResult(input), path.dirname(path.resolve(input)));
      for (const d of result.divergences) {
        if (!d.caseFile) continue;
        // a campaign's case files are beside its result; the regression corpus's are named from the checkout
        out.push(await readCaseFile(d.caseFile));
      }
      continue;
    }
    for (const file of await listCaseFiles([input], ['.json', CASE_LINES_EXT])) {
      for (const e of await readCaseEntries(file)) {
        if ('error' in e) throw new UsageError(e.error);
        out.push(e.case);
      }
    }
  }
  return out;
}

export const exportCommand = {
  summary: 'write per-instruction tests (SingleStepTests style, QEMU as the reference) for other emulators',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseOptions(argv, OPTIONS, USAGE);
    if (values.format !== 'singlesteptests') {
      throw new UsageError(`${values.format === undefined ? 'export needs --format' : `--format '${values.format}' is not a format`}; use --format singlesteptests`);
    }
    if (values.out === undefined) throw new UsageError(`export needs --out DIR; usage: ${USAGE.split('\n')[0]}`);
    const generated = values.count !== undefined || values.seed !== undefined;
    if (generated && (values.count === undefined || values.seed === undefined)) throw new UsageError('a generated campaign needs both --seed N and --count N');
    if (!generated && positionals.length === 0) throw new UsageError(`nothing to export: name cases, a result.json or a directory, or --seed N --count N; usage: ${USAGE.split('\n')[0]}`);
    for (const f of values.family ?? []) {
      if (!FAMILY_NAMES.includes(f)) throw new UsageError(`unknown --family '${f}'; valid families: ${FAMILY_NAMES.join(', ')}`);
    }
    const lm = /^(\d+)(?:-(\d+))?$/.exec(values.length ?? '1-10');
    const length: [number, number] = lm ? [Number(lm[1]), Number(lm[2] ?? lm[1])] : [0, 0];
    if (!lm || length[0] < 1 || length[1] < length[0] || length[1] > 200) throw new UsageError(`--length '${values.length}' must be N or MIN-MAX with 1 <= MIN <= MAX <= 200`);
    const maxSteps = values['max-steps'] !== undefined ? wholeNumber('max-steps', values['max-steps'], 100_000) : 64;
    const timeoutMs = parseTimeoutOption(values.timeout);
    const out = await prepareOutDir(values.out);
    const supFile = values.suppressions ?? (existsSync(DEFAULT_SUPPRESSIONS) ? DEFAULT_SUPPRESSIONS : undefined);
    const suppressions = supFile ? await readSuppressions(supFile) : undefined;

    const cases = await inputCases(positionals);
    const sources = [...positionals];
    if (generated) {
      const seed = parseSeed(values.seed);
      const count = wholeNumber('count', values.count!, 1_000_000);
      const source = createCaseSource({ seed, families: values.family, length, raw: values.raw === true });
      const made = await Promise.all(Array.from({ length: count }, (_, i) => source(i)));
      cases.push(...made.flatMap((g) => (g.case ? [g.case] : [])));
      sources.push(`fuzz --seed ${seed} --count ${count}${(values.family ?? []).map((f) => ` --family ${f}`).join('')} --length ${length.join('-')}${values.raw ? ' --raw' : ''}`);
    }

    const t0 = performance.now();
    await ensureQemu();
    const qemu = await QemuTarget.launch({ cpuModel: values.cpu, timeoutMs });
    const steps: RecordedStep[] = [];
    const excluded: Exclusion[] = [];
    try {
      const recorder = new SingleStepRecorder(qemu, { maxSteps, knownDeviation: deviationsFrom(suppressions) });
      for (const [i, c] of cases.entries()) {
        const r = await recorder.record(c);
        steps.push(...r.steps);
        excluded.push(...r.excluded);
        if (process.stderr.isTTY) process.stderr.write(`\rexport: ${i + 1}/${cases.length} cases, ${steps.length} instructions`);
      }
      if (process.stderr.isTTY) process.stderr.write('\n');
      const grouped = groupByRow(steps);
      const index = await writeExport(out, grouped, { reference: qemu.info(), sources, excluded });
      const seconds = (performance.now() - t0) / 1000;
      process.stdout.write(
        `difftest: exported ${index.tests} tests (${cases.length} cases, ${index.files.length} opcode rows) to ${path.relative(process.cwd(), out) || '.'} in ${seconds.toFixed(1)} s; ` +
          `${excluded.length} instruction(s) left out (index.json says why); reference ${index.reference.implementation} -cpu ${index.reference.cpuModel}\n`,
      );
    } finally {
      await qemu.close();
    }
    return 0;
  },
};
