/**
 * The explore machine on a gdb target (QEMU): stage a batch of candidates, run the guest runner
 * over all of them in one `continue`, and read back their checksums (16 bytes each); full
 * records only for the candidates whose checksum differs from the emulator's.
 */
import type { ExecutionTarget } from '../../contracts/execution-target.js';
import type { MemoryRegion } from '../../contracts/machine-state.js';
import { CTRL, EXPLORE, RECORD_BYTES } from './explore-layout.js';
import type { ExploreProgram } from './explore-runner.js';

/** A batch that did not reach its end: the target stopped elsewhere. */
export class GuestExploreError extends Error {}

/** Wall-clock allowance per candidate for the runner (generous: a loaded machine, a cold translation cache). */
const INSTRUCTIONS_PER_CANDIDATE = 5000;

export class GuestExplorer {
  private loaded = false;
  private serial = 0n;

  constructor(
    readonly target: ExecutionTarget,
    private readonly program: ExploreProgram,
  ) {}

  /** Run `candidates` (at most EXPLORE.maxCandidates) and return their checksums, 16 bytes each. */
  async run(candidates: readonly Uint8Array[]): Promise<Uint8Array> {
    const count = candidates.length;
    if (count === 0 || count > EXPLORE.maxCandidates) throw new RangeError(`a batch holds 1 to ${EXPLORE.maxCandidates} candidates, not ${count}`);
    const descs = new Uint8Array(count * 16);
    candidates.forEach((c, i) => {
      descs[i * 16] = c.length;
      descs.set(c, i * 16 + 1);
    });
    const ctrl = new Uint8Array(0x18);
    const view = new DataView(ctrl.buffer);
    view.setBigUint64(CTRL.index, 0n, true);
    view.setBigUint64(CTRL.count, BigInt(count), true);
    view.setBigUint64(CTRL.serial, ++this.serial, true);
    const writes: MemoryRegion[] = [{ addr: EXPLORE.ctrl, bytes: ctrl }, { addr: EXPLORE.descs, bytes: descs }];
    const t = this.target;
    await t.reset(this.program.state, this.loaded ? [this.program.gateway, ...writes] : [...this.program.system, ...writes]);
    this.loaded = true;
    const stop = await t.runUntil([this.program.done], count * INSTRUCTIONS_PER_CANDIDATE);
    if (stop.kind !== 'breakpoint' || stop.rip !== this.program.done) {
      this.loaded = false;
      t.resetCpuOnNextLoad?.();
      const index = await t.readMemory(EXPLORE.ctrl, 8, 'phys').then((b) => new DataView(b.buffer, b.byteOffset).getBigUint64(0, true)).catch(() => undefined);
      throw new GuestExploreError(`${t.name} stopped in an explore batch (${stop.kind}${'rip' in stop ? ` at 0x${stop.rip.toString(16)}` : ''}) at candidate ${index ?? '?'} of ${count}`);
    }
    return t.readMemory(EXPLORE.digests, count * 16, 'phys');
  }

  /** The full record of candidate `index` of the last batch. */
  async record(index: number): Promise<Uint8Array> {
    return this.records(index, 1);
  }

  /** `count` consecutive records from candidate `first` of the last batch. */
  async records(first: number, count: number): Promise<Uint8Array> {
    return this.target.readMemory(EXPLORE.records + BigInt(first * RECORD_BYTES), count * RECORD_BYTES, 'phys');
  }
}
