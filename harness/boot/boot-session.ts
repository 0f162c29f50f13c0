import type { ExecutionTarget } from '../../contracts/execution-target.js';
import { open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { MachineState } from '../../contracts/machine-state.js';
import { EmulatorTarget } from '../../emulator/emulator-target.js';
import { ramView, readMsr } from '../../emulator/harness-hooks.js';
import { setMutants, type MutantName } from '../../emulator/mutants.js';
import { KernelQemu, LOCKSTEP_APPEND, type RunOutcome } from '../../oracle/qemu/kernel-qemu.js';
import { snapshotMachine, type QemuMachineSnapshot } from '../../oracle/qemu/machine-snapshot.js';
import { UsageError } from '../../util/errors.js';
import { childLogger } from '../../util/log.js';
import { emulatorModelFor } from '../emulator-dut.js';
import { prepareBootAssets, type BootAssets } from './assets/assets.js';
import { countRule } from './boot-rules.js';
import { APIC_TPR_RULE, DeviceLog } from './device-log.js';
import { exceptionHandlers, explainMismatch } from './explain.js';
import { architecturalCaches, GdbLockstep, type LockstepResult, type Mismatch } from './gdb-lockstep.js';
import { compareStates, type FieldDiff } from '../compare.js';
import { type AddressWalks, mismatchWalks } from './mismatch-walks.js';
import { bisectByRerunning, relaunchAt, type RerunContext } from './bisect-reruns.js';
import type { GoodPoint } from './checkpoint.js';
import { fanoutInterval, type Bisection } from './memory-bisect.js';
import { BlockLockstep, type FailedBlock } from './block-lockstep.js';
import { LogLockstep } from './log-lockstep.js';
import { QemuPairLockstep } from './qemu-pair-lockstep.js';
import { gdbStubDut, kernelQemuDut } from './pair-dut.js';
import { GdbRemoteTarget } from '../../oracle/gdb-target.js';
import type { RspEndpoint } from '../../oracle/rsp/client.js';
import { PAIR_CHECKPOINT_DEFAULT, QemuPairCheckpoints } from './qemu-pair-checkpoints.js';
import { encodeBootResult, type BootResult } from './report/boot-result.js';
import { lastInstructions, mismatchSection, nearbyStart, ruleRows } from './report/build-result.js';
import { renderBootHtml } from './report/html.js';
import { renderBootMarkdown } from './report/markdown.js';
import { parseBootPoint, type BootPoint } from './start-point.js';
import type { StepHistory } from './step-history.js';
import { traceMismatch } from './trace.js';
import { transplant, type TransplantReport } from './transplant.js';

/**
 * One `difftest boot` run: assets, QEMU to the start point, the machine transplanted into the
 * emulator, the lockstep, and the report. The report is written as soon as there is something to
 * report (a mismatch's core before its trace is computed), so a later failure cannot lose it.
 */

const log = childLogger('boot');

/** What the report reads of the DUT where the run ended: memory, system state, and a linear address's page, when it can tell. */
interface DutView {
  readonly readVirtual: (a: bigint, n: number) => Promise<Uint8Array | undefined>;
  readonly systemState: () => Promise<MachineState>;
  readonly translate: (lin: bigint) => number | undefined;
}

export interface BootSessionOptions {
  readonly cacheDir: string;
  readonly kernel?: string;
  readonly initrd?: string;
  readonly from: string;
  readonly until?: string;
  readonly maxSteps?: number;
  readonly checkpointEvery: number;
  readonly memoryMiB: number;
  readonly cpu: string;
  /** gdb: single steps over the stub; log: QEMU's per-instruction trace; block: a record per translation block. */
  readonly channel?: 'gdb' | 'log' | 'block';
  /** The system under test: the emulator, or a second QEMU (which must agree). */
  readonly dut?: 'emulator' | 'qemu' | 'gdb';
  /** --dut gdb:…: where the other emulator's gdb stub listens, and the option as given (for messages). */
  readonly dutEndpoint?: RspEndpoint;
  readonly dutLabel?: string;
  readonly mutants: readonly MutantName[];
  readonly outDir: string;
  /** The command as typed, for the report's reproduce line. */
  readonly command: string;
  readonly progress: (line: string) => void;
  readonly onLockstepProgress?: (p: { compared: number; rip: bigint; icount: number; fn: string; serial: string }) => void;
  readonly shouldStop: () => boolean;
}

export interface BootSessionResult {
  readonly result: BootResult;
  readonly reportFile: string;
}

/** The last non-empty line of a text file's tail (the serial console). */
export async function lastLineOf(file: string): Promise<string> {
  const fh = await open(file, 'r').catch(() => undefined);
  if (!fh) return '';
  try {
    const { size } = await fh.stat();
    const len = Math.min(size, 1024);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, size - len);
    const lines = buf.toString('latin1').split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    return lines[lines.length - 1] ?? '';
  } finally {
    await fh.close();
  }
}

function describeRunOutcome(r: RunOutcome, point: BootPoint): string {
  switch (r.kind) {
    case 'shutdown':
      return `the guest stopped (${r.reason}) after ${r.icount.toLocaleString('en-US')} instructions without reaching --from ${point.label}; it never ran there (pick a point on the boot path, e.g. startup_64 or start_kernel)`;
    case 'budget':
      return point.kind === 'icount'
        ? `QEMU ran past instruction ${point.icount.toLocaleString('en-US')} (to ${r.icount.toLocaleString('en-US')}) in three boots: its stops landed too late on this loaded machine; try again when it is quieter, or start from a symbol`
        : `QEMU reached its budget of instructions (${r.icount.toLocaleString('en-US')}) before --from ${point.label}`;
    default:
      return '';
  }
}

export async function runBootSession(o: BootSessionOptions): Promise<BootSessionResult> {
  const startedAt = new Date().toISOString();
  setMutants(o.mutants);
  const model = emulatorModelFor(o.cpu);
  const assets: BootAssets = await prepareBootAssets({ cacheDir: o.cacheDir, kernel: o.kernel, initrd: o.initrd, progress: o.progress, memoryMiB: o.memoryMiB });
  const ctx = { symbols: assets.symbols, loads: assets.kernel.loads, pvhEntry: assets.kernel.pvhEntry, symbolsNote: assets.symbolsNote };
  const from = parseBootPoint(o.from, '--from', ctx);
  const until = o.until ? parseBootPoint(o.until, '--until', ctx) : undefined;
  const serialQemu = path.join(o.outDir, 'serial-qemu.txt');
  const reportFile = path.join(o.outDir, 'report.md');
  const resultFile = path.join(o.outDir, 'result.json');

  const serialEmu = path.join(o.outDir, o.dut === 'qemu' ? 'serial-dut-qemu.txt' : 'serial-emulator.txt');
  const closers: Array<() => Promise<void>> = [];
  const launch = (serialPath: string) => () => KernelQemu.launch({ kernel: assets.kernel.elfPath, initrd: assets.initrd, memoryMiB: o.memoryMiB, cpuModel: o.cpu, serialPath });
  /** A QEMU at the start point: by breakpoint, or at an exact instruction count (booting again if a late stop overshot it). */
  const reachStart = async (serialPath: string): Promise<{ qemu: KernelQemu; outcome: RunOutcome | undefined }> => {
    if (from.kind === 'icount') {
      return KernelQemu.reachIcount(launch(serialPath), from.icount, {
        onRetry: (over) => o.progress(`boot: QEMU stopped ${over.toLocaleString('en-US')} instructions past ${from.label} (a late stop); booting again with a wider margin…`),
      });
    }
    const qemu = await launch(serialPath)();
    return { qemu, outcome: from.kind === 'address' ? await qemu.runTo(from.addresses, { maxIcount: 8e9 }).catch(async (err: unknown) => {
      await qemu.close();
      throw err;
    }) : undefined };
  };
  o.progress(`boot: QEMU running to --from ${from.label}…`);
  const t0 = performance.now();
  const { qemu: k, outcome: reached } = await reachStart(serialQemu);
  try {
    if (!reached || (reached.kind !== 'breakpoint' && reached.kind !== 'icount')) throw new UsageError(reached ? describeRunOutcome(reached, from) : `--from ${o.from} is not a start point`);
    const reachStartSeconds = (performance.now() - t0) / 1000;
    const channel = o.channel ?? 'gdb';
    const dutKind = o.dut ?? 'emulator';
    const common = {
      untilAddresses: until?.kind === 'address' ? until.addresses : undefined,
      untilIcount: until?.kind === 'icount' ? until.icount : undefined,
      untilSerial: until?.kind === 'boot-ok' ? 'BOOT-OK' : undefined,
      readSerial: async () => lastLineOf(serialQemu),
      maxSteps: o.maxSteps,
      checkpointEvery: o.checkpointEvery,
      shouldStop: o.shouldStop,
      onProgress: o.onLockstepProgress
        ? (p: { compared: number; rip: bigint; icount: number }) => void lastLineOf(serialQemu).then((serial) => o.onLockstepProgress!({ ...p, fn: assets.symbols.functionName(p.rip) ?? `0x${p.rip.toString(16)}`, serial }))
        : undefined,
    };
    let snapshot: Pick<QemuMachineSnapshot, 'timings' | 'probeInstructions' | 'icount'> & { rip: bigint };
    let tr: TransplantReport;
    let r: LockstepResult;
    let dutConsole: () => Promise<string>;
    let dutView: DutView;
    let emulator: EmulatorTarget | undefined;
    let blockRun: BootResult['blockRun'];
    let bisection: Bisection | undefined;
    /** The run whose coverage, rules and checkpoints are reported (the first one, when a bisection located its mismatch). */
    let coverage: LockstepResult | undefined;
    /** The QEMU standing where the reported run ended (a bisection's re-run, or the first). */
    let qemuAtEnd: KernelQemu = k;
    let firstIcount: number | undefined;
    if (dutKind === 'qemu') {
      // A second QEMU booted the same way to the same point: nothing is transplanted or probed.
      const { qemu: d, outcome: other } = await reachStart(serialEmu);
      closers.push(() => d.close());
      const icount = await k.icount();
      if (!other || (await d.icount()) !== icount) throw new Error(`the second QEMU did not reach the same point (${other?.kind}, instruction ${await d.icount()} vs ${icount})`);
      snapshot = { timings: { registersMs: 0, msrsMs: 0, ramMs: 0 }, probeInstructions: 0, icount, rip: (await k.target.readState()).rip };
      tr = { stateDiffs: [], msrsLoaded: [], msrsNotModelled: [], msrMismatches: [], drMismatches: [], ramPagesDiffering: 0, notCarried: ['--dut qemu: nothing is transplanted; a second QEMU boots the same way to the same instruction'], ms: 0 };
      if (channel === 'block') {
        o.progress(`boot: both QEMUs at ${assets.symbols.symbolize(snapshot.rip)}, instruction ${icount.toLocaleString('en-US')}; running both freely, compared in full every ${(o.checkpointEvery || PAIR_CHECKPOINT_DEFAULT).toLocaleString('en-US')} instructions…`);
        r = await new QemuPairCheckpoints(k, d, { oracle: () => readFile(serialQemu, 'latin1').catch(() => ''), dut: () => readFile(serialEmu, 'latin1').catch(() => '') }).run(common);
      } else {
        o.progress(`boot: both QEMUs at ${assets.symbols.symbolize(snapshot.rip)}, instruction ${icount.toLocaleString('en-US')}; lockstep QEMU vs QEMU on the gdb channel…`);
        r = await new QemuPairLockstep(k, kernelQemuDut(d)).run(common);
      }
      dutConsole = async () => (await readFile(serialEmu, 'latin1').catch(() => ''));
      dutView = stubView(d.target);
    } else if (dutKind === 'gdb') {
      // Another emulator, started with the same kernel, initrd, command line and memory, stopped at
      // its first instruction: it runs to the start point by a breakpoint, must stand there in
      // QEMU's state, and is then compared instruction by instruction as a second QEMU would be.
      const t = await GdbRemoteTarget.connect(o.dutEndpoint!, { name: 'gdb-dut' });
      closers.push(() => t.close());
      if (from.kind !== 'address') throw new UsageError(`--dut gdb:… reaches the start point by a breakpoint; --from ${o.from} is not an address or symbol (use entry, a symbol or an address)`);
      const expected = await k.target.readState({ system: true });
      let there = await t.readState({ system: true });
      if (!from.addresses.includes(there.rip)) {
        const stop = await t.runUntil(from.addresses, 8e9);
        if (stop.kind !== 'breakpoint') throw new Error(`the emulator behind --dut ${o.dutLabel ?? 'gdb'} did not reach --from ${from.label} (${stop.kind}${'message' in stop ? `: ${stop.message}` : ''}); start it stopped, with the same kernel, initrd, -append and memory size`);
        there = await t.readState({ system: true });
      }
      const startDiffs = compareStates(architecturalCaches(expected), architecturalCaches(there));
      if (startDiffs.length) {
        throw new UsageError(`the emulator behind --dut ${o.dutLabel ?? 'gdb'} stands at --from ${from.label} in another state than QEMU (${startDiffs.slice(0, 4).map((d: FieldDiff) => `${d.path} 0x${d.actual.toString(16)}, QEMU 0x${d.expected.toString(16)}`).join('; ')}): start it with the same kernel, initrd, -append "${LOCKSTEP_APPEND}" and -m ${o.memoryMiB}M`);
      }
      snapshot = { timings: { registersMs: 0, msrsMs: 0, ramMs: 0 }, probeInstructions: 0, icount: await k.icount(), rip: expected.rip };
      tr = { stateDiffs: [], msrsLoaded: [], msrsNotModelled: [], msrMismatches: [], drMismatches: [], ramPagesDiffering: 0, notCarried: [`--dut ${o.dutLabel ?? 'gdb'}: nothing is transplanted; the emulator boots the same kernel itself to the same instruction`], ms: 0 };
      o.progress(`boot: QEMU and ${t.info().implementation} at ${assets.symbols.symbolize(snapshot.rip)}; lockstep on the gdb channel…`);
      r = await new QemuPairLockstep(k, gdbStubDut(t)).run(common);
      dutConsole = async () => ''; // its serial console is its own
      dutView = stubView(t);
    } else {
      /** The machine at the start point moved into a fresh emulator. */
      const transplanted = async (kq: KernelQemu) => {
        const snap: QemuMachineSnapshot = await snapshotMachine(kq);
        const emu = new EmulatorTarget({ ramBytes: o.memoryMiB << 20, model });
        const report = (await transplant(snap, emu)).report;
        if (report.stateDiffs.length || report.ramPagesDiffering) {
          log.warn({ diffs: report.stateDiffs.map((d) => d.path), pages: report.ramPagesDiffering }, 'transplant read back different');
        }
        return { snap, emu, report };
      };
      const first = await transplanted(k);
      const snap = first.snap;
      snapshot = { ...snap, rip: snap.state.rip };
      o.progress(`boot: at ${assets.symbols.symbolize(snap.state.rip)}, QEMU instruction ${snap.icount.toLocaleString('en-US')} (${reachStartSeconds.toFixed(1)} s); RAM and registers read (${(snap.timings.ramMs / 1000).toFixed(1)} s)`);
      let emu = first.emu;
      tr = first.report;
      o.progress(`boot: transplanted into the emulator in ${tr.ms.toFixed(0)} ms (${tr.stateDiffs.length} fields and ${tr.ramPagesDiffering} pages read back different); lockstep on the ${channel} channel…`);
      let devices = new DeviceLog(emu);
      const rerunContext = (): RerunContext => ({
        reachStart: () => reachStart(path.join(o.outDir, 'serial-qemu-rerun.txt')),
        startIcount: snap.icount,
        emulator: { ramBytes: o.memoryMiB << 20, model },
        closers,
        shouldStop: o.shouldStop,
        progress: o.progress,
      });
      if (channel === 'block') {
        // snapshots at clean checkpoints: the re-run below starts from the last one
        const b = await new BlockLockstep(k, emu, devices).run({ ...common, keepSnapshots: true });
        r = b;
        // a re-run from a checkpoint starts its count there; the run covered everything from here
        firstIcount = b.icountStart;
        blockRun = { blocks: b.blocks, compared: b.compared, seconds: b.seconds, end: b.end };
        if (b.mismatch) {
          // The block names the stretch, not the instruction: the same boot again, from the same
          // start point, on the log channel (a record per instruction) to the first instruction that differs.
          const where = b.failedBlock ? `in the block of instructions #${b.failedBlock.startIndex.toLocaleString('en-US')}-#${(b.failedBlock.startIndex + b.failedBlock.instructions - 1).toLocaleString('en-US')}` : `at the checkpoint after #${b.mismatch.index.toLocaleString('en-US')}`;
          const blockText = b.failedBlock ? describeFailedBlock(b.failedBlock, (a) => assets.symbols.symbolize(a)) : undefined;
          if (blockText) {
            o.progress(`boot: ${blockText}`);
            blockRun = { ...blockRun, failedBlock: blockText };
          }
          o.progress(`boot: the block channel found a difference ${where}; re-running to there on the log channel to find the instruction…`);
          const t1 = performance.now();
          // From the last point where everything agreed (QEMU relaunched to its exact count, the
          // emulator from its snapshot), or else from the start point, as any re-run (bisect-reruns.ts).
          const rerun = async (from: GoodPoint) => {
            const there = await relaunchAt(from, rerunContext());
            emu = there.emulator;
            devices = new DeviceLog(emu);
            // checkpoints FANOUT times closer than the stretch, so that a wrong write before the
            // block's register difference is found by one of them (memory-bisect.ts)
            const every = fanoutInterval(from.index, b.mismatch!.index);
            return new LogLockstep(there.qemu, emu, devices).run({ ...common, checkpointEvery: common.checkpointEvery > 0 ? Math.min(common.checkpointEvery, every) : 0, firstIndex: from.index, startPoint: from.snapshot ? from : undefined, keepSnapshots: true, maxSteps: b.mismatch!.index + 1, untilAddresses: undefined, untilIcount: undefined, onProgress: undefined });
          };
          const good = b.lastGood;
          let located = good.index > 0 && good.snapshot ? await rerun(good).catch((err: unknown) => void log.warn({ err: (err as Error).message }, 're-run from the checkpoint failed')) : undefined;
          const fromCheckpoint = located?.mismatch !== undefined;
          if (!fromCheckpoint) located = await rerun({ index: 0, icount: snap.icount });
          if (!located) throw new Error('internal: no re-run');
          blockRun = { ...blockRun, rerunFrom: fromCheckpoint ? b.lastGood.index : 0 };
          blockRun = { ...blockRun, rerunSeconds: (performance.now() - t1) / 1000, rerunEnd: located.end, rerunCompared: located.compared - (blockRun.rerunFrom ?? 0) };
          if (located.mismatch) r = located;
        }
      } else {
        const lockstep = channel === 'log' ? new LogLockstep(k, emu, devices) : new GdbLockstep(k, emu, devices);
        r = await lockstep.run({ ...common, keepSnapshots: channel === 'log' });
      }
      // A checkpoint names a stretch: re-run it to the first instruction whose writes differ. A
      // register difference after the last clean checkpoint may come from an earlier wrong write
      // read back: the memory before it is checked the same way (the gdb channel compares every write).
      // (Not with --checkpoint 0, which asks for no memory comparison; verifyMemoryBefore itself
      // skips a difference with a clean checkpoint right before it.)
      const rerunnable = r.mismatch?.found === 'checkpoint' || (r.mismatch?.found === 'step' && o.checkpointEvery > 0);
      if (rerunnable && r.lastGood && channel !== 'gdb') {
        const found = await bisectByRerunning(r, rerunContext());
        bisection = found?.bisection;
        // the same instruction found again: the first run's report stands, its memory now checked
        const moved = bisection?.trigger === 'checkpoint' || bisection?.located?.mismatch?.index !== r.mismatch?.index;
        if (found?.at && bisection?.located && moved) {
          coverage = r;
          r = bisection.located;
          emu = found.at.emulator;
          qemuAtEnd = found.at.qemu;
        }
      }
      emulator = emu;
      if (devices.tprWrites) countRule(r.rules, APIC_TPR_RULE, devices.tprWrites);
      await writeFile(serialEmu, devices.console);
      dutConsole = async () => devices.console;
      const mmu = emu.internals.cpu.mmu;
      dutView = {
        readVirtual: (a, n) => emu.readMemory(a, n, 'virt').catch(() => undefined),
        systemState: () => emu.readState({ system: true }),
        translate: (lin) => {
          const p = mmu.peekTranslate(Number(BigInt.asIntN(64, lin)));
          return p < 0 ? undefined : p;
        },
      };
    }
    const startRip = snapshot.rip;
    const dutText = await dutConsole();

    const base = (): BootResult => ({
      schema: 'difftest-boot/1',
      startedAt,
      kernel: { version: assets.kernel.version, elf: assets.kernel.elfPath, initrd: assets.initrd, pvhEntry: assets.kernel.pvhEntry, symbols: assets.symbols.size, symbolsNote: assets.symbolsNote },
      qemu: { version: k.target.qemu.binary.version, cpu: o.cpu, memoryMiB: o.memoryMiB, append: LOCKSTEP_APPEND, icountMode: '-icount shift=0,align=off,sleep=off' },
      dut: dutKind === 'qemu' ? `qemu ${k.target.qemu.binary.version} (a second instance)` : dutKind === 'gdb' ? `${o.dutLabel ?? 'gdb'} (another emulator, over its gdb stub)` : 'emulator',
      mutants: [...o.mutants],
      channel,
      command: o.command,
      from: { spec: o.from, label: from.label, icount: snapshot.icount, rip: startRip, location: assets.symbols.symbolize(startRip) },
      until: until?.label,
      timings: {
        assetsSeconds: assets.seconds,
        reachStartSeconds,
        snapshot: snapshot.timings,
        transplantMs: tr.ms,
        lockstepSeconds: (coverage ?? r).seconds,
        // the block channel's own rate (a re-run that located its mismatch has its own, in blockRun)
        instructionsPerSecond: blockRun ? (blockRun.seconds > 0 ? blockRun.compared / blockRun.seconds : 0) : rate(coverage ?? r),
      },
      transplant: transplantSection(tr),
      result: coverage && r.mismatch
        ? { end: r.end, compared: r.mismatch.index, icountStart: firstIcount ?? coverage.icountStart, icountEnd: r.mismatch.icount, error: r.error, endLocation: assets.symbols.symbolize(r.mismatch.rip) }
        : { end: r.end, compared: r.compared, icountStart: firstIcount ?? r.icountStart, icountEnd: r.icountEnd, error: r.error, endLocation: assets.symbols.symbolize(r.mismatch?.rip ?? r.finalState.rip) },
      rules: ruleRows(coverage ?? r, snapshot.probeInstructions),
      maskedFlags: [...(coverage ?? r).masked].map(([mnemonic, count]) => ({ mnemonic, count })),
      checkpoints: (coverage ?? r).checkpoints.map((c) => ({ index: c.index, ms: c.ms, pagesDiffering: c.pagesDiffering, systemDiffs: c.systemDiffs.map((d) => d.path) })),
      reproduce: { command: o.command },
      lastInstructions: lastInstructions(r, assets.symbols),
      serial: { qemuFile: path.basename(serialQemu), emulatorFile: path.basename(serialEmu), qemuLastLine: '', emulatorLastLine: dutText.trim().split(/\r?\n/).pop() ?? '' },
      notes: notesFor(assets, snapshot, r, blockRun, bisection),
      blockRun,
      memoryBisection: bisection && {
        trigger: bisection.trigger,
        checkpointIndex: bisection.checkpointIndex,
        lastGoodIndex: bisection.lastGoodIndex,
        levels: bisection.levels.map((l) => ({ ...l })),
        seconds: bisection.seconds,
        located: bisection.located?.mismatch !== undefined,
        note: bisection.note,
      },
    });
    const write = async (res: BootResult) => {
      res.serial.qemuLastLine = await lastLineOf(serialQemu);
      await writeFile(resultFile, `${JSON.stringify(encodeBootResult(res), null, 2)}\n`);
      await writeFile(reportFile, renderBootMarkdown(res));
      await writeFile(path.join(o.outDir, 'report.html'), renderBootHtml(res));
    };
    let result = base();
    if (r.mismatch) {
      // The mismatch's core first: the trace below reads memory and could fail.
      const m = r.mismatch;
      result.mismatch = mismatchSection(m, assets.symbols, [], [], () => undefined);
      await write(result);
      const sys: MachineState = await dutView.systemState();
      const readVirtual = dutView.readVirtual;
      const handlers = sys.idtr ? await exceptionHandlers(sys.idtr.base, sys.idtr.limit, readVirtual) : new Map<bigint, number>();
      const explanation = explainMismatch(m, handlers, assets.symbols, sys);
      if (emulator && m.info.decoded.mnemonic === 'rdmsr') {
        const msr = Number(m.before.gpr.rcx & 0xffffffffn);
        if (readMsr(emulator, msr) === undefined && !explanation.some((e) => e.includes('MSR'))) explanation.push(`The emulator has no MSR 0x${msr.toString(16)}.`);
      }
      const trace = await traceMismatch({ history: r.history, symbols: assets.symbols, readVirtual, translate: dutView.translate }, m).catch((err: unknown) => {
        log.warn({ err }, 'trace failed');
        return [];
      });
      const lastWriter = (phys: number) => {
        const w = r.history.lastWriterOf(phys, m.index + 1);
        const rec = w !== undefined ? r.history.get(w) : undefined;
        return rec ? `#${rec.index} ${assets.symbols.symbolize(rec.rip)}: ${rec.text}` : undefined;
      };
      const walks = await pageWalksFor(m, r.history, qemuAtEnd, emulator).catch((err: unknown) => {
        log.warn({ err }, 'page walks failed');
        return undefined;
      });
      result = base();
      result.mismatch = { ...mismatchSection(m, assets.symbols, explanation, trace, lastWriter), ...walks };
      const near = nearbyStart(r, m, assets.symbols);
      if (near) {
        result.reproduce = { command: o.command, nearby: replaceFrom(o.command, near.symbol), nearbyNote: near.note };
      }
    }
    await write(result);
    return { result, reportFile };
  } finally {
    for (const c of closers) await c().catch(() => undefined);
    await k.close();
  }
}

function transplantSection(tr: TransplantReport): BootResult['transplant'] {
  return {
    stateDiffs: tr.stateDiffs.map((d) => d.path),
    ramPagesDiffering: tr.ramPagesDiffering,
    msrsLoaded: [...tr.msrsLoaded],
    msrsNotModelled: tr.msrsNotModelled.map((m) => ({ name: m.name, value: m.value })),
    notCarried: [...tr.notCarried],
  };
}

/** Page walks for the mismatch's addresses: QEMU's tables over its stub (physical reads), the emulator's from its RAM. */
async function pageWalksFor(m: Mismatch, history: StepHistory, qemu: KernelQemu, emulator: EmulatorTarget | undefined): Promise<Pick<NonNullable<BootResult['mismatch']>, 'pageWalks' | 'pageWalksNote'> | undefined> {
  if (!emulator) return undefined;
  const ram = ramView(emulator);
  const step = history.get(m.index);
  const le64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, 8).readBigUInt64LE(0);
  const walks: AddressWalks[] = await mismatchWalks(
    m,
    async (phys) => le64(await qemu.target.readMemory(phys, 8, 'phys')),
    async (phys) => (phys + 8n <= BigInt(ram.length) ? le64(ram.subarray(Number(phys), Number(phys) + 8)) : undefined),
    { reads: step?.reads.map((a) => a.lin) ?? [], writes: step?.writes.map((a) => a.lin) ?? [] },
  );
  if (!walks.length) return undefined;
  const side = (w: AddressWalks['qemu']) => ({ ...w, levels: [...w.levels] });
  const pageWalks = walks.map((w) => ({ ...w, qemu: side(w.qemu), emulator: side(w.emulator) }));
  const now = await qemu.icount();
  const later = now - m.icount;
  return { pageWalks, ...(later > 0 ? { pageWalksNote: `QEMU's page tables as read when it stopped, ${later.toLocaleString('en-US')} instructions after the mismatch (the log channel's QEMU runs ahead of the comparison); the emulator's at the mismatch.` } : {}) };
}

const rate = (r: LockstepResult) => (r.seconds > 0 ? r.compared / r.seconds : 0);

/** What the report reads of a DUT seen only through the gdb protocol (no page tables of its own to walk). */
function stubView(t: ExecutionTarget): DutView {
  return {
    readVirtual: (a, n) => t.readMemory(a, n, 'virt').catch(() => undefined),
    systemState: () => t.readState({ system: true }),
    translate: () => undefined,
  };
}

/** What QEMU's records said of the block the emulator did not end the same way, and where the emulator went. */
export function describeFailedBlock(fb: FailedBlock, symbolize: (a: bigint) => string): string {
  const list = (xs: readonly bigint[]) => xs.map(symbolize).join(', ');
  const irq = fb.interrupt
    ? `; then it delivered interrupt 0x${fb.interrupt.vector.toString(16)} at ${symbolize(fb.interrupt.pc)}${fb.interrupt.beforeRunning ? ' before running any of the block (the state it dumped is the block\'s start)' : ''}`
    : '';
  return `QEMU's block started at ${symbolize(fb.qemuFrom)} and its next record stood at ${symbolize(fb.qemuTo)}${irq}. ` +
    `The emulator ran ${fb.instructions.toLocaleString('en-US')} instruction(s) from there: first ${list(fb.emulatorFirst)}${fb.emulatorLast.length ? `; last ${list(fb.emulatorLast)}` : ''}.`;
}

function notesFor(assets: BootAssets, snapshot: Pick<QemuMachineSnapshot, 'probeInstructions'>, r: LockstepResult, blockRun: BootResult['blockRun'], bisection: Bisection | undefined): string[] {
  const notes: string[] = [];
  if (bisection) {
    const n = (x: number) => `#${x.toLocaleString('en-US')}`;
    const steps = bisection.levels.map((l) => `${l.channel} ${n(l.from)}-${n(l.to)} → ${l.outcome} (${l.seconds.toFixed(1)} s)`).join('; ');
    if (bisection.trigger === 'register') {
      const m = bisection.located?.mismatch;
      const clean = bisection.lastGoodIndex ? `the last clean full-memory checkpoint at ${n(bisection.lastGoodIndex)}` : 'the start point (#0)';
      notes.push(!m
        ? `Registers first differed at ${n(bisection.checkpointIndex)}, after ${clean}; the memory in between was not fully checked: ${bisection.note ?? 'no re-run finished'}. ${steps}`
        : m.index === bisection.checkpointIndex
          ? `Registers first differed at ${n(bisection.checkpointIndex)}, after ${clean}: re-running the stretch with every write compared found no earlier difference (${steps}).`
          : `Registers first differed at ${n(bisection.checkpointIndex)}, but re-running from ${clean} found an earlier instruction whose writes differ (${steps}): that one is reported; the register difference followed from it. The instruction, states and trace below are the last re-run's; coverage, rules and checkpoints are the first run's.`);
    } else notes.push(bisection.located?.mismatch
      ? `Found by the full-memory checkpoint after ${n(bisection.checkpointIndex)} (clean at ${n(bisection.lastGoodIndex)}), then located by re-running the stretch (QEMU relaunched to a clean point's exact instruction count, the emulator restored from its snapshot there): ${steps}. The instruction, states and trace below are the last re-run's; coverage, rules and checkpoints are the first run's.`
      : `Found by the full-memory checkpoint after ${n(bisection.checkpointIndex)} (clean at ${n(bisection.lastGoodIndex)}); not located to one instruction: ${bisection.note ?? 'no re-run found it'}. The states below are the checkpoint's.`);
  }
  if (blockRun?.failedBlock) notes.push(blockRun.failedBlock);
  if (blockRun?.rerunEnd !== undefined) {
    notes.push(blockRun.rerunEnd === 'mismatch'
      ? `Found by the block channel after ${blockRun.blocks.toLocaleString('en-US')} blocks (${blockRun.compared.toLocaleString('en-US')} instructions, ${blockRun.seconds.toFixed(1)} s), then located by re-running the same boot on the log channel ${blockRun.rerunFrom ? `from the last checkpoint where everything agreed (#${blockRun.rerunFrom.toLocaleString('en-US')}, reached at its exact instruction count)` : 'from the start point'} to there (${(blockRun.rerunSeconds ?? 0).toFixed(1)} s): the instruction, states and trace below are that run's.`
      : `The block channel saw a difference after ${blockRun.blocks.toLocaleString('en-US')} blocks (${blockRun.compared.toLocaleString('en-US')} instructions), but the log channel's re-run to there ended '${blockRun.rerunEnd}' after ${(blockRun.rerunCompared ?? 0).toLocaleString('en-US')} instructions without one: the states below are the block channel's, at the end of the block.`);
  }
  if (assets.symbolsNote) notes.push(assets.symbolsNote);
  if (r.end === 'halted') notes.push('Both machines reached HLT: interrupts are masked while QEMU single-steps (rule interrupts-masked), so nothing wakes them.');
  if (r.end === 'interrupted') notes.push('Stopped by a signal (Ctrl-C): this is a partial report.');
  if (r.end === 'error') notes.push(`The run stopped with an error: ${r.error}.`);
  if (r.stream?.reprints) {
    notes.push(`QEMU printed ${r.stream.reprints.toLocaleString('en-US')} records again for blocks it did not run at the first print (an exit requested before it ran: its -icount budget spent, QEMU's main loop; or a device access the block was translated again to end at), at most ${r.stream.longestReprints ?? 1} in a row; they were skipped.`);
  }
  if (snapshot.probeInstructions) notes.push(`QEMU's instruction count moved on by ${snapshot.probeInstructions} while its MSRs were read (rule msr-probe).`);
  return notes;
}

/** The command with its --from replaced (or added). */
export function replaceFrom(command: string, from: string): string {
  if (/--from[ =]\S+/.test(command)) return command.replace(/--from[ =]\S+/, `--from ${from}`);
  return `${command} --from ${from}`;
}
