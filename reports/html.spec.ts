import { describe, expect, it } from 'vitest';
import { XSS_SIGNATURE, campaignFixture } from './fixture.js';
import { esc, renderHtml } from './html.js';
import { findAll, parseXml } from './xml-check.js';

/** Every tag the HTML writer emits; any other `<` must have come from data unescaped. */
const HTML_TAGS = new Set([
  '!DOCTYPE', 'html', 'head', 'meta', 'title', 'style', 'body', 'main', 'h1', 'h2', 'h3', 'h4', 'p', 'span', 'b', 'br',
  'code', 'pre', 'ul', 'li', 'a', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'section', 'details', 'summary',
]);

describe('index.html', () => {
  const html = renderHtml(campaignFixture());

  it('escapes data: no `<` that does not start one of our own tags', () => {
    const tags = [...html.matchAll(/<\/?([!A-Za-z][\w-]*)/g)].map((m) => m[1]!);
    expect(tags.filter((t) => !HTML_TAGS.has(t))).toEqual([]);
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain(esc(XSS_SIGNATURE));
    expect(esc(XSS_SIGNATURE)).toBe('push imm32 &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; | mem[rsp-8]');
  });

  it('is self-contained: inline CSS, no external resources', () => {
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/<link|<img|<iframe|\bsrc=|@import|url\(|href="(?!#)/i);
  });

  it('balances its tags (void elements aside)', () => {
    const xmlish = html.replace(/^<!DOCTYPE html>\n/, '').replace(/<(meta|br)\b([^>]*)>/g, '<$1$2/>').replace(/&nbsp;/g, '&#160;');
    const root = parseXml(xmlish);
    expect(root.name).toBe('html');
    expect(findAll(root, 'section').length).toBe(3); // 2 divergences + 1 suppressed (in <details>)
  });

  it('shows the bit-range table with WRONG rows in red and differing digits highlighted', () => {
    expect(html).toMatch(/<tr class="wrong"><td>63\.\.48<\/td><td><code>0xefbe<\/code><\/td><td><code>0x0000<\/code><\/td><td>WRONG<\/td><\/tr>/);
    expect(html).toMatch(/<tr class="ok"><td>11\.\.0<\/td><td><code>0xbcf<\/code><\/td><td><code>0xbcf<\/code><\/td><td><span class="ok">ok<\/span><\/td><\/tr>/);
    expect(html).toContain('expected 0x<span class="bit">e</span><span class="bit">f</span><span class="bit">b</span><span class="bit">e</span><span class="bit">d</span>000dc0fcbcf');
    expect(html).toContain('tr.wrong td{background:#fde2e1;color:#a11');
    expect(html).toContain('npx difftest replay corpus/divergences/fuzz-7f3a-000113.json --mode step');
  });
});


