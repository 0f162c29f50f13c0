import path from 'node:path';
import { readResult } from '../reports/json.js';
import { absolutizeResult } from '../reports/paths.js';
import { writeReport } from '../reports/write-report.js';
import { UsageError } from '../util/errors.js';
import { parseOptions } from './options.js';

const USAGE = `difftest report <result.json> [--out DIR]

Re-renders a report (index.html, summary.md, junit.xml) from a saved result.json, in its folder
or in --out DIR (whose replay commands then reach the cases where they are).`;

export const reportCommand = {
  summary: 're-render a report from result.json',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseOptions(argv, { out: { type: 'string' } }, USAGE);
    if (positionals.length !== 1) throw new UsageError(`report takes exactly one result.json; usage: ${USAGE.split('\n')[0]}`);
    const result = await readResult(positionals[0]!);
    // case files are named relative to the folder the result is in; a report written elsewhere
    // (--out) names them relative to its own folder
    const from = path.dirname(path.resolve(positionals[0]!));
    const { dir } = await writeReport(absolutizeResult(result, from), path.resolve(values.out ?? from));
    process.stdout.write(`difftest: report ${path.relative(process.cwd(), dir) || '.'}/index.html\n`);
    return result.divergences.some((d) => !d.suppressed) ? 1 : 0;
  },
};
