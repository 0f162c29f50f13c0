import { readCaseFile, type Case } from '../../corpus/case-schema.js';
import type { CampaignResult, DivergenceReport, WhoseBug } from '../campaign-result.js';
import { ThirdOpinion, type ThirdOpinionOptions } from './triangulate.js';

/**
 * Every divergence of a campaign result gets a whose-bug verdict, at the cost of one host run per
 * root-cause group: the group's minimized (analyzed) case is judged, and every signature of the
 * group carries that verdict (saying it came from there). Divergences in no analyzed group
 * (suppressed groups, groups the analysis budget did not reach) are judged on their own case. Where the host cannot run cases at all, each gets `none` with the reason.
 */
export async function addWhoseBug(result: CampaignResult, options: ThirdOpinionOptions = {}): Promise<CampaignResult> {
  if (!result.divergences.length) return result;
  const opinion = await ThirdOpinion.open(options);
  if ('unavailable' in opinion) {
    const w: WhoseBug = { verdict: 'none', reason: `no third opinion: the host cannot run cases here (${opinion.unavailable})`, fields: [], hostAlsoDiffers: [] };
    return { ...result, divergences: result.divergences.map((d) => ({ ...d, whoseBug: w })), groups: result.groups.map((g) => ({ ...g, whoseBug: w })) };
  }
  try {
    const bySignature = new Map(result.divergences.map((d) => [d.signature, d]));
    const verdicts = new Map<string, WhoseBug>();
    const groups = [];
    for (const g of result.groups) {
      // a group with a minimized (analyzed) case: one run, and its signatures share the verdict;
      // one without (suppressed, or not analyzed in time) may mix causes: each signature's own case
      const subject = g.analyzed ? bySignature.get(g.analyzed) : undefined;
      if (!subject) {
        groups.push(g);
        continue;
      }
      const w = await judgeReport(opinion, subject);
      groups.push({ ...g, whoseBug: w });
      const from = `group ${g.id}'s ${subject.minimization ? 'minimized ' : ''}case`;
      for (const s of g.signatures) verdicts.set(s, s === subject.signature ? w : { ...w, ms: undefined, from });
    }
    const divergences: DivergenceReport[] = [];
    for (const d of result.divergences) divergences.push({ ...d, whoseBug: verdicts.get(d.signature) ?? (await judgeReport(opinion, d)) });
    return { ...result, divergences, groups };
  } finally {
    await opinion.close();
  }
}

async function judgeReport(opinion: ThirdOpinion, d: DivergenceReport): Promise<WhoseBug> {
  if (!d.caseFile) return { verdict: 'none', reason: 'no third opinion: the divergence has no saved case to run', fields: [], hostAlsoDiffers: [] };
  let c: Case;
  try {
    c = await readCaseFile(d.caseFile);
  } catch (err) {
    return { verdict: 'none', reason: `no third opinion: ${(err as Error).message}`, fields: [], hostAlsoDiffers: [] };
  }
  try {
    return await opinion.judge(c, d);
  } catch (err) {
    return { verdict: 'none', reason: `no third opinion: the host run failed (${(err as Error).message.split('\n')[0]})`, fields: [], hostAlsoDiffers: [] };
  }
}
