import type { CampaignResult, RootCauseGroup, WhoseBug } from '../harness/campaign-result.js';

/**
 * The "whose bug" verdict as every report format words it (console, Markdown, HTML, JUnit): the
 * verdict in a few words, then why.
 */
const VERDICT_WORDS: Record<WhoseBug['verdict'], string> = {
  emulator: "the emulator's bug",
  qemu: "QEMU's bug",
  both: 'both differ from the host',
  none: 'no third opinion',
};

/** `emulator's bug` …, naming another system under test when it is not our emulator. */
export function verdictWords(w: WhoseBug, dutName = 'emulator'): string {
  if (w.verdict === 'emulator' && dutName !== 'emulator' && !dutName.startsWith('emulator+')) return `the system under test's (${dutName}) bug`;
  return VERDICT_WORDS[w.verdict];
}

/** One line: `whose bug: QEMU's bug — the host agrees with the emulator on memory 0x20010 (4 bytes) [AMD EPYC, 0.8 ms; from G1's minimized case]` */
export function whoseBugLine(w: WhoseBug, dutName?: string): string {
  const reason = w.reason.replace(/^no third opinion: /, '');
  const tail = [w.host, w.ms !== undefined ? `${w.ms} ms` : undefined, w.from ? `from ${w.from}` : undefined].filter(Boolean).join(', ');
  return `whose bug: ${verdictWords(w, dutName)} — ${reason}${tail ? ` [${tail}]` : ''}`;
}

/** The third opinion's cost per root-cause group, for the report's summary: `G1 0.8 ms, G2 1.1 ms`. */
export function thirdOpinionCost(groups: readonly RootCauseGroup[]): string | undefined {
  const timed = groups.filter((g) => g.whoseBug?.ms !== undefined);
  if (!timed.length) return undefined;
  const total = timed.reduce((s, g) => s + g.whoseBug!.ms!, 0);
  return `${timed.map((g) => `${g.id} ${g.whoseBug!.ms} ms`).join(', ')} (${Math.round(total * 100) / 100} ms in all)`;
}

/** Verdict counts over the divergences: `2 emulator's bug, 1 QEMU's bug`. */
export function verdictCounts(r: CampaignResult): string | undefined {
  const counts = new Map<WhoseBug['verdict'], number>();
  for (const d of r.divergences) if (d.whoseBug) counts.set(d.whoseBug.verdict, (counts.get(d.whoseBug.verdict) ?? 0) + 1);
  if (!counts.size) return undefined;
  return [...counts].map(([v, n]) => `${n} ${VERDICT_WORDS[v]}`).join(', ');
}

/** A group's verdict in a few words: its own (from its minimized case), else its signatures' tallied; `–` without any. */
export function sectionVerdict(group: RootCauseGroup, divergences: ReadonlyArray<{ readonly whoseBug?: WhoseBug }>, dutName?: string): string {
  if (group.whoseBug) return verdictWords(group.whoseBug, dutName);
  const counts = new Map<string, number>();
  for (const d of divergences) if (d.whoseBug) counts.set(verdictWords(d.whoseBug, dutName), (counts.get(verdictWords(d.whoseBug, dutName)) ?? 0) + 1);
  if (!counts.size) return '–';
  if (counts.size === 1) return [...counts.keys()][0]!;
  return [...counts].map(([w, n]) => `${w} ×${n}`).join(', ');
}

/** The report header's row: the host, the verdict counts and what the third opinion cost per group. */
export function thirdOpinionText(r: CampaignResult): string | undefined {
  const counts = verdictCounts(r);
  if (!counts) return undefined;
  const host = r.divergences.find((d) => d.whoseBug?.host)?.whoseBug?.host;
  const cost = thirdOpinionCost(r.groups);
  return `${host ? `host CPU (${host}) at CPL 3: ` : ''}${counts}${cost ? `; cost per group ${cost}` : ''}`;
}
