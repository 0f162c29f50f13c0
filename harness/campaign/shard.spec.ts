import { describe, expect, it } from 'vitest';
import { parseShard, shardCaseCount, shardCaseIndex } from './shard.js';

describe('shards', () => {
  it('together run each case of a counted campaign exactly once', () => {
    for (const total of [0, 1, 2, 7, 300, 301]) {
      for (const n of [1, 2, 3, 5, 8]) {
        const seen: number[] = [];
        for (let k = 1; k <= n; k++) {
          const shard = { index: k, count: n };
          for (let local = 0; local < shardCaseCount(total, shard); local++) seen.push(shardCaseIndex(local, shard));
        }
        expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i));
      }
    }
  });

  it('are parsed as K/N and refused otherwise, in one line', () => {
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 });
    for (const bad of ['0/2', '3/2', '1/0', '1', 'a/b', '1/2/3', '1/5000']) {
      expect(() => parseShard(bad)).toThrow(/^--shard '.*' must be K\/N with 1 <= K <= N <= 1024/);
    }
  });
});
