import { describe, expect, it } from 'vitest';
import { XSS_SIGNATURE, campaignFixture } from './fixture.js';
import { flagDiff, maskedFlagsText, registerDiffs } from './format.js';
import { esc, renderHtml } from './html.js';
import { junitCounts, renderJunit, xmlEsc } from './junit.js';
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

describe('junit.xml', () => {
  const xml = renderJunit(campaignFixture());
  const root = parseXml(xml);
  const suite = findAll(root, 'testsuite');

  it('is well-formed with one testsuite and the right counts', () => {
    expect(root.name).toBe('testsuites');
    expect(suite).toHaveLength(1);
    const s = suite[0]!;
    const cases = s.children.filter((c) => c.name === 'testcase');
    const count = (n: string) => cases.filter((c) => c.children.some((x) => x.name === n)).length;
    expect(s.attrs).toMatchObject({ tests: '5', failures: '2', errors: '1', skipped: '1' });
    expect(cases).toHaveLength(5);
    expect([count('failure'), count('error'), count('skipped')]).toEqual([2, 1, 1]);
    expect(junitCounts(campaignFixture())).toEqual({ tests: 5, failures: 2, errors: 1, skipped: 1 });
  });

  it('has a failure per signature naming the instruction, fields and replay command', () => {
    const cases = findAll(root, 'testcase');
    const seed = cases.find((c) => c.attrs.name === 'add r64, m64 [rip-relative] | gpr.r13 rflags')!;
    const msg = seed.children[0]!.attrs.message!;
    expect(msg).toContain('#2 add r13, [rip+0xffef] @ 0x000000000001000a diverges: R13 bits 63..44; RFLAGS SF 1→0');
    expect(msg).toContain('Replay: npx difftest replay corpus/divergences/fuzz-7f3a-000113.json --mode step');
    expect(cases.some((c) => c.attrs.name === XSS_SIGNATURE)).toBe(true); // escaped, then read back intact
  });

  it('summarises the passing tests, and lists crashes and suppressions with their reasons', () => {
    const cases = findAll(root, 'testcase');
    expect(cases.find((c) => c.attrs.classname === 'difftest.campaign')!.attrs.name).toBe('128346 non-divergent tests (seed 0x5eed)');
    const crash = cases.find((c) => c.attrs.classname === 'difftest.oracle-crash')!;
    expect(crash.children[0]!.name).toBe('error');
    const skipped = findAll(root, 'skipped')[0]!;
    expect(skipped.attrs.message).toMatch(/^suppressed: BSF with a zero source/);
  });

  it('escapes control characters and quotes', () => {
    expect(xmlEsc('a<b>&"\'\u0001\n')).toBe('a&lt;b&gt;&amp;&quot;&apos;\ufffd&#10;');
    const r = campaignFixture();
    r.oracleCrashes[0]!.message = 'gdb said: "E01" <bad>\u0007 & died';
    expect(() => parseXml(renderJunit(r))).not.toThrow();
  });
});

describe('format helpers', () => {
  it('names differing flags and the masked ones that were ignored', () => {
    const [seed, , bsf] = campaignFixture().divergences;
    expect(flagDiff(seed!)!.flags).toEqual([{ name: 'SF', expected: 1, actual: 0 }]);
    expect(maskedFlagsText(bsf!)).toBe('CF PF AF SF OF (no masked flag differed)');
    const ignored = { ...bsf!, actual: { ...bsf!.actual, rflags: bsf!.expected.rflags ^ 0x801n } };
    expect(maskedFlagsText(ignored)).toBe('CF PF AF SF OF (differed and ignored: CF OF)');
    expect(registerDiffs(seed!)[0]).toMatchObject({ label: 'R13', span: '63..44' });
  });
});
