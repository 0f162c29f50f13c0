/**
 * JSON Schemas of the export's files, generated from the zod schemas (zod 4's own
 * toJSONSchema: no other dependency). Written beside every export and kept in docs/; a test
 * checks that docs/ holds what this generates. Regenerate docs/ with:
 *   npx tsx harness/export/single-step-json-schema.ts docs/singlestep-schema
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ExportIndexSchema, MachineFileSchema, SingleStepFileSchema } from './single-step-schema.js';

export const SCHEMA_FILES = {
  'tests.schema.json': { schema: SingleStepFileSchema, title: 'difftest single-step tests: one file per opcode row' },
  'index.schema.json': { schema: ExportIndexSchema, title: 'difftest single-step export: index.json' },
  'machine.schema.json': { schema: MachineFileSchema, title: 'difftest single-step export: machine.json, the test machine' },
} as const;

/** File name → its JSON text. */
export function jsonSchemaTexts(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [file, { schema, title }] of Object.entries(SCHEMA_FILES)) {
    out[file] = `${JSON.stringify({ title, ...z.toJSONSchema(schema) }, null, 2)}\n`;
  }
  return out;
}

export async function writeJsonSchemas(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await Promise.all(Object.entries(jsonSchemaTexts()).map(([file, text]) => writeFile(path.join(dir, file), text)));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: npx tsx harness/export/single-step-json-schema.ts DIR\n');
    process.exitCode = 2;
  } else {
    await writeJsonSchemas(dir);
  }
}
