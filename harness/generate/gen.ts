/**
 * Generators defined once, usable two ways: as a fast-check arbitrary (`.arb`, with shrinking, for
 * properties and `fc.sample`) and as a plain draw from fast-check's random source (`.draw`), which
 * skips the per-value Value/context/shrinker bookkeeping of fast-check's combinators.
 *
 * The draw consumes the random source exactly as the arbitrary's `generate` does (same calls in the
 * same order, same bias handling): for a given Random and bias factor both produce the same value
 * (up to the prototype: fc.record sometimes builds null-prototype objects, the draw never does).
 * integer, bigInt, double, boolean, constantFrom, oneof, record, tuple, array, map and chain are
 * re-implemented here following fast-check 4's code (IntegerArbitrary, BigIntArbitrary,
 * BiasNumericRange, double's index map, noBias, ConstantArbitrary, FrequencyArbitrary at depth 0,
 * TupleArbitrary, ArrayArbitrary without slices, MapArbitrary, ChainArbitrary).
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

/**
 * fast-check's bias ranges for an integer range (BiasNumericRange.ts): near zero and near both
 * ends when the range spans zero, otherwise near each end.
 */
function biasRanges<N extends number | bigint>(min: N, max: N, logLike: (v: N) => N, neg: (v: N) => N, add: (a: N, b: N) => N, sub: (a: N, b: N) => N): Array<{ min: N; max: N }> {
  if (min === max) return [{ min, max }];
  const zero = (typeof min === 'bigint' ? 0n : 0) as N;
  if (min < zero && max > zero) {
    const logMin = logLike(neg(min));
    const logMax = logLike(max);
    return [{ min: neg(logMin), max: logMax }, { min: sub(max, logMax), max }, { min, max: add(min, logMin) }];
  }
  const logGap = logLike(sub(max, min));
  const closeToMin = { min, max: add(min, logGap) };
  const closeToMax = { min: sub(max, logGap), max };
  return min < zero ? [closeToMax, closeToMin] : [closeToMin, closeToMax];
}

/** The range IntegerArbitrary / BigIntArbitrary.generate draws from: the whole one, or (1 time in `bias`) a bias range. */
function pickRange<R>(mrng: fc.Random, bias: Bias, whole: R, ranges: readonly R[]): R {
  if (bias === undefined || mrng.nextInt(1, bias) !== 1) return whole;
  if (ranges.length === 1) return ranges[0]!;
  const id = mrng.nextInt(-2 * (ranges.length - 1), ranges.length - 2);
  return id < 0 ? ranges[0]! : ranges[id + 1]!;
}

/** fc.integer, drawn as IntegerArbitrary.generate does (without its Value and the call through the arbitrary). */
class IntegerGen extends Gen<number> {
  private readonly whole: { min: number; max: number };
  private readonly ranges: Array<{ min: number; max: number }>;
  constructor(private readonly constraints: fc.IntegerConstraints) {
    super();
    const min = constraints.min ?? -0x80000000;
    const max = constraints.max ?? 0x7fffffff;
    this.whole = { min, max };
    this.ranges = biasRanges(min, max, (v) => Math.floor(Math.log(v) / Math.log(2)), (v) => -v, (a, b) => a + b, (a, b) => a - b);
  }
  protected buildArb(): fc.Arbitrary<number> {
    return fc.integer(this.constraints);
  }
  draw(mrng: fc.Random, bias: Bias): number {
    const r = pickRange(mrng, bias, this.whole, this.ranges);
    return mrng.nextInt(r.min, r.max);
  }
}

const TWO32 = 0x100000000;

/**
 * A bigint range drawn as pure-rand's uniformBigInt draws it (fast-check's Random.nextBigInt):
 * 32-bit words of the generator (`nextInt(0, 2^32 - 1)` consumes exactly one), rejection
 * sampling over the smallest power of 2^32 covering the range. Every range of at most 2^64
 * values is done on 32-bit words in Number arithmetic, with at most one BigInt made at the end
 * (uniformBigInt makes several per draw, and a draw of a double's bit pattern needs none); a
 * wider range goes through nextBigInt itself.
 */
class BigRange {
  readonly min: bigint;
  readonly max: bigint;
  /** Values in the range, when at most 2^32 (else NaN). */
  private readonly size: number;
  private readonly full64: boolean;
  private readonly minNumber: number;
  /** More than 2^32 values and fewer than 2^64: two words per draw. */
  private readonly twoWords: boolean;
  /** The count D of values, 2^64 - D (below it, value + D does not wrap) and the rejection bound 2^64 - 2^64 mod D, as words. */
  private readonly dHi: number;
  private readonly dLo: number;
  private readonly dApprox: number;
  private readonly tHi: number;
  private readonly tLo: number;
  private readonly mHi: number;
  private readonly mLo: number;
  /** min as words, when 0 <= min < 2^64 (for `drawBits`). */
  private readonly minHi: number;
  private readonly minLo: number;
  /** The offset from min that the last `drawOffset` drew, as words. */
  private kHi = 0;
  private kLo = 0;
  constructor(range: { min: bigint; max: bigint }) {
    this.min = range.min;
    this.max = range.max;
    const diff = range.max - range.min + 1n;
    this.size = diff <= 0x100000000n ? Number(diff) : NaN;
    this.full64 = diff === 1n << 64n;
    this.minNumber = Number.isSafeInteger(Number(range.min)) && BigInt(Number(range.min)) === range.min ? Number(range.min) : NaN;
    this.twoWords = diff > 0x100000000n && diff < 1n << 64n;
    const words = (v: bigint): [number, number] => [Number(v >> 32n), Number(v & 0xffffffffn)];
    const two64 = 1n << 64n;
    [this.dHi, this.dLo] = this.twoWords ? words(diff) : [0, 0];
    this.dApprox = Number(diff);
    [this.tHi, this.tLo] = this.twoWords ? words(two64 - diff) : [0, 0];
    [this.mHi, this.mLo] = this.twoWords ? words(two64 - (two64 % diff)) : [0, 0];
    [this.minHi, this.minLo] = range.min >= 0n && range.min < two64 ? words(range.min) : [NaN, NaN];
  }

  draw(mrng: fc.Random): bigint {
    const size = this.size;
    if (size === size) {
      const k = this.drawSmall(mrng, size);
      const m = this.minNumber;
      return m === m && Number.isSafeInteger(m + k) ? BigInt(m + k) : BigInt(k) + this.min;
    }
    if (this.full64) {
      const hi = mrng.nextInt(0, 0xffffffff);
      const lo = mrng.nextInt(0, 0xffffffff);
      return ((BigInt(hi) << 32n) | BigInt(lo)) + this.min;
    }
    if (!this.twoWords) return mrng.nextBigInt(this.min, this.max);
    this.drawOffset(mrng);
    const kHi = this.kHi;
    if (kHi < 0x200000) {
      const k = kHi * TWO32 + this.kLo;
      const m = this.minNumber;
      return m === m && Number.isSafeInteger(m + k) ? BigInt(m + k) : BigInt(k) + this.min;
    }
    return ((BigInt(kHi) << 32n) | BigInt(this.kLo)) + this.min;
  }

  /**
   * Draw as `draw` does, consuming the same words, into `out` as the value's 64-bit pattern
   * ([low, high] words) without making a BigInt. For ranges of at most 2^64 values inside [0, 2^64).
   */
  drawBits(mrng: fc.Random, out: Uint32Array): void {
    if (this.minHi !== this.minHi || this.max >= 1n << 64n) throw new RangeError('BigRange.drawBits: only ranges inside [0, 2^64)');
    const size = this.size;
    if (size === size) {
      this.kHi = 0;
      this.kLo = this.drawSmall(mrng, size);
    } else if (this.full64) {
      this.kHi = mrng.nextInt(0, 0xffffffff);
      this.kLo = mrng.nextInt(0, 0xffffffff);
    } else this.drawOffset(mrng);
    let lo = this.kLo + this.minLo;
    let hi = this.kHi + this.minHi;
    if (lo >= TWO32) {
      lo -= TWO32;
      hi += 1;
    }
    out[0] = lo;
    out[1] = hi;
  }

  /** uniformBigInt's one-word case: an offset in [0, size). */
  private drawSmall(mrng: fc.Random, size: number): number {
    let v = mrng.nextInt(0, 0xffffffff);
    if (v >= size && v + size >= TWO32) {
      const maxAccepted = TWO32 - (TWO32 % size);
      while (v >= maxAccepted) v = mrng.nextInt(0, 0xffffffff);
    }
    return v < size ? v : v % size;
  }

  /**
   * uniformBigInt's two-word case on words: value = hi·2^32 + lo (the high word drawn first);
   * below D it is the offset, below 2^64 - D its remainder mod D, else it is drawn again while
   * at or above 2^64 - 2^64 mod D. Sets kHi/kLo.
   */
  private drawOffset(mrng: fc.Random): void {
    let h = mrng.nextInt(0, 0xffffffff);
    let l = mrng.nextInt(0, 0xffffffff);
    const dHi = this.dHi;
    const dLo = this.dLo;
    if (h < dHi || (h === dHi && l < dLo)) {
      this.kHi = h;
      this.kLo = l;
      return;
    }
    if (!(h < this.tHi || (h === this.tHi && l < this.tLo))) {
      while (!(h < this.mHi || (h === this.mHi && l < this.mLo))) {
        h = mrng.nextInt(0, 0xffffffff);
        l = mrng.nextInt(0, 0xffffffff);
      }
    }
    // value mod D: q estimated in doubles (within one of the quotient, which is below 2^32),
    // q·D subtracted exactly on words, then corrected
    const q = Math.floor((h * TWO32 + l) / this.dApprox);
    const qLow = q % 0x10000;
    const qHigh = (q - qLow) / 0x10000;
    const a = qLow * dLo; // < 2^48
    const b = qHigh * dLo; // < 2^48
    const bLow = b % 0x10000;
    const mid = a + bLow * 0x10000; // < 2^49
    const pLo = mid % TWO32;
    const pHi = q * dHi + (mid - pLo) / TWO32 + (b - bLow) / 0x10000; // q·D <= value + D < 2^65: exact
    let rLo = l - pLo;
    let rHi = h - pHi;
    if (rLo < 0) {
      rLo += TWO32;
      rHi -= 1;
    }
    while (rHi < 0) {
      rLo += dLo;
      rHi += dHi;
      if (rLo >= TWO32) {
        rLo -= TWO32;
        rHi += 1;
      }
    }
    while (rHi > dHi || (rHi === dHi && rLo >= dLo)) {
      rLo -= dLo;
      rHi -= dHi;
      if (rLo < 0) {
        rLo += TWO32;
        rHi -= 1;
      }
    }
    this.kHi = rHi;
    this.kLo = rLo;
  }
}

/** fc.bigInt({min, max}), drawn as BigIntArbitrary.generate does (its bias ranges computed once, not per draw). */
class BigIntGen extends Gen<bigint> {
  private readonly whole: BigRange;
  private readonly ranges: BigRange[];
  constructor(private readonly constraints: { min: bigint; max: bigint }) {
    super();
    this.whole = new BigRange(constraints);
    this.ranges = biasRanges(constraints.min, constraints.max, (v) => (v === 0n ? 0n : BigInt(String(v).length)), (v) => -v, (a, b) => a + b, (a, b) => a - b).map(
      (r) => new BigRange(r),
    );
  }
  protected buildArb(): fc.Arbitrary<bigint> {
    return fc.bigInt(this.constraints);
  }
  draw(mrng: fc.Random, bias: Bias): bigint {
    return pickRange(mrng, bias, this.whole, this.ranges).draw(mrng);
  }
  /** `draw` as a 64-bit pattern in `out` ([low, high]), for ranges inside [0, 2^64). */
  drawBits(mrng: fc.Random, bias: Bias, out: Uint32Array): void {
    pickRange(mrng, bias, this.whole, this.ranges).drawBits(mrng, out);
  }
}

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);
const u32 = new Uint32Array(f64.buffer);
function bitsOfDouble(d: number): bigint {
  f64[0] = d;
  return u64[0]!;
}

/**
 * fc.double({min, max, noNaN: true}) for 0 <= min <= max < Infinity: fast-check draws an index
 * between the bounds' indices (a bigInt, biased like one) and maps it to a double; for such
 * doubles the index is the IEEE-754 bit pattern, so the map is a reinterpretation.
 */
class UnitDoubleGen extends Gen<number> {
  private readonly index: BigIntGen;
  constructor(private readonly constraints: { min: number; max: number; noNaN: true }) {
    super();
    if (!(constraints.min >= 0 && constraints.max >= constraints.min && constraints.max < Infinity) || Object.is(constraints.min, -0)) {
      throw new RangeError('G.double: only 0 <= min <= max < Infinity');
    }
    this.index = new BigIntGen({ min: bitsOfDouble(constraints.min), max: bitsOfDouble(constraints.max) });
  }
  protected buildArb(): fc.Arbitrary<number> {
    return fc.double(this.constraints);
  }
  draw(mrng: fc.Random, bias: Bias): number {
    // little-endian words of the bit pattern, written straight into the double
    this.index.drawBits(mrng, bias, u32);
    return f64[0]!;
  }
}

/** fc.boolean(): noBias(integer 0..1), so one unbiased draw. */
class BooleanGen extends Gen<boolean> {
  protected buildArb(): fc.Arbitrary<boolean> {
    return fc.boolean();
  }
  draw(mrng: fc.Random): boolean {
    return mrng.nextInt(0, 1) === 1;
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

/**
 * fc.array, drawn as ArrayArbitrary.generate does without custom slices: the length (unbiased,
 * from the generated range, or 1 time in bias² from the short biased range), then the items,
 * biased unless the length was drawn from the whole range on the first toss. The generated
 * range ends at fast-check's default size ('small': 2·minLength + 10) capped by maxLength;
 * arrays with any other size setting (their own, or fc.configureGlobal's) are left to fast-check.
 */
class ArrayGen<T> extends Gen<T[]> {
  /** fast-check itself, items drawn fast, when the sizes are not the default ones. */
  private readonly delegate: fc.Arbitrary<T[]> | undefined;
  private readonly minLength: number;
  private readonly maxGenerated: number;
  private readonly maxBiased: number;
  constructor(private readonly item: Gen<T>, private readonly constraints: fc.ArrayConstraints) {
    super();
    const global = fc.readConfigureGlobal();
    const plain = constraints.size === undefined && constraints.depthIdentifier === undefined
      && global.baseSize === undefined && global.defaultSizeToMaxWhenMaxSpecified === undefined;
    this.delegate = plain ? undefined : fc.array(item.fastArbitrary(), constraints);
    this.minLength = constraints.minLength ?? 0;
    // fast-check: maxLengthFromMinLength(minLength, 'small'), capped (MaxLengthUpperBound when unset)
    this.maxGenerated = Math.min(2 * this.minLength + 10, constraints.maxLength ?? 0x7fffffff);
    // biasedMaxLength
    this.maxBiased = this.minLength === this.maxGenerated ? this.minLength : this.minLength + Math.floor(Math.log(this.maxGenerated - this.minLength) / Math.log(2));
  }
  protected buildArb(): fc.Arbitrary<T[]> {
    return fc.array(this.item.arb, this.constraints);
  }
  draw(mrng: fc.Random, bias: Bias): T[] {
    if (this.delegate) return this.delegate.generate(mrng, bias).value_;
    const min = this.minLength;
    let length: number;
    let itemBias: Bias;
    if (bias === undefined) length = mrng.nextInt(min, this.maxGenerated);
    else if (min === this.maxGenerated) {
      length = mrng.nextInt(min, this.maxGenerated);
      itemBias = bias;
    } else if (mrng.nextInt(1, bias) !== 1) length = mrng.nextInt(min, this.maxGenerated);
    else if (mrng.nextInt(1, bias) !== 1) {
      length = mrng.nextInt(min, this.maxGenerated);
      itemBias = bias;
    } else {
      length = mrng.nextInt(min, this.maxBiased);
      itemBias = bias;
    }
    const out: T[] = [];
    for (let i = 0; i < length; i++) out.push(this.item.draw(mrng, itemBias));
    return out;
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
  constant: <T>(value: T): Gen<T> => new ConstantGen([value]),
  constantFrom: <T>(...values: T[]): Gen<T> => new ConstantGen(values),
  integer: (c: fc.IntegerConstraints = {}): Gen<number> => new IntegerGen(c),
  bigInt: (c: { min: bigint; max: bigint }): Gen<bigint> => new BigIntGen(c),
  /** A double in [min, max], never NaN (fc.double with noNaN); min >= 0. */
  double: (c: { min: number; max: number; noNaN: true }): Gen<number> => new UnitDoubleGen(c),
  boolean: (): Gen<boolean> => new BooleanGen(),
  oneof: <T>(...options: Weighted<T>[]): Gen<T> => new OneofGen(options.map((o) => (o instanceof Gen ? { weight: 1, gen: o } : o))),
  tuple: <T extends unknown[]>(...gens: { [K in keyof T]: Gen<T[K]> }): Gen<T> => new TupleGen<T>(gens),
  record: <T extends Record<string, unknown>>(model: { [K in keyof T]: Gen<T[K]> }): Gen<T> => new RecordGen<T>(model),
  array: <T>(item: Gen<T>, constraints: fc.ArrayConstraints): Gen<T[]> => new ArrayGen(item, constraints),
};
