/**
 * `difftest explore`: walk the encoding space (space.ts seeds, tunnel.ts walk) on QEMU and the
 * emulator and collect where they disagree.
 *
 * The walk's next candidate depends on the outcome of the last, on both sides (a byte is skipped
 * through only when both agree it is boring), but a gdb round trip costs ~1.5 ms against ~10 µs
 * per candidate inside a batch. So the walk runs ahead speculatively: it advances with the
 * emulator's outcome (run in-process) and a prediction of QEMU's (the emulator's, or QEMU's last
 * different answer to the same emulator outcome at the same depth), stages the stretch in a
 * batch, and rewinds to the first candidate whose QEMU outcome was mispredicted (the rest of its
 * stretch is discarded, uncounted). Mispredictions come in runs where the sides disagree, so many
 * walks share each batch: every opcode value of every seed is a walk of its own (the tunnel comes
 * back to the opcode byte only to step to the next value), a worker keeps up to ACTIVE_WALKS of
 * them going, and a misprediction costs only its own walk's stretch. Candidates are independent
 * (each starts from the same registers, memory and x87/SSE state): discarded ones leave nothing.
 */
import type { ExecutionTarget } from '../../contracts/execution-target.js';
import { EmulatorTarget } from '../../emulator/emulator-target.js';
import type { CpuModel } from '../../emulator/cpu/cpu-model.js';
import { REC, RECORD_BYTES } from './explore-layout.js';
import { exploreProgram } from './explore-runner.js';
import { Findings, instructionInfo } from './findings.js';
import { GuestExplorer } from './guest-explore.js';
import { NativeExplorer, STOP_VECTORS } from './native-explore.js';
import { compareRecords, walkOutcome } from './outcome.js';
import type { SpaceSeed } from './space.js';
import { NEEDS_MORE, Tunnel, type TunnelCounts, type TunnelOptions } from './tunnel.js';

export interface ExploreOptions {
  readonly seeds: readonly SpaceSeed[];
  /** Start a QEMU (one per worker, and again after one dies); the explorer closes them. */
  readonly launchOracle: () => Promise<ExecutionTarget & { close(): Promise<void> }>;
  readonly workers: number;
  readonly model: CpuModel;
  /** Start no batch after this time (Date.now() milliseconds). */
  readonly deadline?: number;
  /** Most candidates per gdb round trip (default 512, at most EXPLORE.maxCandidates). */
  readonly batch?: number;
  readonly tunnel?: TunnelOptions;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: ExploreProgress) => void;
  /** Each candidate the walk kept, with both sides' walk outcomes (tests, tracing). */
  readonly onCandidate?: (c: WalkedCandidate) => void;
}

export interface WalkedCandidate {
  readonly seed: SpaceSeed;
  readonly bytes: Uint8Array;
  readonly qemu: string;
  readonly emulator: string;
}

export interface SeedCoverage {
  readonly id: string;
  readonly map: string;
  readonly prefixClass: string;
  /** Opcode values the seed's walk covers (256 minus those left to other seeds, or the --opcodes range). */
  readonly opcodesInSeed: number;
  /** Opcode values whose walk finished. */
  opcodesDone: number;
  readonly counts: TunnelCounts;
}

export interface ExploreProgress {
  readonly candidates: number;
  readonly disagreements: number;
  /** Opcode walks finished, and in all. */
  readonly walksDone: number;
  readonly walksTotal: number;
  readonly current: string | undefined;
}

export interface ExploreOutcome {
  readonly findings: Findings;
  readonly coverage: SeedCoverage[];
  readonly candidates: number;
  /** Candidates run on both sides but discarded after a misprediction (not in `candidates`). */
  readonly discarded: number;
  readonly batches: number;
  /** Candidates whose records differed only in masked bits (undefined flags, sync rules). */
  readonly maskedAgreements: number;
  readonly masked: Record<string, number>;
  /** Where the time went, summed over workers: the emulator and the walk, QEMU batches (gdb included), comparing records. */
  readonly timing: { emulatorMs: number; oracleMs: number; recordsMs: number };
  /** The budget or a signal ended the run before the space was walked. */
  readonly interrupted: boolean;
  /**
   * Candidates QEMU died on (found by bisecting the batch it died in), with what it said, and how
   * many candidates of the same form (crashFamily; the culprit's own later runs included) were
   * then not sent but presumed to kill it as well.
   */
  readonly oracleCrashes: Array<{ readonly bytes: string; readonly seed: string; readonly message: string; readonly presumedAlike: number }>;
  /** Workers that gave up (QEMU kept failing): what ended them. */
  readonly workerErrors: string[];
  /** The QEMU version and CPU model, from the first one started. */
  readonly oracleInfo?: { readonly implementation: string; readonly cpuModel: string };
}

/** One opcode value of one seed: a walk of its own. */
interface Walk {
  readonly seed: SpaceSeed;
  readonly coverage: SeedCoverage;
  tunnel: Tunnel;
  /** QEMU's outcome where it last differed from the emulator's, by `emulator outcome @ depth`. */
  readonly differing: Map<string, string>;
  /** Candidates to speculate next round: doubles while predictions hold, halves on a miss. */
  size: number;
}

interface Speculated {
  readonly bytes: Uint8Array;
  readonly emu: Uint32Array;
  readonly emuDigest: Uint32Array;
  readonly emuOutcome: string;
  readonly predicted: string;
  /** The walk before this candidate. */
  readonly before: Tunnel;
}

/** Walks a worker keeps going at once. */
const ACTIVE_WALKS = 48;
const MIN_STRETCH = 4;
const MAX_STRETCH = 256;
const DEFAULT_BATCH = 512;
/** QEMU restarts a worker allows itself before it gives up (isolating one culprit takes about ten). */
const MAX_RESTARTS = 1000;

const oneLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');

/**
 * A candidate's form, for crashes: its bytes up to the ModRM byte, with the ModRM's r/m field
 * masked. QEMU 7.2 dies on every register of a form (LOCK BT r/m, reg with a register operand:
 * tcg fatal error), and bisecting a batch costs about ten QEMU restarts per culprit, so one
 * culprit stands for the eight r/m values of its form; the reg field (an opcode extension in
 * group opcodes) is kept.
 */
function crashFamily(bytes: Uint8Array, seed: SpaceSeed): string {
  const modrmAt = seed.fixed.length + 1;
  const head = Buffer.from(bytes.subarray(0, Math.min(bytes.length, modrmAt + 1)));
  if (head.length > modrmAt) head[modrmAt] = head[modrmAt]! & 0xf8;
  return `${head.toString('hex')}/${bytes.length > modrmAt ? 'm' : ''}`;
}

/** The QEMU record of a candidate it died on. */
function crashRecord(): Uint32Array {
  const words = new Uint32Array(RECORD_BYTES / 4);
  words[2 * REC.vector] = STOP_VECTORS.crash;
  return words;
}

const combine = (qemu: string, emu: string) => (qemu === NEEDS_MORE || emu === NEEDS_MORE ? NEEDS_MORE : `${qemu}/${emu}`);
const predictionKey = (emuOutcome: string, depth: number) => `${emuOutcome}@${depth}`;
const zeroCounts = (): TunnelCounts => ({ candidates: 0, opcodes: 0, tailTried: 0, tailSkipped: 0 });

function addCounts(to: TunnelCounts, from: TunnelCounts): void {
  to.candidates += from.candidates;
  to.opcodes += from.opcodes;
  to.tailTried += from.tailTried;
  to.tailSkipped += from.tailSkipped;
}

/** Records read one by one up to this many differing candidates in a batch; more, and the span holding them is read at once. */
const SINGLE_READS = 8;

/** QEMU's records of the candidates whose checksum differs from the emulator's, by batch index. */
async function mismatchedRecords(guest: { records(first: number, count: number): Promise<Uint8Array> }, items: readonly Speculated[], digests: Uint32Array): Promise<Map<number, Uint32Array>> {
  const differ: number[] = [];
  items.forEach((s, i) => {
    if (!s.emuDigest.every((w, k) => w === digests[i * 4 + k])) differ.push(i);
  });
  const out = new Map<number, Uint32Array>();
  if (differ.length <= SINGLE_READS) {
    for (const i of differ) out.set(i, new Uint32Array((await guest.records(i, 1)).slice().buffer));
    return out;
  }
  const first = differ[0]!;
  const span = await guest.records(first, differ[differ.length - 1]! - first + 1);
  for (const i of differ) out.set(i, new Uint32Array(span.slice((i - first) * RECORD_BYTES, (i - first + 1) * RECORD_BYTES).buffer));
  return out;
}

/**
 * RFLAGS bits that never appear in 64-bit mode. QEMU 7.2 lets a 32-bit IRET at CPL 3 with VM set
 * in the popped EFLAGS "return to virtual-8086 mode" (seg_helper.c helper_ret_protected checks
 * VM before it checks the mode or the CPL; the SDM's IA-32e IRET has no such path), and VIP then
 * survives the runner's IRETQ at CPL 0, whose frame has it clear: every record
 * after such a candidate would differ.
 */
const IMPOSSIBLE_FLAGS = 0x20000 | 0x80000 | 0x100000; // VM, VIF, VIP

/** Index of the first QEMU record whose candidate left QEMU in a state the runner cannot undo, or Infinity. */
function taintedFrom(records: ReadonlyMap<number, Uint32Array>): number {
  let first = Infinity;
  for (const [i, q] of records) if (q[2 * REC.rflags]! & IMPOSSIBLE_FLAGS && i < first) first = i;
  return first;
}

/** Explore `seeds` with one worker per oracle; the workers share one queue of opcode walks. */
export async function explore(options: ExploreOptions): Promise<ExploreOutcome> {
  const program = await exploreProgram();
  const findings = new Findings(options.model);
  const coverage: SeedCoverage[] = options.seeds.map((s) => {
    const [from, to] = s.opcodes ?? [0, 0xff];
    let n = 0;
    for (let op = from; op <= to; op++) if (!s.excluded?.has(op)) n++;
    return { id: s.id, map: s.map, prefixClass: s.prefixClass, opcodesInSeed: n, opcodesDone: 0, counts: zeroCounts() };
  });
  // every opcode value of every seed, in walk order
  const queue: Array<{ seed: SpaceSeed; coverage: SeedCoverage; opcode: number }> = [];
  options.seeds.forEach((seed, i) => {
    const [from, to] = seed.opcodes ?? [0, 0xff];
    for (let op = from; op <= to; op++) if (!seed.excluded?.has(op)) queue.push({ seed, coverage: coverage[i]!, opcode: op });
  });
  const walksTotal = queue.length;
  let walksDone = 0;
  const stats = { candidates: 0, discarded: 0, batches: 0, maskedAgreements: 0, masked: {} as Record<string, number>, timing: { emulatorMs: 0, oracleMs: 0, recordsMs: 0 } };
  const batchSize = Math.min(options.batch ?? DEFAULT_BATCH, 2048);
  const deadline = options.deadline ?? Infinity;
  let lastProgress = 0;
  let interrupted = false;
  const stopNow = () => options.signal?.aborted === true || Date.now() >= deadline;
  const progress = (force = false) => {
    const now = Date.now();
    if (!options.onProgress || (!force && now - lastProgress < 1000)) return;
    lastProgress = now;
    options.onProgress({ candidates: stats.candidates, disagreements: findings.total, walksDone, walksTotal, current: queue[0]?.seed.id });
  };

  function finish(w: Walk): void {
    addCounts(w.coverage.counts, w.tunnel.counts);
    if (w.tunnel.done) {
      w.coverage.opcodesDone++;
      walksDone++;
    }
  }

  /** Forms (crashFamily) of candidates that kill QEMU → what it said, shared by the workers: never sent again. */
  const crashing = new Map<string, string>();
  const presumed = new Map<string, number>();
  const oracleCrashes: ExploreOutcome['oracleCrashes'] = [];
  const workerErrors: string[] = [];
  let oracleInfo: ExploreOutcome['oracleInfo'];

  /** One QEMU, restarted when it dies; bisects a batch it died in down to the candidate. */
  class Oracle {
    private target: (ExecutionTarget & { close(): Promise<void> }) | undefined;
    private guest: GuestExplorer | undefined;
    private restarts = 0;

    async run(candidates: readonly Uint8Array[]): Promise<Uint32Array> {
      const guest = await this.ensure();
      return new Uint32Array((await guest.run(candidates)).slice().buffer);
    }

    async records(first: number, count: number): Promise<Uint8Array> {
      return (await this.ensure()).records(first, count);
    }

    /**
     * After `run` threw on `candidates`: restart, find the candidate QEMU dies on, and remember it.
     * False when the run was stopped meanwhile: a Ctrl-C kills QEMU too (same process group),
     * and node may see the dead connection before the signal, so nothing is concluded then.
     */
    async isolate(candidates: readonly Uint8Array[], seeds: readonly SpaceSeed[], err: unknown): Promise<boolean> {
      await this.restart(err);
      let lo = 0;
      let hi = candidates.length;
      let message = oneLine(err);
      while (hi - lo > 1) {
        if (stopNow()) return false;
        const mid = (lo + hi) >> 1;
        const failure = await this.fails(candidates.slice(lo, mid));
        if (failure) {
          hi = mid;
          message = failure;
        } else {
          lo = mid;
        }
      }
      const alone = await this.fails([candidates[lo]!]);
      if (stopNow()) return false;
      const hex = Buffer.from(candidates[lo]!).toString('hex');
      const said = alone ?? `${message} (in a batch; not again when run alone)`;
      crashing.set(crashFamily(candidates[lo]!, seeds[lo]!), said);
      oracleCrashes.push({ bytes: hex.replace(/(..)(?!$)/g, '$1 '), seed: seeds[lo]!.id, message: said, presumedAlike: 0 });
      return true;
    }

    async close(): Promise<void> {
      await this.target?.close().catch(() => undefined);
      this.target = undefined;
    }

    private async fails(candidates: readonly Uint8Array[]): Promise<string | undefined> {
      try {
        await this.run(candidates);
        return undefined;
      } catch (err) {
        await this.restart(err);
        return oneLine(err);
      }
    }

    private async restart(err: unknown): Promise<void> {
      if (++this.restarts > MAX_RESTARTS) throw new Error(`QEMU failed ${MAX_RESTARTS} times; the last: ${oneLine(err)}`);
      await this.close();
    }

    private async ensure(): Promise<GuestExplorer> {
      if (!this.target || !this.guest) {
        this.target = await options.launchOracle();
        this.guest = new GuestExplorer(this.target, program);
        oracleInfo ??= this.target.info();
      }
      return this.guest;
    }
  }

  async function worker(): Promise<void> {
    const emulator = new EmulatorTarget({ model: options.model, ramBytes: 8 << 20 });
    const native = await NativeExplorer.create(emulator, program);
    const oracle = new Oracle();
    let active: Walk[] = [];
    try {
      for (;;) {
        while (active.length < ACTIVE_WALKS && queue.length > 0) {
          const next = queue.shift()!;
          const tunnel = new Tunnel({ ...next.seed, opcodes: [next.opcode, next.opcode] }, options.tunnel);
          active.push({ seed: next.seed, coverage: next.coverage, tunnel, differing: new Map(), size: MIN_STRETCH });
        }
        if (active.length === 0) return;
        if (stopNow()) {
          interrupted = true;
          return;
        }
        // each walk's stretch, until the batch is full
        const t0 = performance.now();
        const stretches: Array<{ walk: Walk; ahead: Tunnel; items: Speculated[] }> = [];
        let total = 0;
        for (const walk of active) {
          if (total >= batchSize) break;
          const ahead = walk.tunnel.clone();
          const items: Speculated[] = [];
          const depthBase = walk.seed.fixed.length;
          while (items.length < walk.size && total < batchSize && !ahead.done) {
            const bytes = ahead.current();
            const rec = native.run(bytes);
            if (rec.broken) await native.recover();
            const emuOutcome = walkOutcome(rec.words, bytes.length);
            const predicted = walk.differing.get(predictionKey(emuOutcome, bytes.length - depthBase)) ?? emuOutcome;
            items.push({ bytes, emu: rec.words, emuDigest: rec.digest, emuOutcome, predicted, before: ahead.clone() });
            ahead.advance(combine(predicted, emuOutcome));
            total++;
          }
          stretches.push({ walk, ahead, items });
        }
        const t1 = performance.now();
        stats.timing.emulatorMs += t1 - t0;
        // candidates known to kill QEMU are not sent again: their QEMU record says so
        const all = stretches.flatMap((st) => st.items.map((item) => ({ item, seed: st.walk.seed })));
        const sent = all.filter(({ item, seed }) => !crashing.has(crashFamily(item.bytes, seed)));
        let digests: Uint32Array;
        try {
          digests = sent.length ? await oracle.run(sent.map(({ item }) => item.bytes)) : new Uint32Array(0);
        } catch (err) {
          if (stopNow() || !(await oracle.isolate(sent.map(({ item }) => item.bytes), sent.map(({ seed }) => seed), err))) {
            interrupted = true;
            return;
          }
          stats.discarded += all.length;
          continue; // the walks stay where they were: the next batch runs their candidates again
        }
        const t2 = performance.now();
        stats.timing.oracleMs += t2 - t1;
        stats.batches++;
        const sentIndex = new Map(sent.map(({ item }, i) => [item, i]));
        const records = await mismatchedRecords(oracle, sent.map(({ item }) => item), digests);
        const taint = taintedFrom(records);
        for (const { walk, ahead, items } of stretches) {
          const depthBase = walk.seed.fixed.length;
          let used = items.length;
          let rewound = false;
          for (let i = 0; i < items.length; i++) {
            const s = items[i]!;
            const at = sentIndex.get(s);
            if (at !== undefined && at > taint) {
              // QEMU ran this one in a state an earlier candidate left behind: run it again next batch
              walk.tunnel = s.before;
              used = i;
              rewound = true;
              break;
            }
            let qemuOutcome = s.emuOutcome;
            if (at === undefined) {
              const family = crashFamily(s.bytes, walk.seed);
              presumed.set(family, (presumed.get(family) ?? 0) + 1);
            }
            const q = at === undefined ? crashRecord() : records.get(at);
            if (q) {
              // a candidate QEMU dies on counts as decoded for the walk, which goes on past it
              qemuOutcome = at === undefined ? 'd' : walkOutcome(q, s.bytes.length);
              const info = instructionInfo(s.bytes);
              const cmp = compareRecords(q, s.emu, s.bytes.length, info);
              if (cmp.kind) findings.add(walk.seed, s.bytes, q, s.emu, cmp, info);
              else stats.maskedAgreements++;
              for (const m of cmp.masked) stats.masked[m] = (stats.masked[m] ?? 0) + 1;
            }
            const key = predictionKey(s.emuOutcome, s.bytes.length - depthBase);
            if (qemuOutcome !== s.emuOutcome) walk.differing.set(key, qemuOutcome);
            else walk.differing.delete(key);
            options.onCandidate?.({ seed: walk.seed, bytes: s.bytes, qemu: qemuOutcome, emulator: s.emuOutcome });
            if (qemuOutcome !== s.predicted) {
              walk.tunnel = s.before;
              walk.tunnel.advance(combine(qemuOutcome, s.emuOutcome));
              used = i + 1;
              rewound = true;
              break;
            }
          }
          if (!rewound) walk.tunnel = ahead;
          walk.size = rewound ? Math.max(MIN_STRETCH, used >> 1) : Math.min(MAX_STRETCH, walk.size * 2);
          stats.candidates += used;
          stats.discarded += items.length - used;
        }
        stats.timing.recordsMs += performance.now() - t2;
        active = active.filter((w) => {
          if (!w.tunnel.done) return true;
          finish(w);
          return false;
        });
        progress();
      }
    } catch (err) {
      workerErrors.push(oneLine(err));
    } finally {
      // walks still going count for what they covered
      for (const w of active) finish(w);
      await oracle.close();
    }
  }

  await Promise.all(Array.from({ length: options.workers }, () => worker()));
  if (queue.length > 0) interrupted = true;
  for (const c of oracleCrashes) {
    const seed = options.seeds.find((x) => x.id === c.seed)!;
    (c as { presumedAlike: number }).presumedAlike = presumed.get(crashFamily(Uint8Array.from(Buffer.from(c.bytes.replace(/ /g, ''), 'hex')), seed)) ?? 0;
  }
  progress(true);
  return { findings, coverage, ...stats, interrupted, oracleCrashes, workerErrors, oracleInfo };
}
