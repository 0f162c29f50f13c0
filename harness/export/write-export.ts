/**
 * Recorded instructions grouped into one JSON file per opcode row (as SingleStepTests has one per
 * opcode), with index.json, machine.json (the test machine every test runs on) and the JSON
 * Schemas beside them.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ALL_ROWS } from '../../emulator/isa/table.js';
import type { IsaRow } from '../../emulator/isa/row.js';
import { describeRow } from '../campaign/case-source.js';
import { initialState, LAYOUT, systemMemory } from '../../contracts/test-machine.js';
import type { TargetInfo } from '../../contracts/execution-target.js';
import { stateToRegs } from './registers.js';
import type { Exclusion, RecordedStep, RecordedTest } from './record.js';
import { EXPORT_FORMAT, type ExportIndex, type MachineFile, type SingleStepTest } from './single-step-schema.js';
import { writeJsonSchemas } from './single-step-json-schema.js';

const hex2 = (n: number) => n.toString(16).padStart(2, '0').toUpperCase();

/**
 * SingleStepTests-style name: mandatory prefix, map and opcode bytes in hex, `.N` for a group's
 * ModRM.reg, `.reg`/`.mem` for a row that is one of the two, then the mnemonic: `80.4-and.json`,
 * `0FAF-imul.json`, `F30F10-movss.json`.
 */
function baseName(r: IsaRow): string {
  const prefix = r.prefix === undefined || r.prefix === 'none' ? '' : hex2(r.prefix);
  const map = r.map === 'one' ? '' : r.map.toUpperCase();
  const ext = r.ext !== undefined ? `.${r.ext}` : '';
  const mod = r.mod ? `.${r.mod}` : '';
  const rm = r.rm !== undefined ? `.rm${r.rm}` : '';
  return `${prefix}${map}${hex2(r.opcode)}${ext}${mod}${rm}-${r.mnemonic.toLowerCase().replace(/[^a-z0-9]+/g, '_')}`;
}

/** Row id → file name, unique over the table (rows that would share one get their id added). */
const ROW_FILES: ReadonlyMap<number, string> = (() => {
  const names = new Map<string, number>();
  for (const r of ALL_ROWS) names.set(baseName(r), (names.get(baseName(r)) ?? 0) + 1);
  return new Map(ALL_ROWS.map((r) => [r.id, names.get(baseName(r))! > 1 ? `${baseName(r)}-row${r.id}.json` : `${baseName(r)}.json`]));
})();

export function rowFileName(row: number): string {
  return ROW_FILES.get(row)!;
}

/** SHA-1 of the test without idx and hash (key order fixed by the recorder). */
export function testHash(t: RecordedTest): string {
  return createHash('sha1').update(JSON.stringify(t)).digest('hex');
}

export interface ExportFiles {
  readonly files: Array<{ file: string; row: string; tests: SingleStepTest[] }>;
  readonly tests: number;
}

/** Steps by file (rows in table order, then instructions no row names), each test numbered and hashed; duplicates dropped. */
export function groupByRow(steps: readonly RecordedStep[]): ExportFiles {
  const byFile = new Map<string, { row: string; order: number; tests: SingleStepTest[]; hashes: Set<string> }>();
  for (const s of steps) {
    const file = s.row !== undefined ? rowFileName(s.row) : `x-${s.icedCode.toLowerCase()}.json`;
    let e = byFile.get(file);
    if (!e) byFile.set(file, (e = { row: s.row !== undefined ? describeRow(s.row) : `${s.icedCode} (iced-x86; no opcode row)`, order: s.row ?? Number.MAX_SAFE_INTEGER, tests: [], hashes: new Set() }));
    const hash = testHash(s.test);
    if (e.hashes.has(hash)) continue;
    e.hashes.add(hash);
    e.tests.push({ idx: e.tests.length, ...s.test, hash });
  }
  const files = [...byFile.entries()].sort((a, b) => a[1].order - b[1].order || a[0].localeCompare(b[0])).map(([file, e]) => ({ file, row: e.row, tests: e.tests }));
  return { files, tests: files.reduce((n, f) => n + f.tests.length, 0) };
}

export function machineFile(): MachineFile {
  const state = initialState();
  return {
    format: EXPORT_FORMAT,
    description:
      'x86-64 long mode at CPL 0: 4-level paging identity-maps [mapped.from, mapped.to) (IDT, GDT, page tables and handlers read-only; ' +
      'stack 0x8000-0xffff and data 0x20000-0x2ffff no-execute; code 0x10000-0x1ffff writable). Load the regions, zero all other memory, ' +
      'then per test: set every register of initial.regs, write initial.ram, run one instruction (an exception is delivered through the IDT ' +
      'to its handler, where the test ends), compare the registers of initial.regs overlaid with final.regs (rflags without undefined_flags) ' +
      'and every byte of final.ram.',
    regions: systemMemory().map((r) => ({ addr: Number(r.addr), bytes: Buffer.from(r.bytes).toString('hex') })),
    mapped: { from: 0, to: Number(LAYOUT.unmapped) },
    regs: stateToRegs(state),
    gdtr: { base: Number(state.gdtr!.base), limit: state.gdtr!.limit },
    idtr: { base: Number(state.idtr!.base), limit: state.idtr!.limit },
    exceptionHandlers: Array.from({ length: LAYOUT.sharedVectorsFrom + 1 }, (_, v) => Number(LAYOUT.handlers + BigInt(v) * LAYOUT.handlerStride)),
  };
}

export async function writeExport(
  dir: string,
  grouped: ExportFiles,
  meta: { reference: TargetInfo; sources: readonly string[]; excluded: readonly Exclusion[] },
): Promise<ExportIndex> {
  await mkdir(dir, { recursive: true });
  for (const f of grouped.files) await writeFile(path.join(dir, f.file), `${JSON.stringify(f.tests)}\n`);
  await writeFile(path.join(dir, 'machine.json'), `${JSON.stringify(machineFile(), null, 1)}\n`);
  await writeJsonSchemas(path.join(dir, 'schema'));
  const index: ExportIndex = {
    format: EXPORT_FORMAT,
    reference: { implementation: meta.reference.implementation, cpuModel: meta.reference.cpuModel },
    createdAt: new Date().toISOString(),
    machine: 'machine.json',
    schema: 'schema/tests.schema.json',
    files: grouped.files.map((f) => ({ file: f.file, row: f.row, tests: f.tests.length })),
    tests: grouped.tests,
    sources: [...meta.sources],
    excluded: [...meta.excluded],
  };
  await writeFile(path.join(dir, 'index.json'), `${JSON.stringify(index, null, 1)}\n`);
  return index;
}
