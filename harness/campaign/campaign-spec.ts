import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALL_ROWS } from '../../emulator/isa/table.js';
import { GENERATOR_VERSION } from '../generate/to-case.js';
import type { CampaignSpec, ToolVersion } from '../campaign-result.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function git(args: readonly string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd: root, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5_000 }).toString().trim();
  } catch {
    return undefined;
  }
}

let toolVersionCache: ToolVersion | undefined;

/** This checkout's version (git is asked once per process). */
export function toolVersion(): ToolVersion {
  if (toolVersionCache) return toolVersionCache;
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const commit = git(['rev-parse', 'HEAD']);
  const status = commit === undefined ? undefined : git(['status', '--porcelain', '--untracked-files=no']);
  // row ids are positions in the table, and the generator draws rows by id: a changed table is a changed generator
  const table = createHash('sha256')
    .update(JSON.stringify(ALL_ROWS.map((r) => [r.map, r.opcode, r.ext, r.mod, r.rm, r.prefix, r.mnemonic, r.forms, r.feature])))
    .digest('hex')
    .slice(0, 12);
  toolVersionCache = {
    version: pkg.version,
    ...(commit !== undefined ? { commit, dirty: status !== undefined && status !== '' } : {}),
    generator: `${GENERATOR_VERSION}/${table}`,
  };
  return toolVersionCache;
}

const SPEC_FIELDS: ReadonlyArray<[keyof CampaignSpec, string]> = [
  ['seed', '--seed'],
  ['count', '--count'],
  ['seconds', '--seconds'],
  ['minimize', '--no-minimize'],
  ['minimizeSeconds', '--minimize-seconds'],
  ['mode', '--mode'],
  ['families', '--family'],
  ['length', '--length'],
  ['raw', '--raw'],
  ['dut', '--dut'],
  ['inject', '--inject'],
  ['cpu', '--cpu'],
];

const show = (v: unknown): string => (v === undefined ? '(none)' : Array.isArray(v) ? (v.length ? v.join(',') : '(none)') : String(v));

/** The first way `b` differs from `a` as words ("--seed: 1 vs 2"), or undefined when they are one campaign. */
export function specDifference(a: CampaignSpec, b: CampaignSpec): string | undefined {
  for (const [key, option] of SPEC_FIELDS) {
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) return `${option} ${show(a[key])} vs ${show(b[key])}`;
  }
  for (const key of ['version', 'commit', 'dirty', 'generator'] as const) {
    if (a.tool[key] !== b.tool[key]) return `difftest ${key} ${show(a.tool[key])} vs ${show(b.tool[key])}`;
  }
  return undefined;
}
