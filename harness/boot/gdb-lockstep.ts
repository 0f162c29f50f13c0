import type { StopReason } from '../../contracts/execution-target.js';
import type { GprName, MachineState } from '../../contracts/machine-state.js';
import type { EmulatorTarget } from '../../emulator/emulator-target.js';
import { type DataAccess, ramView, setRegisters, traceAccesses } from '../../emulator/harness-hooks.js';
import type { KernelQemu } from '../../oracle/qemu/kernel-qemu.js';
import { compareStates, type FieldDiff } from '../compare.js';
import { followOracle } from '../sync-rules.js';
import { countRule, type RuleCounts } from './boot-rules.js';
import { ACCESSED_BIT_RULE, isAccessedBitOnly, isCachedAccessedBitOnly } from './accessed-bit.js';
import type { DeviceLog } from './device-log.js';
import { compareDeviceWrites } from './device-writes.js';
import { instructionInfo, operandAddress, repCounterIsZero, type InsnInfo } from './instruction-info.js';
import { compareCheckpoint, type CheckpointResult, type GoodPoint } from './checkpoint.js';
import { StepHistory, type StepRecord } from './step-history.js';
import { canFastForward, fastForwardRep } from './rep-fast-forward.js';

/**
 * The boot lockstep on the gdb channel: QEMU single-steps over its stub, the emulator steps beside
 * it, and after every instruction the two machine states are compared (registers, flags,
 * selectors, bases, control registers, x87), as are the bytes the instruction wrote (the
 * emulator's writes and the instruction's own memory operands, read back from QEMU by physical
 * address) and what it sent to devices. Device reads, clocks and random numbers follow QEMU by the
 * declared rules (boot-rules.ts). Every `checkpointEvery` instructions, and at the end, descriptor
 * caches, tables and all of RAM are compared as well.
 */

export interface MemoryMismatch {
  readonly phys: number;
  readonly lin: bigint | undefined;
  readonly expected: Uint8Array;
  readonly actual: Uint8Array;
  /** Who wrote the range: the emulator (its write log), the instruction's operand (iced), or found at a checkpoint. */
  readonly source: 'emulator-write' | 'operand' | 'checkpoint';
}

export interface Mismatch {
  /** Lockstep index of the instruction (0 = the one at the start point). */
  readonly index: number;
  /** QEMU's instruction count since reset right after it (exact). */
  readonly icount: number;
  readonly rip: bigint;
  readonly info: InsnInfo;
  readonly before: MachineState;
  readonly expected: MachineState;
  readonly actual: MachineState;
  readonly diffs: readonly FieldDiff[];
  readonly memory: readonly MemoryMismatch[];
  readonly devices: readonly string[];
  readonly qemuStop: StopReason;
  readonly emulatorStop: StopReason;
  /** RFLAGS bits masked as undefined for this instruction. */
  readonly flagMask: bigint;
  readonly found: 'step' | 'checkpoint';
}

export type LockstepEnd =
  | 'mismatch'
  | 'until'
  | 'budget'
  | 'interrupted'
  | 'halted'
  | 'shutdown'
  /** QEMU died, the gdb connection failed, or the harness itself failed: see `error`. */
  | 'error';

export interface LockstepResult {
  readonly end: LockstepEnd;
  readonly error?: string;
  /** Instructions compared equal (the mismatching one excluded). */
  readonly compared: number;
  readonly mismatch?: Mismatch;
  readonly rules: RuleCounts;
  /** RFLAGS bits masked, by mnemonic, and how often they differed. */
  readonly masked: ReadonlyMap<string, number>;
  readonly history: StepHistory;
  /** Index of the last instruction in the history. */
  readonly lastIndex: number;
  readonly icountStart: number;
  readonly icountEnd: number;
  readonly seconds: number;
  readonly checkpoints: readonly CheckpointResult[];
  /** QEMU's state at the end (the state the next instruction would start from). */
  readonly finalState: MachineState;
  /** The last point where everything agreed, memory included (streaming channels): where a re-run starts. */
  readonly lastGood?: GoodPoint;
  /**
   * Where a streaming channel's time went (ms): waiting for QEMU's output, parsing it; and bytes
   * read; records QEMU printed again for blocks it did not run then (stream-common.ts isReprint),
   * and the most of them in a row.
   */
  readonly stream?: { readonly waitedMs: number; readonly parseMs: number; readonly bytes: number; readonly cpuMs: number; readonly reprints?: number; readonly longestReprints?: number };
}

export interface LockstepOptions {
  /** Stop before executing an instruction at one of these addresses (after the first). */
  readonly untilAddresses?: readonly bigint[];
  /** Stop once QEMU's instruction count reaches this. */
  readonly untilIcount?: number;
  /** Stop once the serial console of QEMU shows this text. */
  readonly untilSerial?: string;
  /** At most this many instructions. */
  readonly maxSteps?: number;
  /** Full comparison (RAM, descriptor caches) every this many instructions (0: only at the end). */
  readonly checkpointEvery?: number;
  readonly shouldStop?: () => boolean;
  readonly onProgress?: (p: { compared: number; rip: bigint; icount: number }) => void;
  /**
   * The number of the first instruction (log channel): a re-run from a checkpoint numbers its
   * instructions as the run it continues did (maxSteps and checkpoints count from 0 all the same).
   */
  readonly firstIndex?: number;
  /**
   * Keep the emulator's machine at each clean checkpoint (a snapshot over the checkpoint's RAM
   * image, ~RAM size held), so that a memory difference found later can be bisected from there.
   */
  readonly keepSnapshots?: boolean;
  /** Where this run starts, when it continues another (a re-run from a checkpoint): its first lastGood. */
  readonly startPoint?: GoodPoint;
  /** Reads QEMU's serial console so far (for untilSerial). */
  readonly readSerial?: () => Promise<string>;
}

/** Stores larger than this (REP fast-forward) are compared by a full-memory checkpoint instead of gdb reads. */
const BIG_STORE = 64 * 1024;

/** Instructions whose effect on descriptor caches and tables is checked right after them (`info registers`). */
const SYSTEM_INSTRUCTION = /^(lgdt|lidt|ltr|lldt|iretq?|iretd|retf|lss|lfs|lgs|syscall|sysret|sysretq|swapgs|wrmsr|int1?|int3|into)\b|^(mov|pop) (cs|ds|es|fs|gs|ss)\b|^(jmp|call) (far\b|[0-9a-fx]+:)|^mov cr[0348]/;

/**
 * Descriptor-cache attributes as the architecture defines them: QEMU keeps the descriptor's whole
 * high dword there (base bits 31..24 and 23..16, limit bits 19..16 included), which the base and
 * limit fields already compare; type, S, DPL, P, AVL, L, D/B and G are bits 8-15 and 20-23.
 */
export const CACHE_ATTR_MASK = 0x00f0ff00;
const DPL_MASK = 0x6000;

/**
 * The descriptor caches as 64-bit mode uses them. A null data selector (SS, DS, ES, FS, GS) loads
 * no descriptor: its cached limit and attributes are unused there but for SS.DPL, from which QEMU
 * takes the CPL (FS/GS bases are compared as fsBase/gsBase). QEMU fills in flat values where the
 * emulator clears them, so only SS.DPL is kept of those.
 */
export function architecturalCaches(s: MachineState): MachineState {
  const long = (s.efer & 0x400n) !== 0n && ((s.seg.cs.attrs ?? 0) & 0x00200000) !== 0;
  const seg = { ...s.seg };
  for (const n of Object.keys(seg) as Array<keyof MachineState['seg']>) {
    const c = seg[n];
    if (c.attrs === undefined) continue;
    if (long && n !== 'cs' && (c.selector & ~3) === 0) {
      seg[n] = { selector: c.selector, ...(n === 'ss' ? { attrs: c.attrs & DPL_MASK } : {}), ...(n === 'fs' || n === 'gs' ? { base: c.base } : {}) };
    } else seg[n] = { ...c, attrs: (c.attrs & CACHE_ATTR_MASK) >>> 0 };
  }
  const sys = (x: MachineState['tr']) => (x && x.attrs !== undefined ? { ...x, attrs: (x.attrs & CACHE_ATTR_MASK) >>> 0 } : x);
  return { ...s, seg, tr: sys(s.tr), ldtr: sys(s.ldtr) };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

export class GdbLockstep {
  private readonly rules: RuleCounts = new Map();
  private readonly masked = new Map<string, number>();
  readonly history = new StepHistory();
  private readonly checkpoints: CheckpointResult[] = [];

  constructor(
    private readonly qemu: KernelQemu,
    private readonly emulator: EmulatorTarget,
    private readonly devices: DeviceLog,
  ) {}

  private async instructionAt(rip: bigint): Promise<{ info: InsnInfo; bytes: Uint8Array }> {
    let bytes: Uint8Array;
    try {
      bytes = await this.emulator.readMemory(rip, 15, 'virt');
    } catch {
      // the page ends (or is unmapped) within 15 bytes: read what there is
      const room = Number(4096n - (rip & 0xfffn));
      bytes = await this.emulator.readMemory(rip, Math.min(15, room), 'virt').catch(() => new Uint8Array(0));
    }
    // the mode the emulator is in (equal to QEMU's while they agree): PVH's entry is 32-bit code
    const c = this.emulator.internals.cpu;
    return { info: instructionInfo(rip, bytes, c.long64 ? 64 : c.default32 ? 32 : 16), bytes };
  }

  /** QEMU's bytes and the emulator's at physical ranges; mismatching ranges. */
  private async compareRanges(ranges: ReadonlyArray<{ phys: number; length: number; lin: bigint | undefined; source: MemoryMismatch['source'] }>): Promise<MemoryMismatch[]> {
    const out: MemoryMismatch[] = [];
    const ram = ramView(this.emulator);
    for (const r of ranges) {
      if (r.phys + r.length > ram.length) continue; // device memory: compared as device accesses
      const expected = await this.qemu.target.readMemory(BigInt(r.phys), r.length, 'phys');
      const actual = ram.slice(r.phys, r.phys + r.length);
      if (!sameBytes(expected, actual)) out.push({ phys: r.phys, lin: r.lin, expected, actual, source: r.source });
    }
    return out;
  }

  /** Physical ranges of a linear range, page by page, through the emulator's page tables. */
  private linearToPhys(start: bigint, length: number): Array<{ phys: number; length: number; lin: bigint }> {
    const out: Array<{ phys: number; length: number; lin: bigint }> = [];
    const mmu = this.emulator.internals.cpu.mmu;
    const s0 = Number(BigInt.asIntN(64, start));
    for (let off = 0; off < length;) {
      const chunk = Math.min(length - off, 4096 - ((s0 + off) & 0xfff));
      const phys = mmu.peekTranslate(s0 + off);
      const last = out[out.length - 1];
      if (phys >= 0 && last && last.phys + last.length === phys) last.length += chunk;
      else if (phys >= 0) out.push({ phys, length: chunk, lin: start + BigInt(off) });
      off += chunk;
    }
    return out;
  }

  /** The physical ranges of the instruction's write operands, under the state before it (through the emulator's page tables). */
  private operandRanges(info: InsnInfo, before: MachineState): Array<{ phys: number; length: number; lin: bigint }> {
    const out: Array<{ phys: number; length: number; lin: bigint }> = [];
    const mmu = this.emulator.internals.cpu.mmu;
    for (const m of info.memory) {
      if (m.access === 'read' || m.access === 'address' || m.size === 0 || info.repCounter) continue;
      const lin = operandAddress(m, before);
      const signed = Number(BigInt.asIntN(64, lin));
      for (let off = 0; off < m.size;) {
        const chunk = Math.min(m.size - off, 4096 - ((signed + off) & 0xfff));
        const phys = mmu.peekTranslate(signed + off);
        if (phys >= 0) out.push({ phys, length: chunk, lin: lin + BigInt(off) });
        off += chunk;
      }
    }
    return out;
  }

  async run(options: LockstepOptions = {}): Promise<LockstepResult> {
    const q = this.qemu.target;
    const e = this.emulator;
    const t0 = performance.now();
    const icountStart = await this.qemu.icount();
    let icount = icountStart;
    let before = await q.readState();
    const firstIndex = options.firstIndex ?? 0;
    let index = firstIndex;
    let end: LockstepEnd = 'budget';
    let mismatch: Mismatch | undefined;
    const reads: DataAccess[] = [];
    const writes: Array<DataAccess & { old: Uint8Array }> = [];
    const stopTrace = traceAccesses(e, { read: (a) => reads.push(a), write: (a) => writes.push(a) });
    const maxSteps = options.maxSteps ?? Number.MAX_SAFE_INTEGER;
    const checkpointEvery = options.checkpointEvery ?? 0;
    const untilAddresses = new Set(options.untilAddresses ?? []);
    let error: string | undefined;
    try {
      for (;;) {
        if (options.shouldStop?.()) {
          end = 'interrupted';
          break;
        }
        if (index > firstIndex && untilAddresses.has(before.rip)) {
          end = 'until';
          break;
        }
        if (options.untilIcount !== undefined && icount >= options.untilIcount - 512) icount = await this.qemu.icount();
        if (options.untilIcount !== undefined && icount >= options.untilIcount) {
          end = 'until';
          break;
        }
        if (index >= maxSteps) {
          end = 'budget';
          break;
        }
        if (options.untilSerial && options.readSerial && index % 1000 === 0 && (await options.readSerial()).includes(options.untilSerial)) {
          end = 'until';
          break;
        }
        const { info, bytes } = await this.instructionAt(before.rip);
        reads.length = 0;
        writes.length = 0;
        let qemuStop: StopReason;
        let emulatorStop: StopReason;
        let qSteps = 1;
        let stored: Array<{ phys: number; length: number; lin: bigint }> = [];
        if (canFastForward(info, before, (lin) => e.internals.cpu.mmu.peekTranslate(Number(BigInt.asIntN(64, lin))) >= 0)) {
          const ff = await fastForwardRep(this.qemu, e, info, before);
          ({ qemuStop, emulatorStop } = ff);
          stored = this.linearToPhys(ff.stored.start, ff.stored.length);
          countRule(this.rules, 'rep-fast-forward');
        } else {
          const qStepping = q.step(1);
          emulatorStop = await e.step(1);
          qemuStop = await qStepping;
        }
        const devices = this.devices.take();
        let expected = await q.readState();
        let actual = await e.readState();
        const followed: string[] = [];

        if (!stored.length && info.repCounter && expected.rip === before.rip && actual.rip !== before.rip && repCounterIsZero(info, expected) && qemuStop.kind === 'step') {
          qemuStop = await q.step(1);
          qSteps++;
          expected = await q.readState();
          countRule(this.rules, 'rep-under-icount');
        }

        // Device reads: the emulator takes QEMU's results for this instruction.
        if (devices.some((d) => d.kind === 'in' || d.kind === 'mmio-read')) {
          const gpr: Partial<Record<GprName, bigint>> = {};
          for (const g of info.gprsWritten) gpr[g] = expected.gpr[g];
          const flags = BigInt(info.decoded.flags.modified);
          const rflags = (actual.rflags & ~flags) | (expected.rflags & flags);
          setRegisters(e, { gpr, rflags });
          if (info.portIo === 'in' && writes.length) {
            // INS: the bytes it stored come from the port
            const ram = ramView(e);
            for (const w of writes) for (const p of w.phys) ram.set(await q.readMemory(BigInt(p.addr), p.length, 'phys'), p.addr);
          }
          actual = await e.readState();
          followed.push('device-read');
          countRule(this.rules, 'device-read');
        }
        const follow = followOracle(info.decoded, expected, actual);
        if (follow) {
          setRegisters(e, { gpr: follow.state.gpr, rflags: follow.state.rflags });
          actual = follow.state;
          followed.push(follow.rule);
          countRule(this.rules, follow.rule);
        }

        const flagMask = BigInt(info.decoded.flags.undefined);
        let diffs = compareStates(expected, actual, { flagMask });
        if (!diffs.length && SYSTEM_INSTRUCTION.test(info.decoded.text)) {
          const [qs, es] = await Promise.all([q.readState({ system: true }), e.readState({ system: true })]);
          diffs = compareStates(architecturalCaches(qs), architecturalCaches(es), { flagMask });
          if (diffs.length && diffs.every((d) => isCachedAccessedBitOnly(info.decoded.text, d))) {
            const c = e.internals.cpu;
            for (const d of diffs) c.segAttr[d.path.startsWith('seg.cs') ? 1 : 2] = Number(d.expected);
            diffs = [];
            followed.push(ACCESSED_BIT_RULE);
            countRule(this.rules, ACCESSED_BIT_RULE);
          }
        }
        const written = new Map<number, { phys: number; length: number; lin: bigint | undefined; source: MemoryMismatch['source'] }>();
        for (const w of writes) {
          let off = 0;
          for (const p of w.phys) {
            written.set(p.addr, { phys: p.addr, length: p.length, lin: w.lin + BigInt(off), source: 'emulator-write' });
            off += p.length;
          }
        }
        for (const r of this.operandRanges(info, before)) if (!written.has(r.phys)) written.set(r.phys, { ...r, source: 'operand' });
        const storedBytes = stored.reduce((n, r) => n + r.length, 0);
        if (storedBytes <= BIG_STORE) for (const r of stored) written.set(r.phys, { ...r, source: 'emulator-write' });
        let memory = await this.compareRanges([...written.values()]);
        if (storedBytes > BIG_STORE && !memory.length) {
          // megabytes stored: one full-memory comparison is quicker than reading them over gdb
          const cp = await compareCheckpoint(this.qemu, e, this.history, index);
          this.checkpoints.push(cp);
          memory = [...(cp.mismatch?.memory ?? [])];
        }
        if (memory.length && memory.every((m) => isAccessedBitOnly(info.decoded.text, m))) {
          const ram = ramView(e);
          for (const m of memory) ram.set(m.expected, m.phys);
          memory = [];
          followed.push(ACCESSED_BIT_RULE);
          countRule(this.rules, ACCESSED_BIT_RULE);
        }
        for (const r of stored) this.history.markWritten(r.phys, r.length, index);
        const deviceCheck = compareDeviceWrites(info, before, devices, (lin) => {
          const p = e.internals.cpu.mmu.peekTranslate(Number(BigInt.asIntN(64, lin)));
          return p < 0 ? undefined : p;
        }, e.internals.bus.ramSize);
        if (deviceCheck.compared) countRule(this.rules, 'device-write-compared', deviceCheck.compared);
        const deviceDiffs = deviceCheck.diffs;
        const stopsDiffer = qemuStop.kind !== emulatorStop.kind;

        this.history.keepState(index, before);
        this.history.add({
          index,
          rip: before.rip,
          bytes: info.decoded.bytes,
          text: info.decoded.text,
          reads: [...reads],
          writes: [...writes],
          gprsWritten: info.gprsWritten,
          devices,
          followed,
        } satisfies StepRecord);

        if (diffs.length || memory.length || deviceDiffs.length || stopsDiffer) {
          icount = await this.qemu.icount();
          mismatch = {
            index, icount, rip: before.rip, info, before, expected, actual, diffs, memory, devices: deviceDiffs,
            qemuStop, emulatorStop, flagMask, found: 'step',
          };
          void bytes;
          end = 'mismatch';
          break;
        }
        if (flagMask && (expected.rflags & flagMask) !== (actual.rflags & flagMask)) {
          setRegisters(e, { rflags: expected.rflags });
          const key = info.decoded.mnemonic;
          this.masked.set(key, (this.masked.get(key) ?? 0) + 1);
          countRule(this.rules, 'undefined-flags');
        }
        index++;
        // QEMU's count is asked every 256 instructions (a QMP round trip costs as much as a step);
        // in between, one per step (an instruction that faults retires none: the estimate may run ahead)
        icount = index % 256 === 0 || stored.length ? await this.qemu.icount() : icount + qSteps;
        before = expected;
        if (qemuStop.kind === 'triple-fault') {
          end = 'shutdown';
          break;
        }
        if (qemuStop.kind === 'halted') {
          end = 'halted';
          break;
        }
        if (checkpointEvery > 0 && index % checkpointEvery === 0) {
          const cp = await compareCheckpoint(this.qemu, e, this.history, index);
          this.checkpoints.push(cp);
          if (cp.mismatch) {
            mismatch = { ...cp.mismatch, info, before, expected, actual, qemuStop, emulatorStop, flagMask, icount: await this.qemu.icount() };
            end = 'mismatch';
            break;
          }
        }
        if (options.onProgress && index % 256 === 0) options.onProgress({ compared: index, rip: before.rip, icount });
      }
    } catch (err) {
      // QEMU died or the connection broke mid-run: what was compared so far is still reported.
      end = 'error';
      error = (err as Error).message.split('\n')[0];
    } finally {
      stopTrace();
    }
    if (end !== 'mismatch' && end !== 'shutdown' && end !== 'error') {
      const cp = await compareCheckpoint(this.qemu, e, this.history, index);
      this.checkpoints.push(cp);
      if (cp.mismatch) {
        const { info } = await this.instructionAt(before.rip);
        const state = await q.readState();
        mismatch = { ...cp.mismatch, info, before, expected: state, actual: await e.readState(), qemuStop: { kind: 'step' }, emulatorStop: { kind: 'step' }, flagMask: 0n, icount: await this.qemu.icount() };
        end = 'mismatch';
      }
    }
    return {
      end,
      error,
      compared: index,
      mismatch,
      rules: this.rules,
      masked: this.masked,
      history: this.history,
      lastIndex: mismatch ? mismatch.index : index - 1,
      icountStart,
      icountEnd: end === 'error' ? icount : await this.qemu.icount().catch(() => icount),
      seconds: (performance.now() - t0) / 1000,
      checkpoints: this.checkpoints,
      finalState: before,
    };
  }
}
