import { describe, expect, it } from 'vitest';
import { XSS_SIGNATURE, campaignFixture, manyDivergences, ungroupedFixture } from './fixture.js';
import { junitCounts, renderJunit, xmlEsc } from './junit.js';
import { findAll, parseXml, type XmlElement } from './xml-check.js';

const testcases = (root: XmlElement) => findAll(root, 'testcase');
const outcome = (tc: XmlElement) => tc.children[0]?.name ?? 'passed';

describe('junit.xml', () => {
  const xml = renderJunit(campaignFixture());
  const root = parseXml(xml);

  it('is well-formed: one testsuite whose counts match its testcases', () => {
    expect(root.name).toBe('testsuites');
    const suite = findAll(root, 'testsuite');
    expect(suite).toHaveLength(1);
    const cases = testcases(root);
    expect(suite[0]!.attrs).toMatchObject({ tests: '5', failures: '2', errors: '1', skipped: '1' });
    expect(root.attrs).toMatchObject({ tests: '5', failures: '2', errors: '1', skipped: '1' });
    expect(cases.map(outcome).sort()).toEqual(['error', 'failure', 'failure', 'passed', 'skipped']);
    expect(junitCounts(campaignFixture())).toEqual({ tests: 5, failures: 2, errors: 1, skipped: 1 });
  });

  it('has one failing testcase per root-cause group, named by what it is merged on, its message the hypothesis and counts', () => {
    const groups = testcases(root).filter((c) => c.attrs.classname === 'difftest.group');
    expect(groups.map((c) => c.attrs.name)).toEqual(['REX.W + memory source', 'PUSH imm32 sign bit']);
    const g1 = groups[0]!.children[0]!;
    expect(g1.attrs.message).toBe('G1: diverges when a 64-bit ADD reads its source from memory: the upper half of the sum is lost; never with a register source (1 signature, 37 cases)');
    expect(g1.text).toContain('Necessary features: memory operand, REX.W');
    expect(g1.text).toContain('  REX.W: 32-bit: add r13d, [rip+0xffef] → agrees');
    expect(g1.text).toContain('Analyzed: instruction 2 of 2 (add r13, [rip+0xffef] @ 0x000000000001000a): R13 differs in bits 63..44');
    expect(g1.text).toContain('Replay: npx difftest replay corpus/divergences/fuzz-7f3a-000113.json --mode step');
    expect(g1.text).toContain('  37× add r64, m64 [rip-relative] | gpr.r13 rflags: instruction 2 of 2');
    expect(groups[1]!.children[0]!.text).toContain(`4× ${XSS_SIGNATURE}`); // escaped, then read back intact
  });

  it('lists suppressed groups as skipped with their reason, crashes as errors, and the tests that agreed', () => {
    const cases = testcases(root);
    const skipped = cases.find((c) => c.attrs.classname === 'difftest.suppressed-group')!;
    expect(skipped.attrs.name).toBe('BSF source zero');
    expect(skipped.children[0]!.attrs.message).toBe(
      'suppressed: BSF with a zero source leaves the destination undefined (Intel); QEMU keeps it, our emulator zeroes it (1 signature, 12 cases: bsf r64, r64 | gpr.rax (source zero))',
    );
    expect(cases.find((c) => c.attrs.classname === 'difftest.oracle-crash')!.children[0]!.name).toBe('error');
    expect(cases.find((c) => c.attrs.classname === 'difftest.campaign')!.attrs.name).toBe('128346 non-divergent tests (seed 0x5eed)');
  });

  it('names the planted bugs in the suite properties', () => {
    const dut = findAll(root, 'property').find((p) => p.attrs.name === 'dut')!;
    expect(dut.attrs.value).toContain('planted bugs switched on: add64-mem-trunc32');
  });

  it('keeps a testcase per signature for divergences in no group (older results, the regression corpus)', () => {
    const old = parseXml(renderJunit(ungroupedFixture()));
    const cases = testcases(old);
    expect(cases.filter((c) => c.attrs.classname === 'difftest.divergence').map((c) => c.attrs.name)).toEqual([
      'add r64, m64 [rip-relative] | gpr.r13 rflags', XSS_SIGNATURE,
    ]);
    const msg = cases[0]!.children[0]!.attrs.message!;
    expect(msg).toContain('instruction 2 of 2 (add r13, [rip+0xffef] @ 0x000000000001000a) diverges: R13 bits 63..44; RFLAGS SF 1→0');
    expect(msg).toContain('Replay: npx difftest replay corpus/divergences/fuzz-7f3a-000113.json --mode step');
    expect(cases.find((c) => c.attrs.classname === 'difftest.suppressed')!.children[0]!.attrs.message).toMatch(/^suppressed: BSF with a zero source/);
    expect(findAll(old, 'testsuite')[0]!.attrs).toMatchObject({ tests: '5', failures: '2', errors: '1', skipped: '1' });
  });

  it('for 1,000 divergences: 38 group failures and 2 skipped groups, still valid, ~140 KiB', () => {
    const big = renderJunit(manyDivergences({ divergences: 1000 }));
    const tree = parseXml(big);
    expect(findAll(tree, 'testsuite')[0]!.attrs).toMatchObject({ tests: '42', failures: '38', errors: '1', skipped: '2' });
    expect(testcases(tree)).toHaveLength(42);
    // every signature is named in its group's failure text (a CI reader can grep for one)
    const text = findAll(tree, 'failure').map((f) => f.text).join('\n') + findAll(tree, 'skipped').map((s) => s.attrs.message).join('\n');
    for (const d of manyDivergences({ divergences: 1000 }).divergences) expect(text).toContain(d.signature);
    expect(Buffer.byteLength(big)).toBeLessThan(200 * 1024);
  });

  it('escapes control characters and quotes', () => {
    expect(xmlEsc('a<b>&"\'\u0001\n')).toBe('a&lt;b&gt;&amp;&quot;&apos;\ufffd&#10;');
    const r = campaignFixture();
    r.oracleCrashes[0]!.message = 'gdb said: "E01" <bad>\u0007 & died';
    r.groups[0]!.hypothesis = 'a <hypothesis> & "quotes" \u0001';
    expect(() => parseXml(renderJunit(r))).not.toThrow();
  });
});
