import { describe, expect, it } from 'vitest';
import { CampaignResultSchema, type CampaignResult, type WhoseBug } from '../harness/campaign-result.js';
import { consoleSummary } from './console.js';
import { campaignFixture } from './fixture.js';
import { renderHtml } from './html.js';
import { renderJunit } from './junit.js';
import { renderMarkdown } from './markdown.js';

/** The whose-bug verdict reaches every report format, and result.json keeps it. */
const EMULATOR: WhoseBug = { verdict: 'emulator', reason: 'the host agrees with QEMU on R13', fields: [{ field: 'R13', host: '0xefbed000dc0fcbcf', sides: 'qemu' }], hostAlsoDiffers: [], host: 'AMD EPYC', ms: 3.5 };
const NONE: WhoseBug = { verdict: 'none', reason: 'no third opinion: `hlt` is privileged: it raises #GP at CPL 3, where the host runs cases', fields: [], hostAlsoDiffers: [] };

function judged(): CampaignResult {
  const r = campaignFixture();
  const [g1] = r.groups;
  return {
    ...r,
    groups: r.groups.map((g) => (g === g1 ? { ...g, whoseBug: EMULATOR } : g)),
    divergences: r.divergences.map((d) => ({ ...d, whoseBug: d.group === g1!.id ? EMULATOR : NONE })),
  };
}

describe('whose bug in the reports', () => {
  it('console: the verdict counts, and each group with its verdict and why', () => {
    const lines = consoleSummary(judged());
    expect(lines[2]).toMatch(/^whose bug, by the host CPU as a third opinion: \d+ the emulator's bug, \d+ no third opinion$/);
    expect(lines).toContain("      whose bug: the emulator's bug — the host agrees with QEMU on R13");
    expect(lines.some((l) => l.includes('whose bug: no third opinion — `hlt` is privileged'))).toBe(true);
  });

  it('Markdown: a header row with the cost per group, a column in the tables, a line in the full divergence', () => {
    const md = renderMarkdown(judged());
    expect(md).toContain('| **Whose bug** | host CPU (AMD EPYC) at CPL 3:');
    expect(md).toContain('cost per group G1 3.5 ms');
    expect(md).toMatch(/\| Necessary features \| Whose bug \|/);
    expect(md).toContain("- Whose bug: **the emulator's bug** — the host agrees with QEMU on R13 [AMD EPYC, 3.5 ms]");
  });

  it('HTML and JUnit name it too; result.json round-trips it', () => {
    const r = judged();
    expect(renderHtml(r)).toContain("<b>Whose bug:</b> the emulator&#39;s bug — the host agrees with QEMU on R13");
    expect(renderJunit(r)).toContain('whose bug: the emulator&apos;s bug');
    const back = CampaignResultSchema.decode(JSON.parse(JSON.stringify(CampaignResultSchema.encode(r))));
    expect(back.groups[0]!.whoseBug).toEqual(EMULATOR);
  });
});
