/**
 * html-client.js runs in the browser; its pure part (renderDetail and helpers) runs here in a
 * bare VM context, on the details html-data.ts embeds, and is checked against the format.ts
 * views that summary.md shows, so that the page and the Markdown cannot drift apart.
 */
import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { DivergenceReport } from '../harness/campaign-result.js';
import { campaignFixture, manyDivergences } from './fixture.js';
import { memoryLines, programRows, registerDiffs } from './format.js';
import { detailData, type DetailData } from './html-data.js';
import { shellQuote } from './paths.js';
import { findAll, parseXml, type XmlElement } from './xml-check.js';

interface Client {
  renderDetail(data: DetailData, i: number, reportDir?: string): string;
  pageFolder(loc: { protocol: string; pathname: string }): string | undefined;
  shellQuote(s: string): string;
}

const source = readFileSync(new URL('./html-client.js', import.meta.url), 'utf8');
const client = vm.runInNewContext(`${source}\n;({ renderDetail, pageFolder, shellQuote })`, {}) as Client;

/** Rendered detail HTML as a tree (it is a fragment: wrap it). */
function tree(html: string): XmlElement {
  return parseXml(`<div>${html.replace(/<br>/g, '<br/>').replace(/&nbsp;/g, '&#160;')}</div>`);
}

const cells = (tr: XmlElement) => findAll(tr, 'td').map((td) => (findAll(td, 'code')[0]?.text ?? td.text).replace(/<[^>]*>/g, ''));
const text = (el: XmlElement): string => el.text + el.children.map(text).join('');

/** Per register diff, its bit-range rows as the page shows them: [bits, expected, actual, status]. */
function pageBitRows(t: XmlElement): string[][][] {
  return findAll(t, 'table')
    .filter((tb) => findAll(tb, 'th')[0]?.text === 'Bits')
    .map((tb) => findAll(tb, 'tbody')[0]!.children.map((tr) => {
      const c = findAll(tr, 'td');
      return [c[0]!.text, findAll(c[1]!, 'code')[0]!.text, findAll(c[2]!, 'code')[0]!.text, text(c[3]!) === 'WRONG' ? 'WRONG' : 'ok'];
    }));
}

function checkAgainstFormat(d: DivergenceReport, html: string): void {
  const t = tree(html);
  // program: numbered from 1, addresses and bytes as summary.md has them, the divergent one marked
  const program = findAll(t, 'table').find((tb) => findAll(tb, 'th')[0]?.text === '#')!;
  const rows = findAll(program, 'tbody')[0]!.children;
  expect(rows.map((tr) => cells(tr).slice(0, 4))).toEqual(programRows(d).map((r) => [String(r.n), r.address, r.bytes, r.text]));
  expect(rows.map((tr) => tr.attrs.class ?? '')).toEqual(programRows(d).map((r) => (r.divergent ? 'divergent' : '')));
  // bit-range tables: the seed notes' three ranges, WRONG where they differ
  expect(pageBitRows(t)).toEqual(registerDiffs(d).map((r) => r.rows.map((x) => [x.bits, x.expected, x.actual, x.status])));
  // memory: hex-dump lines as format.ts cuts them
  const mem = /<h4>Memory<\/h4><pre>([\s\S]*?)<\/pre>/.exec(html);
  expect(mem !== null).toBe(d.memoryDiffs.length > 0);
  if (mem) {
    const lines = mem[1]!.replace(/<[^>]*>/g, '').split('\n');
    const expected = d.memoryDiffs.flatMap(memoryLines).flatMap((l) => [`${l.addr}  expected ${l.expected.join(' ')}`, `${' '.repeat(18)}  actual   ${l.actual.join(' ')}`]);
    expect(lines).toEqual(expected);
  }
}

describe('html-client.js renderDetail', () => {
  const r = campaignFixture();
  const data = detailData(r);

  it('renders what summary.md shows for the same divergence: program, bit-range tables, flags, memory', () => {
    r.divergences.forEach((d, i) => checkAgainstFormat(d, client.renderDetail(data, i)));
    const seed = client.renderDetail(data, 0);
    expect(seed).toContain('<h4>R13: bits 63..44 differ <span class="meta">(exactly: 63..61, 59..55, 53..49, 47..46, 44)</span></h4>');
    expect(seed).toContain('<pre>expected 0x<span class="bit">e</span><span class="bit">f</span><span class="bit">b</span><span class="bit">e</span><span class="bit">d</span>000dc0fcbcf');
    expect(seed).toContain('<tr class="wrong"><td>63..48</td><td><code>0xefbe</code></td><td><code>0x0000</code></td><td>WRONG</td></tr>');
    expect(seed).toContain('<tr class="ok"><td>11..0</td><td><code>0xbcf</code></td><td><code>0xbcf</code></td><td><span class="ok">ok</span></td></tr>');
    expect(seed).toContain('<tr class="wrong"><td>SF</td><td>1</td><td>0</td><td>WRONG</td></tr>');
    expect(seed).toContain('<li>Minimized: 23 → 2 instructions in 4.2 s</li>');
    expect(seed).toContain('<h4>Changed before instruction 2 of 2</h4><pre>R13    0x1111111111111111</pre>');
    expect(seed).toContain('[0x0000000000020000] 8 bytes: be ba fe ca ef be ad de');
  });

  it('agrees with format.ts on every divergence of the 1,000-divergence fixture', () => {
    const big = manyDivergences({ divergences: 1000 });
    const bigData = detailData(big);
    big.divergences.forEach((d, i) => checkAgainstFormat(d, client.renderDetail(bigData, i)));
  });

  it('escapes data it renders', () => {
    const x = campaignFixture();
    x.divergences[1]!.program[0]!.text = '<img src=x onerror=alert(1)> & "q"';
    const html = client.renderDetail(detailData(x), 1);
    expect(html).toContain('<code>&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot;</code>');
    expect(html).not.toContain('<img');
  });

  it('gives the replay command as recorded, or with "$REPORT_DIR" replaced by the folder the page was opened from', () => {
    const x = campaignFixture();
    x.divergences[0]!.replayCommand = 'node bin/difftest.mjs replay "$REPORT_DIR"/cases/a.json --inject add64-mem-trunc32';
    x.divergences[1]!.replayCommand = 'node bin/difftest.mjs replay "$REPORT_DIR"/cases/b.json --inject add64-mem-trunc32';
    const d = detailData(x);
    expect(d.t).toEqual(['n', '']); // the third command is unlike the first two
    expect(d.d.map((e) => e.rp.length)).toEqual(x.divergences.map((e) => e.replayCommand.length - 1));
    expect(client.renderDetail(d, 0)).toContain('<pre class="replay">node bin/difftest.mjs replay &quot;$REPORT_DIR&quot;/cases/a.json --inject add64-mem-trunc32</pre>');
    expect(client.renderDetail(d, 1, "'/home/u/Downloads/run 7'")).toContain(
      '<pre class="replay">node bin/difftest.mjs replay &#39;/home/u/Downloads/run 7&#39;/cases/b.json --inject add64-mem-trunc32</pre>',
    );
    expect(client.renderDetail(d, 2)).toContain('npx difftest replay corpus/divergences/fuzz-7f3a-000402.json');
  });

  it('knows the folder of a page opened from disk (POSIX and Windows), and none for a served page', () => {
    expect(client.pageFolder({ protocol: 'file:', pathname: '/home/u/Down%20loads/run%207/index.html' })).toBe('/home/u/Down loads/run 7');
    expect(client.pageFolder({ protocol: 'file:', pathname: '/C:/Users/u/report/index.html' })).toBe('C:/Users/u/report');
    expect(client.pageFolder({ protocol: 'https:', pathname: '/artifacts/report/index.html' })).toBeUndefined();
  });

  it('quotes a folder for the shell as paths.ts does', () => {
    for (const s of ['/home/u/report', "/home/u/it's here", '/tmp/a b', 'C:/x', '~/r']) expect(client.shellQuote(s)).toBe(shellQuote(s));
  });
});
