import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mergeJsonlFiles } from './jsonl-merge.js';

describe('mergeJsonlFiles', () => {
  it('writes the parts line by line in order, drops blank and filtered lines, and counts what it wrote', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'difftest-jsonl-'));
    const a = path.join(dir, 'a.jsonl');
    const b = path.join(dir, 'b.jsonl');
    writeFileSync(a, '{"id":"1"}\n\n{"id":"2"}\n');
    // a part without a final newline, and many lines (more than one stream chunk of 64 KiB)
    const many = Array.from({ length: 5000 }, (_, i) => `{"id":"b${i}","pad":"${'x'.repeat(40)}"}`);
    writeFileSync(b, many.join('\n'));
    const out = path.join(dir, 'out.jsonl');
    const n = await mergeJsonlFiles([a, b], out, (line) => !line.includes('"2"'));
    expect(n).toBe(5001);
    const lines = readFileSync(out, 'utf8').split('\n');
    expect(lines[0]).toBe('{"id":"1"}');
    expect(lines[1]).toBe(many[0]);
    expect(lines.at(-2)).toBe(many.at(-1));
    expect(lines.at(-1)).toBe('');
  });

  it('rejects when the output cannot be written', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'difftest-jsonl-'));
    const a = path.join(dir, 'a.jsonl');
    writeFileSync(a, '{"id":"1"}\n');
    await expect(mergeJsonlFiles([a], path.join(dir, 'missing', 'out.jsonl'))).rejects.toThrow(/ENOENT/);
  });
});
