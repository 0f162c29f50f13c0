/**
 * Paths in a report are relative to the report folder, so that a report copied elsewhere (a
 * downloaded CI artefact, an archived run) still finds its case files and commits no one's home
 * directory. Replay commands name case files as `"$REPORT_DIR"/cases/…`: they are run from a
 * difftest checkout (`node bin/difftest.mjs`) with REPORT_DIR set to wherever the report now is.
 */
import path from 'node:path';
import type { CampaignResult, DivergenceReport } from '../harness/campaign-result.js';

/** The shell variable replay commands use for the report folder. */
export const REPORT_DIR_VAR = 'REPORT_DIR';

/** `"$REPORT_DIR"/cases/1-42.json`: a report-relative path as a command argument (quoted: folders have spaces). */
export function inReportDir(relative: string): string {
  return `"$${REPORT_DIR_VAR}"/${relative}`;
}

/** A word for a POSIX shell: as it is when it is safe, else single-quoted. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./~-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `dir`-relative with forward slashes (the same on every OS, and in a shell). */
function relativeTo(dir: string, file: string): string {
  return path.relative(dir, file).split(path.sep).join('/');
}

/**
 * Replace each argument of `command` that is exactly `from`: bare (bounded by whitespace or the
 * ends; the path itself may hold spaces, as the worker's template does not quote it) or quoted.
 */
function replaceArgument(command: string, from: string, to: string): string {
  let out = '';
  let i = 0;
  for (let at = command.indexOf(from); at >= 0; at = command.indexOf(from, at + 1)) {
    if (at < i) continue;
    const before = command[at - 1];
    const after = command[at + from.length];
    const quoted = (before === '"' || before === "'") && after === before;
    const bare = (before === undefined || /\s/.test(before)) && (after === undefined || /\s/.test(after));
    if (!quoted && !bare) continue;
    const start = quoted ? at - 1 : at;
    out += command.slice(i, start) + to;
    i = at + from.length + (quoted ? 1 : 0);
  }
  return out + command.slice(i);
}

interface Relativizer {
  /** A path as the report should name it: report-relative when it was absolute. */
  readonly file: (p: string) => string;
  /** A command with each absolute path argument rewritten under `"$REPORT_DIR"`. */
  readonly command: (cmd: string, paths: readonly (string | undefined)[]) => string;
  /** Prose (e.g. a crash message) with the report folder's absolute prefix dropped. */
  readonly text: (s: string) => string;
}

function relativizer(dir: string): Relativizer {
  const abs = path.resolve(dir);
  const prefix = abs.endsWith(path.sep) ? abs : abs + path.sep;
  return {
    file: (p) => (path.isAbsolute(p) ? relativeTo(abs, p) : p),
    command: (cmd, paths) =>
      paths.reduce<string>((c, p) => (p && path.isAbsolute(p) ? replaceArgument(c, p, inReportDir(relativeTo(abs, p))) : c), cmd),
    text: (s) => s.split(prefix).join(''),
  };
}

function relativizeDivergence(d: DivergenceReport, rel: Relativizer): DivergenceReport {
  // the worker builds the command from the same path it stores in caseFile
  return { ...d, caseFile: d.caseFile === undefined ? undefined : rel.file(d.caseFile), replayCommand: rel.command(d.replayCommand, [d.caseFile]) };
}

/**
 * The result as the report folder `dir` should hold it: case files (caseFile, unlocated.file)
 * relative to `dir`, replay commands naming them under `"$REPORT_DIR"`, and `dir`'s absolute
 * prefix dropped from crash messages. Relative paths are left as they are: they were written
 * relative to the checkout (the regression corpus) or by an earlier call, so this is idempotent
 * and `difftest report` can re-render a result in place. Pure: `dir` is only computed with.
 */
export function relativizeResult(result: CampaignResult, dir: string): CampaignResult {
  const rel = relativizer(dir);
  return {
    ...result,
    divergences: result.divergences.map((d) => relativizeDivergence(d, rel)),
    unlocated: result.unlocated && { ...result.unlocated, file: result.unlocated.file === undefined ? undefined : rel.file(result.unlocated.file) },
    oracleCrashes: result.oracleCrashes.map((c) => ({ ...c, message: rel.text(c.message) })),
  };
}

/**
 * The inverse of `relativizeResult` for a result read from the report folder `dir`: the case
 * files its commands name under `"$REPORT_DIR"` (and the unlocated cases) become absolute again.
 * `difftest report --out` re-renders elsewhere with it: relativizing the result to the new folder
 * then reaches the cases where they are. Paths relative to the checkout are left as they are.
 */
export function absolutizeResult(result: CampaignResult, dir: string): CampaignResult {
  const abs = path.resolve(dir);
  const toAbs = (rel: string) => path.resolve(abs, rel);
  return {
    ...result,
    divergences: result.divergences.map((d) => {
      if (d.caseFile === undefined || path.isAbsolute(d.caseFile)) return d;
      const named = inReportDir(d.caseFile);
      if (!d.replayCommand.includes(named)) return d;
      const file = toAbs(d.caseFile);
      return { ...d, caseFile: file, replayCommand: d.replayCommand.split(named).join(file.includes(' ') ? shellQuote(file) : file) };
    }),
    unlocated: result.unlocated && {
      ...result.unlocated,
      file: result.unlocated.file === undefined || path.isAbsolute(result.unlocated.file) ? result.unlocated.file : toAbs(result.unlocated.file),
    },
  };
}

/**
 * How to run the report's replay commands, in words (renderers add their markup). `writtenTo` is
 * the report folder as seen from where it was written (e.g. `reports/runs/<run>`), when known.
 */
export function replayNote(writtenTo?: string): string {
  const here = writtenTo ? `; where it was written, ${writtenTo}` : '';
  return (
    `Case files are in this report's folder (cases/), and replay commands name them as ${inReportDir('cases/…')}. ` +
    `Run them from a difftest checkout with ${REPORT_DIR_VAR} set to this report's folder: ` +
    `for a downloaded CI artefact, the folder you unpacked it to${here}.`
  );
}

/** Whether a result names case files under the report folder (some command uses `"$REPORT_DIR"`). */
export function usesReportDir(result: CampaignResult): boolean {
  return result.divergences.some((d) => d.replayCommand.includes(`$${REPORT_DIR_VAR}`));
}
