/**
 * Generators defined once, usable two ways: as a fast-check arbitrary (`.arb`, with shrinking, for
 * properties and `fc.sample`) and as a plain draw from fast-check's random source (`.draw`), which
 * skips the per-value Value/context/shrinker bookkeeping of fast-check's combinators.
 *
 * The draw consumes the random source exactly as the arbitrary's `generate` does (same calls in the
 * same order, same bias handling): for a given Random and bias factor both produce the same value
 * (up to the prototype: fc.record sometimes builds null-prototype objects, the draw never does).
 * Leaves (integer, bigInt, double, boolean) and arrays delegate to fast-check itself; constantFrom,
 * oneof, record, tuple, map and chain are re-implemented here following fast-check 4's code
 * (ConstantArbitrary, FrequencyArbitrary at depth 0, TupleArbitrary, MapArbitrary, ChainArbitrary).
 * gen.spec.ts checks the equivalence on whole programs.
 */
import fc from 'fast-check';

export type Bias = number | undefined;

export abstract class Gen<T> {
  private cachedArb: fc.Arbitrary<T> | undefined;
  /** The fast-check arbitrary (built on first use). */
  get arb(): fc.Arbitrary<T> {
    return (this.cachedArb ??= this.buildArb());
  }
  protected abstract buildArb(): fc.Arbitrary<T>;
  /** Draw one value from `mrng`, consuming it exactly as `arb.generate(mrng, bias)` would. */
  abstract draw(mrng: fc.Random, bias: Bias): T;

  map<U>(f: (t: T) => U): Gen<U> {
    return new MapGen(this, f);
  }
  /** `f` should return the same (cached) Gen for equal inputs: its arbitrary is built per Gen. */
  chain<U>(f: (t: T) => Gen<U>): Gen<U> {
    return new ChainGen(this, f);
  }
  /** A non-shrinking arbitrary that generates through `draw` (for sampling only). */
  fastArbitrary(): fc.Arbitrary<T> {
    return new DrawArbitrary(this);
  }
}

class DrawArbitrary<T> extends fc.Arbitrary<T> {
  constructor(private readonly g: Gen<T>) {
    super();
  }
  generate(mrng: fc.Random, biasFactor: number | undefined): fc.Value<T> {
    return new fc.Value(this.g.draw(mrng, biasFactor), undefined);
  }
  canShrinkWithoutContext(_value: unknown): _value is T {
    return false;
  }
  shrink(): fc.Stream<fc.Value<T>> {
    return fc.Stream.nil();
  }
}

class LeafGen<T> extends Gen<T> {
  constructor(private readonly leaf: fc.Arbitrary<T>) {
    super();
  }
  protected buildArb(): fc.Arbitrary<T> {
    return this.leaf;
  }
  draw(mrng: fc.Random, bias: Bias): T {
    return this.leaf.generate(mrng, bias).value_;
  }
}

class ConstantGen<T> extends Gen<T> {
  constructor(private readonly values: readonly T[]) {
    super();
    if (values.length === 0) throw new RangeError('constantFrom: no values');
  }
  protected buildArb(): fc.Arbitrary<T> {
    return fc.constantFrom(...this.values);
  }
  draw(mrng: fc.Random): T {
    const v = this.values;
    return v.length === 1 ? v[0]! : v[mrng.nextInt(0, v.length - 1)]!;
  }
}

class OneofGen<T> extends Gen<T> {
  private readonly cumulated: number[] = [];
  private readonly total: number;
  constructor(private readonly options: ReadonlyArray<{ readonly weight: number; readonly gen: Gen<T> }>) {
    super();
    let w = 0;
    for (const o of options) this.cumulated.push((w += o.weight));
    this.total = w;
  }
  protected buildArb(): fc.Arbitrary<T> {
    return fc.oneof(...this.options.map((o) => ({ weight: o.weight, arbitrary: o.gen.arb })));
  }
  draw(mrng: fc.Random, bias: Bias): T {
    // FrequencyArbitrary at depth 0 (no depth identifier, not nested in itself): nextInt(0, total - 1)
    const selected = mrng.nextInt(0, this.total - 1);
    for (let i = 0; i < this.cumulated.length; i++) if (selected < this.cumulated[i]!) return this.options[i]!.gen.draw(mrng, bias);
    throw new Error('oneof: no option selected');
  }
}

class TupleGen<T extends unknown[]> extends Gen<T> {
  constructor(private readonly gens: { [K in keyof T]: Gen<T[K]> }) {
    super();
  }
  protected buildArb(): fc.Arbitrary<T> {
    return fc.tuple(...(this.gens as Gen<unknown>[]).map((g) => g.arb)) as unknown as fc.Arbitrary<T>;
  }
  draw(mrng: fc.Random, bias: Bias): T {
    const gens = this.gens as Gen<unknown>[];
    const out: unknown[] = new Array(gens.length);
    for (let i = 0; i < gens.length; i++) out[i] = gens[i]!.draw(mrng, bias);
    return out as T;
  }
}

class RecordGen<T extends Record<string, unknown>> extends Gen<T> {
  private readonly keys: string[];
  private readonly gens: Gen<unknown>[];
  /** Draws the fields in key order into an object literal (one hidden class; no keyed stores). */
  private readonly build: (gens: Gen<unknown>[], mrng: fc.Random, bias: Bias) => Record<string, unknown>;
  constructor(private readonly model: { [K in keyof T]: Gen<T[K]> }) {
    super();
    this.keys = Object.keys(model);
    this.gens = this.keys.map((k) => (model as Record<string, Gen<unknown>>)[k]!);
    // '__proto__' in a literal would set the prototype (and fc.record treats it apart as well)
    if (this.keys.includes('__proto__')) throw new RangeError("G.record: a '__proto__' key is not supported");
    // object literal properties are evaluated in source order, so the draws happen in key order
    const fields = this.keys.map((k, i) => `${JSON.stringify(k)}: g[${i}].draw(m, b)`).join(', ');
    this.build = new Function('g', 'm', 'b', `return { ${fields} };`) as RecordGen<T>['build'];
  }
  protected buildArb(): fc.Arbitrary<T> {
    const m: Record<string, fc.Arbitrary<unknown>> = {};
    for (let i = 0; i < this.keys.length; i++) m[this.keys[i]!] = this.gens[i]!.arb;
    return fc.record(m) as unknown as fc.Arbitrary<T>;
  }
  draw(mrng: fc.Random, bias: Bias): T {
    const out = this.build(this.gens, mrng, bias);
    // fc.record also draws a boolean (unbiased) choosing a null prototype; consume it, keep a plain object
    mrng.nextInt(0, 1);
    return out as T;
  }
}

class ArrayGen<T> extends Gen<T[]> {
  private readonly fast: fc.Arbitrary<T[]>;
  constructor(private readonly item: Gen<T>, private readonly constraints: fc.ArrayConstraints) {
    super();
    this.fast = fc.array(item.fastArbitrary(), constraints);
  }
  protected buildArb(): fc.Arbitrary<T[]> {
    return fc.array(this.item.arb, this.constraints);
  }
  draw(mrng: fc.Random, bias: Bias): T[] {
    return this.fast.generate(mrng, bias).value_; // fast-check's length logic, items drawn fast
  }
}

class MapGen<S, T> extends Gen<T> {
  constructor(private readonly source: Gen<S>, private readonly f: (s: S) => T) {
    super();
  }
  protected buildArb(): fc.Arbitrary<T> {
    return this.source.arb.map(this.f);
  }
  draw(mrng: fc.Random, bias: Bias): T {
    return this.f(this.source.draw(mrng, bias));
  }
}

class ChainGen<S, T> extends Gen<T> {
  constructor(private readonly source: Gen<S>, private readonly f: (s: S) => Gen<T>) {
    super();
  }
  protected buildArb(): fc.Arbitrary<T> {
    return this.source.arb.chain((s) => this.f(s).arb);
  }
  draw(mrng: fc.Random, bias: Bias): T {
    return this.f(this.source.draw(mrng, bias)).draw(mrng, bias);
  }
}

type Weighted<T> = Gen<T> | { readonly weight: number; readonly gen: Gen<T> };

export const G = {
  leaf: <T>(arb: fc.Arbitrary<T>): Gen<T> => new LeafGen(arb),
  constant: <T>(value: T): Gen<T> => new ConstantGen([value]),
  constantFrom: <T>(...values: T[]): Gen<T> => new ConstantGen(values),
  integer: (c?: fc.IntegerConstraints): Gen<number> => new LeafGen(fc.integer(c)),
  bigInt: (c: fc.BigIntConstraints): Gen<bigint> => new LeafGen(fc.bigInt(c)),
  double: (c: fc.DoubleConstraints): Gen<number> => new LeafGen(fc.double(c)),
  boolean: (): Gen<boolean> => new LeafGen(fc.boolean()),
  oneof: <T>(...options: Weighted<T>[]): Gen<T> => new OneofGen(options.map((o) => (o instanceof Gen ? { weight: 1, gen: o } : o))),
  tuple: <T extends unknown[]>(...gens: { [K in keyof T]: Gen<T[K]> }): Gen<T> => new TupleGen<T>(gens),
  record: <T extends Record<string, unknown>>(model: { [K in keyof T]: Gen<T[K]> }): Gen<T> => new RecordGen<T>(model),
  array: <T>(item: Gen<T>, constraints: fc.ArrayConstraints): Gen<T[]> => new ArrayGen(item, constraints),
};
