/**
 * Replays an export (`difftest export --format singlesteptests`) on any ExecutionTarget: the
 * emulator, QEMU, or an emulator behind a gdb stub. Written as a replayer of another project
 * would be, from the files alone (index.json, machine.json, the test files): nothing here knows
 * how the tests were recorded.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ExecutionTarget } from '../../contracts/execution-target.js';
import type { MachineState, MemoryRegion } from '../../contracts/machine-state.js';
import { initialState } from '../../contracts/test-machine.js';
import { UsageError } from '../../util/errors.js';
import { regsToState, stateToRegs, type Regs } from './registers.js';
import { ramRegions, readBytes } from './ram.js';
import { ExportIndexSchema, MachineFileSchema, REGISTER_NAMES, SingleStepFileSchema, type ExportIndex, type MachineFile, type SingleStepTest } from './single-step-schema.js';

export interface ReplayFailure {
  readonly file: string;
  readonly idx: number;
  readonly name: string;
  /** e.g. `rax: expected 0x1, got 0x2`, `[0x20010]: expected 0x5, got 0x0` */
  readonly differences: readonly string[];
}

export interface ReplaySummary {
  readonly files: number;
  readonly tests: number;
  readonly passed: number;
  readonly failures: readonly ReplayFailure[];
}

async function readJson<T>(file: string, schema: { safeParse(x: unknown): { success: true; data: T } | { success: false; error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> } } }): Promise<T> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); pass the directory difftest export wrote`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: not JSON (${(err as Error).message})`);
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new UsageError(`${file}: not a difftest single-step export file (at ${i.path.map(String).join('.') || '(root)'}: ${i.message}); export it again`);
  }
  return r.data;
}

/** The memory every test starts from: machine.json's regions, zeros elsewhere in the mapped range. */
function machineImage(m: MachineFile): { regions: MemoryRegion[]; byteAt: (a: number) => number } {
  const image = new Uint8Array(m.mapped.to - m.mapped.from);
  for (const r of m.regions) image.set(Buffer.from(r.bytes, 'hex'), r.addr - m.mapped.from);
  return {
    regions: [{ addr: BigInt(m.mapped.from), bytes: image }],
    byteAt: (a) => (a >= m.mapped.from && a < m.mapped.to ? image[a - m.mapped.from]! : 0),
  };
}

function baseState(m: MachineFile): MachineState {
  const s = regsToState(m.regs as Regs, initialState());
  return { ...s, gdtr: { base: BigInt(m.gdtr.base), limit: m.gdtr.limit }, idtr: { base: BigInt(m.idtr.base), limit: m.idtr.limit } };
}

const masked = (value: string, mask: bigint) => BigInt(value) & ~mask;

/** What differs between a test's expected final state and the target's. */
export function compareTest(t: SingleStepTest, actualRegs: Regs, actualRam: ReadonlyMap<number, number>): string[] {
  const out: string[] = [];
  const expected: Regs = { ...t.initial.regs, ...t.final.regs };
  const flagMask = t.undefined_flags !== undefined ? BigInt(t.undefined_flags) : 0n;
  for (const n of REGISTER_NAMES) {
    const e = expected[n];
    const a = actualRegs[n];
    if (e === undefined || a === undefined) continue;
    const mask = n === 'rflags' ? flagMask : 0n;
    if (masked(e, mask) !== masked(a, mask)) out.push(`${n}: expected ${e}, got ${a}`);
  }
  // the RFLAGS an exception pushed: its undefined flags are masked there too
  const flagBytes = t.exception ? t.exception.flag_address : -1;
  for (const [addr, value] of t.final.ram) {
    const got = actualRam.get(addr);
    const off = addr - flagBytes;
    const byteMask = off >= 0 && off < 8 ? Number((flagMask >> BigInt(8 * off)) & 0xffn) : 0;
    if (got === undefined || (got & ~byteMask) !== (value & ~byteMask)) out.push(`[0x${addr.toString(16)}]: expected 0x${value.toString(16)}, got ${got === undefined ? 'nothing' : `0x${got.toString(16)}`}`);
  }
  return out;
}

export class ExportReplayer {
  private loaded = false;

  private constructor(
    readonly dir: string,
    readonly index: ExportIndex,
    private readonly machine: MachineFile,
    private readonly image: ReturnType<typeof machineImage>,
    private readonly base: MachineState,
  ) {}

  static async open(dir: string): Promise<ExportReplayer> {
    const index = await readJson(path.join(dir, 'index.json'), ExportIndexSchema);
    const machine = await readJson(path.join(dir, index.machine), MachineFileSchema);
    return new ExportReplayer(dir, index, machine, machineImage(machine), baseState(machine));
  }

  async readFile(file: string): Promise<SingleStepTest[]> {
    return readJson(path.join(this.dir, file), SingleStepFileSchema);
  }

  /** Run one test on `target`; the differences (none: it passed). Leaves the target's memory as machine.json has it. */
  async run(target: ExecutionTarget, t: SingleStepTest): Promise<string[]> {
    const regions = ramRegions(t.initial.ram);
    await target.reset(regsToState(t.initial.regs, this.base), [...(this.loaded ? [] : this.image.regions), ...regions]);
    this.loaded = true;
    const stop = await target.step();
    const after = await target.readState();
    const ram = await readBytes(target, t.final.ram.map(([a]) => a));
    const out = stop.kind === 'step' ? [] : [`the target stopped (${stop.kind}) instead of retiring the instruction`];
    out.push(...compareTest(t, stateToRegs(after), ram));
    // back to the machine's memory, so the next test starts from it (and nothing it did not list)
    const restore = ramRegions([...t.initial.ram, ...t.final.ram].map(([a]) => [a, this.image.byteAt(a)] as [number, number]));
    for (const r of restore) await target.writeMemory(r.addr, r.bytes, 'phys');
    return out;
  }

  /** Every test of every file; `onFile` after each file (progress). */
  async runAll(target: ExecutionTarget, onFile?: (file: string, tests: number, failed: number) => void): Promise<ReplaySummary> {
    const failures: ReplayFailure[] = [];
    let tests = 0;
    for (const { file } of this.index.files) {
      const list = await this.readFile(file);
      let failed = 0;
      for (const t of list) {
        tests++;
        const differences = await this.run(target, t);
        if (differences.length) {
          failed++;
          failures.push({ file, idx: t.idx, name: t.name, differences });
        }
      }
      onFile?.(file, list.length, failed);
    }
    return { files: this.index.files.length, tests, passed: tests - failures.length, failures };
  }
}
