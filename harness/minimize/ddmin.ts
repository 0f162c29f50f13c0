/**
 * Zeller's delta debugging (ddmin, "Simplifying and Isolating Failure-Inducing Input", TSE 2002)
 * over any list. Generic on purpose: the minimizer runs it over instructions, registers, memory
 * chunks and the set bits of a value.
 */

/** Decides whether a subset (in the original order) still shows the failure. */
export type SubsetTest<T> = (subset: readonly T[]) => Promise<boolean>;

export interface DdminOptions {
  /** Most calls to `test` this run may make; when reached, the best subset so far is returned. */
  readonly budget?: number;
  /** Also try the empty list once the result is down to one element (ddmin proper assumes it passes). */
  readonly tryEmpty?: boolean;
}

export interface DdminResult<T> {
  /** The smallest failing subset found, in the original order (1-minimal unless `exhausted`). */
  readonly items: T[];
  /** Calls made to `test` (repeated subsets are answered from a cache and not counted). */
  readonly calls: number;
  /** The budget ran out before the result was known to be 1-minimal. */
  readonly exhausted: boolean;
}

/**
 * Reduce `items` (which must fail `test` — it is not re-checked) to a 1-minimal failing subset:
 * removing any single element of the result makes `test` pass.
 */
export async function ddmin<T>(items: readonly T[], test: SubsetTest<T>, options: DdminOptions = {}): Promise<DdminResult<T>> {
  const budget = options.budget ?? Number.POSITIVE_INFINITY;
  // Work on indices so that equal elements stay distinct and subsets have a cheap cache key.
  let current = items.map((_, i) => i);
  const cache = new Map<string, boolean>();
  let calls = 0;
  let exhausted = false;

  const fails = async (subset: number[]): Promise<boolean> => {
    const key = subset.join(',');
    const known = cache.get(key);
    if (known !== undefined) return known;
    if (calls >= budget) {
      exhausted = true;
      return false;
    }
    calls++;
    const result = await test(subset.map((i) => items[i]!));
    cache.set(key, result);
    return result;
  };

  let granularity = 2;
  while (current.length >= 2 && !exhausted) {
    const chunks = split(current, granularity);
    let reduced = false;
    // Reduce to a subset: one chunk alone may already fail.
    for (const chunk of chunks) {
      if (await fails(chunk)) {
        current = chunk;
        granularity = 2;
        reduced = true;
        break;
      }
    }
    // Reduce to a complement: drop one chunk. With two chunks the complements are the chunks
    // themselves, already tried.
    if (!reduced && granularity > 2) {
      for (let i = 0; i < chunks.length; i++) {
        const complement = chunks.filter((_, j) => j !== i).flat();
        if (await fails(complement)) {
          current = complement;
          granularity = Math.max(granularity - 1, 2);
          reduced = true;
          break;
        }
      }
    }
    if (!reduced) {
      if (granularity >= current.length) break; // every single element is needed: 1-minimal
      granularity = Math.min(granularity * 2, current.length);
    }
  }
  if (options.tryEmpty && current.length === 1 && !exhausted && (await fails([]))) current = [];
  return { items: current.map((i) => items[i]!), calls, exhausted };
}

/** `list` cut into `n` nearly equal consecutive chunks (the first ones one longer when uneven). */
function split(list: number[], n: number): number[][] {
  const out: number[][] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    const size = Math.floor(list.length / n) + (i < list.length % n ? 1 : 0);
    out.push(list.slice(start, start + size));
    start += size;
  }
  return out.filter((c) => c.length > 0);
}
