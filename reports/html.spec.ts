import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { XSS_SIGNATURE, campaignFixture, manyDivergences, ungroupedFixture } from './fixture.js';
import { GZIP_DETAILS_FROM, esc, renderHtml } from './html.js';
import type { DetailData } from './html-data.js';
import { relativizeResult } from './paths.js';
import { findAll, parseXml, type XmlElement } from './xml-check.js';

/** Every tag the HTML writer emits; any other `<` must have come from data unescaped. */
const HTML_TAGS = new Set([
  '!DOCTYPE', 'html', 'head', 'meta', 'title', 'style', 'script', 'body', 'main', 'h1', 'h2', 'h4', 'p', 'span', 'b', 'br',
  'code', 'pre', 'ul', 'li', 'a', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'details', 'summary', 'div', 'label', 'select',
  'option', 'input', 'button', 'noscript',
]);

/** The page without its two scripts' bodies (JSON and code), which are checked on their own. */
function markup(html: string): string {
  return html.replace(/(<script[^>]*>)[\s\S]*?(<\/script>)/g, '$1$2');
}

/** The page as XML: void elements closed, entities XML knows. */
function asXml(html: string): XmlElement {
  const xmlish = markup(html)
    .replace(/^<!DOCTYPE html>\n/, '')
    .replace(/<(meta|br|input)\b([^>]*)>/g, '<$1$2/>')
    .replace(/&nbsp;/g, '&#160;')
    .replace(/ (open|hidden)(?=[ >])/g, ' $1="$1"');
  return parseXml(xmlish);
}

/** The embedded details, unpacked as the browser does (gzip+base64 for large reports). */
function embedded(html: string): DetailData {
  const m = /<script type="([^"]+)" id="difftest-data"( data-encoding="gzip\+base64")?>([\s\S]*?)<\/script>/.exec(html)!;
  return JSON.parse(m[2] ? gunzipSync(Buffer.from(m[3]!, 'base64')).toString('utf8') : m[3]!) as DetailData;
}

describe('index.html', () => {
  const html = renderHtml(campaignFixture());

  it('escapes data: outside its two scripts no `<` starts anything but our own tags; the JSON has no `<` at all', () => {
    const tags = [...markup(html).matchAll(/<\/?([!A-Za-z][\w-]*)/g)].map((m) => m[1]!);
    expect(tags.filter((t) => !HTML_TAGS.has(t))).toEqual([]);
    expect(html.match(/<script/g)).toHaveLength(2);
    expect(html).toContain(esc(XSS_SIGNATURE));
    expect(esc(XSS_SIGNATURE)).toBe('push imm32 &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; | mem[rsp-8]');
    const json = /id="difftest-data">([\s\S]*?)<\/script>/.exec(html)![1]!;
    expect(json).not.toContain('<');
  });

  it('keeps data that looks like markup inside the JSON script element (no early </script>)', () => {
    const r = campaignFixture();
    r.divergences[1]!.program[0]!.text = '</script><script>alert(1)</script><!--';
    const page = renderHtml(r);
    expect(page.match(/<script/g)).toHaveLength(2);
    const json = /id="difftest-data">([\s\S]*?)<\/script>/.exec(page)![1]!;
    expect(json).toContain('\\u003c/script>\\u003cscript>alert(1)\\u003c/script>\\u003c!--');
    expect(embedded(page).d[1]!.p[0]![1]).toBe('</script><script>alert(1)</script><!--');
  });

  it('is self-contained: inline CSS and script, no external resources, nothing fetched', () => {
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/<link|<img|<iframe|\bsrc=|@import|url\(|href="(?!#)/i);
    expect(html).not.toMatch(/\bfetch\(|XMLHttpRequest|import\(/);
  });

  it('balances its tags (void elements aside)', () => {
    const root = asXml(html);
    expect(root.name).toBe('html');
    expect(findAll(root, 'details').filter((d) => d.attrs.class?.startsWith('group'))).toHaveLength(3);
  });

  it('has one collapsible section per root-cause group with its hypothesis, necessary features and experiments; the largest open', () => {
    const root = asXml(html);
    const groups = findAll(root, 'details').filter((d) => d.attrs.class?.startsWith('group'));
    expect(groups.map((g) => [g.attrs.id, g.attrs.open ?? ''])).toEqual([['group-G1', 'open'], ['group-G3', ''], ['suppressed-G2', '']]);
    const g1 = groups[0]!;
    expect(findAll(g1, 'summary')[0]!.children.map((c) => c.text)).toEqual([
      'G1',
      'diverges when a 64-bit ADD reads its source from memory: the upper half of the sum is lost; never with a register source',
      '— 37 cases, 1 signature',
    ]);
    expect(findAll(g1, 'span').filter((s) => s.attrs.class === 'chip').map((s) => s.text)).toEqual(['memory operand', 'REX.W']);
    const experiments = findAll(g1, 'tr').filter((tr) => findAll(tr, 'td').length === 3).map((tr) => findAll(tr, 'td').map((td) => td.text));
    expect(experiments).toEqual([
      ['memory operand', 'source in a register: add r13, rax', 'agrees'],
      ['REX.W', '32-bit: add r13d, [rip+0xffef]', 'agrees'],
      ['RIP-relative operand', 'base register: add r13, [rbx]', 'diverges'],
    ]);
  });

  it('lists suppressed groups in their own section, after the failing ones, with their reason', () => {
    const failing = html.indexOf('<h2>Root-cause groups (2)</h2>');
    const accepted = html.indexOf('<h2>Suppressed groups (1)</h2>');
    expect(failing).toBeGreaterThan(0);
    expect(accepted).toBeGreaterThan(failing);
    expect(html.indexOf('id="suppressed-G2"')).toBeGreaterThan(accepted);
    expect(html.indexOf('id="group-G1"')).toBeLessThan(accepted);
    expect(html.slice(accepted)).toContain('<b>Suppressed:</b> BSF with a zero source leaves the destination undefined');
  });

  it('has a summary row per signature with what the filters and sorts read: mnemonic, fields, cases', () => {
    const rows = findAll(asXml(html), 'tr').filter((tr) => tr.attrs.id?.startsWith('d'));
    expect(rows.map((r) => [r.attrs.id, r.attrs['data-m'], r.attrs['data-f'], r.attrs['data-c']])).toEqual([
      ['d0', 'add', 'GPR SF', '37'], ['d1', 'push', 'memory', '4'], ['d2', 'bsf', 'GPR', '12'],
    ]);
    expect(findAll(rows[0]!, 'td').map((td) => td.text.trim())).toEqual(['', '', 'instruction 2 of 2:', 'R13 bits 63..44; RFLAGS SF 1→0', '37', 'analyzed']);
    expect(html).toContain('<option value="add">add (1)</option>');
    expect(html).toContain('<option value="SF">SF (1)</option>');
    expect(html).toContain('<option value="G2">G2 (1)</option>');
    expect(html).toContain('<div class="controls" id="controls" hidden>'); // the script shows them
  });

  it('uses the window width: no centred narrow column', () => {
    expect(html).not.toMatch(/max-width:\s*\d+px/);
    expect(html).toContain('table.sigs{width:100%}');
  });

  it('names the planted bugs, the CPU model, the testing rate beside the wall time, and the rows not exercised', () => {
    expect(html).toContain('<tr><th>System under test</th><td>emulator (difftest-x86 emulator 0.1.0 (in-process)), CPU model qemu64; planted bugs switched on: add64-mem-trunc32 (64-bit ADD with a memory source uses only the low 32 bits of the source)</td></tr>');
    expect(html).toContain('<tr><th>Tests</th><td>128,400 tests in 55.8 s of testing (2,301/s); 60.4 s wall: 0.7 s start-up, 3.6 s minimizing</td></tr>');
    expect(html).toContain('<h2>Coverage: 5 of 7 opcode-table rows exercised (71.4%)</h2>');
    expect(html).toContain('<p>Not exercised (2):</p><ul class="rows"><li><code>adc r/m16, imm16</code></li><li><code>sbb r/m8, imm8</code></li></ul>');
  });

  it('embeds each divergence\'s details as JSON, in result order, for the script to render on demand', () => {
    const data = embedded(html);
    expect(data.d.map((d) => d.c)).toEqual(campaignFixture().divergences.map((d) => d.caseId));
    expect(data.d[0]!.r[0]).toEqual(['R13', 64, 'efbed000dc0fcbcf', '00000000dc0fcbcf', '63..44', '63..61, 59..55, 53..49, 47..46, 44']);
    expect(data.t[0] + data.d[0]!.rp + data.t[1]).toBe('npx difftest replay corpus/divergences/fuzz-7f3a-000113.json --mode step');
  });

  it('renders a result without groups (written before grouping existed) as one ungrouped section', () => {
    const old = renderHtml(ungroupedFixture());
    expect(old).toContain('<h2>Divergences (2; not grouped by root cause)</h2>');
    expect(old).toContain('<span class="gid">No group</span>');
    expect(old).toContain('FAIL: 2 distinct divergences (41 cases)');
    expect(() => asXml(old)).not.toThrow();
  });

  it('explains replay commands that name cases under "$REPORT_DIR", with where the report was written', () => {
    const r = relativizeResult(manyDivergences({ divergences: 3, groups: 2, runDir: '/ci/run' }), '/ci/run');
    const page = renderHtml(r, { writtenTo: 'reports/runs/x' });
    expect(page).toContain('replay commands name them as &quot;$REPORT_DIR&quot;/cases/…');
    expect(page).toContain('where it was written, reports/runs/x.');
    expect(page).toContain('<span id="replay-here" hidden>');
    expect(markup(html)).not.toContain('replay-here'); // the small fixture's cases are in the checkout's corpus
  });
});

describe('index.html for 1,000 divergences', () => {
  const r = relativizeResult(manyDivergences({ divergences: 1000 }), '/home/ci/work/difftest/reports/runs/2025-02-03T09-00-00-seed-7');
  const html = renderHtml(r);

  it('stays under 700 KiB (the old renderer wrote 2,885 KiB for this fixture; issue 12 complained of 1.4 MB)', () => {
    // 1,000 summary rows (~290 bytes each) + the details gzipped (~215 KiB) + the groups:
    // ~600 KiB. The bound leaves room for longer signatures without letting the details creep
    // back into the markup (which alone would add ~2 MB).
    expect(Buffer.byteLength(html)).toBeLessThan(700 * 1024);
  });

  it('has all 1,000 rows in 40 group sections, and the details packed (gzip) but complete', () => {
    expect(html.match(/<tr id="d\d+"/g)).toHaveLength(1000);
    expect(html.match(/<details class="group/g)).toHaveLength(40);
    expect(html).toContain('data-encoding="gzip+base64"');
    const data = embedded(html);
    expect(data.d).toHaveLength(1000);
    expect(data.d.map((d) => d.c)).toEqual(r.divergences.map((d) => d.caseId));
    expect(JSON.stringify(data).length).toBeGreaterThan(GZIP_DETAILS_FROM);
  });

  it('shows no more than the summary up front: no program, state or bit table in the markup', () => {
    const page = markup(html);
    expect(page).not.toContain('<h4>');
    expect(page).not.toContain('◀ diverges');
    expect(page).not.toContain('WRONG');
  });

  it('balances its tags', () => {
    expect(asXml(html).name).toBe('html');
  });
});
