import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listCaseFiles, readCaseEntries } from './case-files.js';
import { CASE_FORMAT, decodeCase, encodeCase } from './case-schema.js';

const line = (id: string) => JSON.stringify(encodeCase(decodeCase({ format: CASE_FORMAT, id, code: '90', provenance: { generator: 'hand' } })));

describe('case files', () => {
  it('reads a .jsonl file line by line: bad lines become one-line errors naming file:line, the rest are cases', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'difftest-cases-')), 'unlocated.jsonl');
    writeFileSync(file, [line('a'), '{not json', '', JSON.stringify({ format: CASE_FORMAT, id: 'x', code: 'zz', provenance: { generator: 'hand' } }), line('b')].join('\n') + '\n');
    const entries = await readCaseEntries(file);
    expect(entries.map((e) => e.source)).toEqual([`${file}:1`, `${file}:2`, `${file}:4`, `${file}:5`]);
    expect(entries.map((e) => ('case' in e ? e.case.id : undefined))).toEqual(['a', undefined, undefined, 'b']);
    const errors = entries.flatMap((e) => ('error' in e ? [e.error] : []));
    expect(errors[0]).toMatch(new RegExp(`^${file}:2: not JSON \\(.*\\); each line of a .jsonl file holds one case$`));
    expect(errors[1]).toBe(`${file}:4: not a valid difftest case (code: expected an even-length hex byte string); fix the field or regenerate the case`);
    for (const e of errors) expect(e).not.toContain('\n');
  });

  it('reports an empty .jsonl file and an unreadable .json file as entries, not exceptions', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'difftest-cases-'));
    writeFileSync(path.join(dir, 'empty.jsonl'), '\n');
    writeFileSync(path.join(dir, 'bad.json'), '{');
    expect(await readCaseEntries(path.join(dir, 'empty.jsonl'))).toEqual([{ source: path.join(dir, 'empty.jsonl'), error: `${path.join(dir, 'empty.jsonl')}: holds no cases (a .jsonl file has one case per line)` }]);
    const [bad] = await readCaseEntries(path.join(dir, 'bad.json'));
    expect(bad).toMatchObject({ source: path.join(dir, 'bad.json') });
    expect('error' in bad! && bad.error).toMatch(/bad\.json: not JSON/);
    expect(await readCaseEntries(dir)).toEqual([{ source: dir, error: `${dir}: is a directory; pass a case file` }]);
    expect(await readCaseEntries(path.join(dir, 'gone.jsonl'))).toEqual([{ source: path.join(dir, 'gone.jsonl'), error: `${path.join(dir, 'gone.jsonl')}: no such file` }]);
  });

  it('finds .json files in directories, and .jsonl files when asked', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'difftest-cases-'));
    mkdirSync(path.join(dir, 'cases'));
    for (const f of ['a.json', 'cases/unlocated.jsonl', 'cases/b.json', 'notes.txt']) writeFileSync(path.join(dir, f), '');
    expect(await listCaseFiles([dir])).toEqual([path.join(dir, 'a.json'), path.join(dir, 'cases/b.json')]);
    expect(await listCaseFiles([dir], ['.json', '.jsonl'])).toEqual([path.join(dir, 'a.json'), path.join(dir, 'cases/b.json'), path.join(dir, 'cases/unlocated.jsonl')]);
  });
});
