/**
 * index.html in a real browser, opened from disk: the filters, sorting, lazy details (gzip path
 * included) and the folder-aware replay commands. Needs Chromium (`apt-get install chromium`);
 * skipped where there is none. A probe page beside the report drives it in an iframe and writes
 * what it saw into its own DOM, which headless Chromium dumps.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manyDivergences } from './fixture.js';
import { writeReport } from './write-report.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(existsSync);

const PROBE = `<!DOCTYPE html><meta charset="utf-8"><body><iframe id="f" src="index.html" width="1400" height="900"></iframe><script>
const f = document.getElementById('f');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
f.onload = async () => {
  const d = f.contentDocument;
  const out = {};
  const visible = () => Array.from(d.querySelectorAll('tr[data-c]')).filter((r) => !r.hidden && !r.closest('details').hidden);
  const set = (id, v) => { const el = d.getElementById(id); el.value = v; el.dispatchEvent(new Event('input', { bubbles: true })); };
  out.controlsShown = !d.getElementById('controls').hidden;
  out.initial = d.getElementById('shown').textContent;
  set('f-m', 'sar');
  out.sar = { shown: d.getElementById('shown').textContent, mnemonics: [...new Set(visible().map((r) => r.dataset.m))] };
  set('f-m', '');
  set('f-f', 'AF');
  out.af = visible().every((r) => r.dataset.f.split(' ').includes('AF')) && visible().length;
  set('f-f', '');
  set('f-g', 'G3');
  out.g3 = Array.from(d.querySelectorAll('details.group')).filter((g) => !g.hidden).map((g) => g.dataset.g);
  set('f-g', '');
  set('sort', 's');
  const first = d.querySelector('details.group');
  const sigs = Array.from(first.querySelectorAll('tr[data-c]')).map((r) => r.children[1].textContent);
  out.sortedBySignature = sigs.join('\\n') === sigs.slice().sort().join('\\n');
  set('sort', 'c');
  const counts = Array.from(first.querySelectorAll('tr[data-c]')).map((r) => Number(r.dataset.c));
  out.sortedByCases = counts.every((c, i) => i === 0 || counts[i - 1] >= c);
  set('gsort', 'o');
  out.groupOrder = Array.from(d.querySelectorAll('.groups')[0].children).map((g) => g.dataset.g).slice(0, 3);
  const row = d.getElementById('d7');
  row.querySelector('button').click();
  await sleep(300);
  const detail = row.nextElementSibling;
  out.detail = detail && detail.classList.contains('detail') ? detail.textContent : null;
  out.expanded = row.querySelector('button').getAttribute('aria-expanded');
  row.querySelector('button').click();
  out.closed = !(row.nextElementSibling && row.nextElementSibling.classList.contains('detail'));
  document.body.setAttribute('data-result', JSON.stringify(out));
};
</script>`;

describe.skipIf(!CHROMIUM)('index.html in Chromium, from disk', () => {
  let dir: string;
  let result: Record<string, unknown>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'difftest report '));
    const r = manyDivergences({ divergences: 300, groups: 12, runDir: dir });
    await writeReport(r, dir);
    await writeFile(join(dir, 'probe.html'), PROBE);
    const dom = execFileSync(
      CHROMIUM!,
      ['--headless', '--no-sandbox', '--disable-gpu', '--allow-file-access-from-files', '--virtual-time-budget=5000', '--dump-dom', `file://${join(dir, 'probe.html')}`],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 },
    );
    const attr = /data-result="([^"]*)"/.exec(dom)?.[1];
    if (!attr) throw new Error(`the probe wrote no result: ${dom.slice(0, 300)}`);
    result = JSON.parse(attr.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')) as Record<string, unknown>;
  }, 90_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('shows its controls and filters rows by instruction, field and group', () => {
    expect(result.controlsShown).toBe(true);
    expect(result.initial).toBe('300 of 300 signatures shown');
    const sar = result.sar as { shown: string; mnemonics: string[] };
    expect(sar.mnemonics).toEqual(['sar']);
    expect(sar.shown).toMatch(/^\d+ of 300 signatures shown$/);
    expect(result.af).toBeGreaterThan(0);
    expect(result.g3).toEqual(['G3']);
  });

  it('sorts signatures within a group, and groups by rank', () => {
    expect(result.sortedBySignature).toBe(true);
    expect(result.sortedByCases).toBe(true);
    expect(result.groupOrder).toEqual(['G1', 'G2', 'G3']);
  });

  it('renders a divergence\'s details when its row is opened (from the gzipped data), with the replay command in this folder', () => {
    const detail = result.detail as string;
    expect(detail).toContain('Program');
    expect(detail).toContain('◀ diverges');
    expect(detail).toContain(`node bin/difftest.mjs replay '${dir}'/cases/`); // the folder has a space: quoted
    expect(result.expanded).toBe('true');
    expect(result.closed).toBe(true);
  });
});
