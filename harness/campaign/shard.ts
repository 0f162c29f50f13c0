import { UsageError } from '../../util/errors.js';

/**
 * One of n parts of a seeded campaign (`--shard k/n`, k from 1). Case i belongs to shard
 * (i mod n) + 1: interleaved rather than in blocks, so that the shards of a timed campaign, which
 * run until their time is up and so have no known end, together cover a near-contiguous prefix of
 * the case sequence; for a counted one the n shards together are exactly cases 0..count-1.
 */
export interface Shard {
  /** 1-based. */
  readonly index: number;
  readonly count: number;
}

/** Beyond this a shard holds too few cases to be worth a machine; it also keeps typos out. */
export const MAX_SHARDS = 1024;

export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || count > MAX_SHARDS || index < 1 || index > count) {
    throw new UsageError(`--shard '${text}' must be K/N with 1 <= K <= N <= ${MAX_SHARDS} (e.g. --shard 1/2 and --shard 2/2)`);
  }
  return { index, count };
}

/** How many of cases 0..total-1 the shard runs. */
export function shardCaseCount(total: number, shard: Shard): number {
  const first = shard.index - 1;
  return total <= first ? 0 : Math.floor((total - 1 - first) / shard.count) + 1;
}

/** The campaign-wide index of the shard's local-th case (local counts from 0). */
export function shardCaseIndex(local: number, shard: Shard): number {
  return shard.index - 1 + local * shard.count;
}

export function describeShard(shard: Shard): string {
  return `shard ${shard.index}/${shard.count}`;
}
