import type { AddressSpace, ReadStateOptions, StopReason, TargetInfo } from '../../contracts/execution-target.js';
import { GPR_NAMES, SEGMENT_NAMES, type MachineState, type MemoryRegion } from '../../contracts/machine-state.js';
import { childLogger } from '../../util/log.js';
import { FPU_DEFAULT, GdbRemoteTarget, readRegisterMap, SSE_DEFAULT } from '../gdb-target.js';
import { RspProtocolError, RspStubError } from '../rsp/errors.js';
import { SetupError } from './install.js';
import { parseInfoRegisters, type SystemRegisters } from './info-registers.js';
import { QemuProcess, type QemuLaunchOptions } from './launcher.js';

export interface QemuTargetOptions extends QemuLaunchOptions {
  readonly name?: string;
  /** How long a single step may take before it is interrupted and checked for HLT (default 1000 ms). */
  readonly stepDeadlineMs?: number;
  /** `qqemu.sstep` flags: bit0 enable, bit1 no IRQs, bit2 no timers (QEMU's default 0x7). */
  readonly singleStepFlags?: number;
}

const CR0_PE = 1n;
const CR0_PG = 1n << 31n;
const EFER_LMA = 0x400n;
/** Cached-descriptor L bit (64-bit code). */
const ATTR_L = 1 << 21;

/**
 * QEMU as an ExecutionTarget, over its gdb stub (plus QMP for what the stub cannot do).
 * reset() puts the CPU into the requested mode purely by register and memory writes:
 * CR4 → CR3 → EFER → CR0, then every selector written as 0 and back so QEMU reloads its
 * descriptor cache from the GDT, then all registers with one `G` (safe once CS is 64-bit).
 */
export class QemuTarget extends GdbRemoteTarget {
  private needsSystemReset = false;

  private constructor(
    readonly qemu: QemuProcess,
    registers: Awaited<ReturnType<typeof readRegisterMap>>,
    options: QemuTargetOptions,
  ) {
    super(qemu.rsp, registers, {
      name: options.name ?? 'qemu',
      timeoutMs: options.timeoutMs,
      stepDeadlineMs: options.stepDeadlineMs ?? 1000,
      logger: childLogger('qemu-target'),
    });
  }

  /** With guest RAM shared through a file (shared-ram.ts) unless `sharedRam: false`. */
  static async launch(options: QemuTargetOptions = {}): Promise<QemuTarget> {
    const qemu = await QemuProcess.launch({ sharedRam: true, ...options });
    try {
      await qemu.rsp.request('qSupported:xmlRegisters=i386;swbreak+');
      const map = await readRegisterMap(qemu.rsp);
      const target = new QemuTarget(qemu, map, options);
      await target.probeFeatures();
      await target.setSingleStepFlags(options.singleStepFlags ?? 0x7);
      return target;
    } catch (err) {
      await qemu.close();
      throw err;
    }
  }

  override info(): TargetInfo {
    return { implementation: `qemu ${this.qemu.binary.version}`, cpuModel: this.qemu.cpuModel };
  }

  async setSingleStepFlags(flags: number): Promise<void> {
    await this.rsp.request(`Qqemu.sstep=${flags.toString(16)}`);
  }

  /** Run a monitor command through the gdb stub (`qRcmd`) and return its text. */
  async monitor(command: string): Promise<string> {
    return this.rsp.request(`qRcmd,${Buffer.from(command, 'latin1').toString('hex')}`, { expect: 'console' });
  }

  async systemRegisters(): Promise<SystemRegisters> {
    return parseInfoRegisters(await this.monitor('info registers'));
  }

  resetCpuOnNextLoad(): void {
    this.needsSystemReset = true;
  }

  override async reset(state: MachineState, memory: readonly MemoryRegion[]): Promise<void> {
    if (this.needsSystemReset) await this.recoverFromShutdown();
    await super.reset(state, memory);
  }

  /**
   * After a triple fault with `-action reboot=shutdown,shutdown=pause` the VM sits in the
   * shutdown state and refuses to run; after HLT it sits halted. A QMP system_reset would itself be turned into a
   * shutdown by that action, so switch reboot to `reset` for the duration, and wait for the
   * main loop to carry the (asynchronous) reset out before touching the CPU again.
   */
  private async recoverFromShutdown(): Promise<void> {
    const qmp = this.qemu.qmp;
    await qmp.execute('set-action', { reboot: 'reset' });
    await qmp.execute('system_reset');
    const deadline = Date.now() + 5000;
    while ((await qmp.status()).status === 'shutdown' || (await this.systemRegisters()).halted) {
      if (Date.now() > deadline) throw new RspProtocolError('QEMU stayed shut down or halted after system_reset; restart it');
      await new Promise((r) => setTimeout(r, 1));
    }
    await qmp.execute('set-action', { reboot: 'shutdown' });
    this.needsSystemReset = false;
    this.configuredKey = undefined;
    this.physMode = false; // be explicit again after the reset
    await this.rsp.request('Qqemu.PhyMemMode:0');
  }

  /**
   * Outside 64-bit code QEMU's stub takes FS/GS base, CRn and EFER as 4 bytes (gdb_write_reg_cs64)
   * but every other register at its described width, so a full `G` would be misread from FS base
   * on: write the registers a 32-bit state has one at a time instead.
   */
  override async writeRegisters(state: MachineState): Promise<void> {
    const cs = state.seg.cs.attrs;
    const code64 = (state.efer & EFER_LMA) !== 0n && (cs === undefined || (cs & ATTR_L) !== 0);
    if (code64) return super.writeRegisters(state);
    if ((state.cr0 & CR0_PE) === 0n) {
      // real mode: code may load segment registers (MOV Sreg, POP Sreg, LES…), and the system setup
      // is skipped while the state's selectors match the last one loaded; a selector written in
      // real mode sets its base to selector·16 (QEMU's x86_cpu_gdb_load_seg), so write the ones that moved
      for (const n of SEGMENT_NAMES) {
        const want = BigInt(state.seg[n].selector);
        if ((await this.readRegister(n)) !== want) await this.writeRegister(n, want);
      }
    }
    for (const n of GPR_NAMES.slice(0, 8)) await this.writeRegister(n, state.gpr[n] & 0xffffffffn);
    await this.writeRegister('rip', state.rip & 0xffffffffn);
    await this.writeRegister('eflags', state.rflags);
    // CR2 is no part of the system setup (configureSystem) but a page fault leaves it behind
    if (this.registers.has('cr2')) await this.writeRegister('cr2', state.cr2);
    // a state without x87/SSE parts loads the defaults, as the 64-bit `G` does (registersFromState)
    // and the emulator's reset: otherwise what the last case left (a known divergence's results,
    // say) would be compared in the next
    const fpu = state.fpu ?? FPU_DEFAULT;
    await this.writeRegister('fctrl', BigInt(fpu.fcw));
    await this.writeRegister('fstat', BigInt(fpu.fsw));
    for (let i = 0; i < 8; i++) await this.writeRegister(`st${i}`, fpu.st[i]!);
    const sse = state.sse ?? SSE_DEFAULT;
    await this.writeRegister('mxcsr', BigInt(sse.mxcsr));
    for (let i = 0; i < 8; i++) await this.writeRegister(`xmm${i}`, sse.xmm[i]!);
  }

  /** The generic ordered setup, checked against QEMU's own view (`info registers`). */
  protected override async configureSystem(state: MachineState): Promise<void> {
    const before = await this.systemRegisters();
    for (const t of ['gdtr', 'idtr'] as const) {
      const want = state[t];
      const have = before[t];
      if (want && have && (want.base !== have.base || want.limit !== have.limit)) {
        throw new SetupError(
          `QEMU's gdb stub cannot load ${t.toUpperCase()} (want base 0x${want.base.toString(16)} limit 0x${want.limit.toString(16)}, ` +
            `QEMU has base 0x${have.base.toString(16)} limit 0x${have.limit.toString(16)}); build the state on the test machine, which keeps QEMU's reset tables`,
        );
      }
    }
    await super.configureSystem(state);
    if ((state.cr0 & (CR0_PE | CR0_PG)) === (CR0_PE | CR0_PG) && state.efer & 0x400n) {
      const after = await this.systemRegisters();
      const cs = after.segments.cs;
      if (!cs || cs.selector !== state.seg.cs.selector || (cs.attrs & 0x00200000) === 0) {
        this.configuredKey = undefined;
        throw new RspProtocolError(
          `QEMU did not enter 64-bit mode (CS=${cs ? `${cs.selector.toString(16)} attrs ${cs.attrs.toString(16)}` : 'unknown'}); check the GDT in the case's memory`,
        );
      }
    }
  }

  /** QEMU silently drops physical writes outside RAM: check the range ourselves (-m ≤ 2 GiB is one low block). */
  private checkPhysRange(addr: bigint, length: number, what: string): void {
    const ram = BigInt(this.qemu.memoryMiB) << 20n;
    if (addr + BigInt(length) > ram) {
      throw new RspStubError(
        `cannot ${what} ${length} bytes of phys memory at 0x${addr.toString(16)}: outside guest RAM (0–0x${ram.toString(16)}, -m ${this.qemu.memoryMiB}M); keep the case's memory inside RAM or raise the memory size`,
        0x0e,
      );
    }
  }

  override async readMemory(addr: bigint, length: number, space: AddressSpace): Promise<Uint8Array> {
    if (space === 'phys') {
      this.checkPhysRange(addr, length, 'read');
      // the vCPU is stopped whenever the harness reads: the shared pages hold what it stored
      if (this.qemu.ram?.covers(addr, length)) return this.qemu.ram.read(addr, length);
    }
    return super.readMemory(addr, length, space);
  }

  /**
   * Physical memory the guest never executes (NX under every page table it runs with), written
   * through the shared RAM file when QEMU has one: no hex, no gdb packets. Such writes do not
   * invalidate translated code, hence the restriction (shared-ram.ts).
   */
  async writeDataMemory(regions: readonly MemoryRegion[]): Promise<void> {
    const ram = this.qemu.ram;
    const rest: MemoryRegion[] = [];
    for (const r of regions) {
      this.checkPhysRange(r.addr, r.bytes.length, 'write');
      if (ram?.covers(r.addr, r.bytes.length)) ram.write(r.addr, r.bytes);
      else rest.push(r);
    }
    if (rest.length > 0) await super.writeRegions(rest, 'phys');
  }

  protected override async writeRegions(regions: readonly MemoryRegion[], space: AddressSpace): Promise<void> {
    if (space === 'phys') for (const r of regions) this.checkPhysRange(r.addr, r.bytes.length, 'write');
    return super.writeRegions(regions, space);
  }

  /**
   * Stepping HLT never stops by itself under the gdb stub (IF=0 and IRQs masked while stepping):
   * the step deadline interrupts it, and `info registers` tells whether the CPU sits halted
   * (RIP then points after the HLT). A halted CPU stays halted through register writes, so
   * the next reset() wakes it with a system reset.
   */
  override async step(n = 1): Promise<StopReason> {
    const stop = await super.step(n);
    return stop.kind === 'step' ? stop : this.afterRun(stop);
  }

  /** A run whose time budget ran out while the CPU sits in HLT stopped there, as a step would. */
  override async runUntil(stops: readonly bigint[], maxInstructions: number): Promise<StopReason> {
    return this.afterRun(await super.runUntil(stops, maxInstructions));
  }

  private async afterRun(stop: StopReason): Promise<StopReason> {
    if (stop.kind === 'triple-fault') this.needsSystemReset = true;
    if (stop.kind === 'limit' && (await this.systemRegisters()).halted) {
      this.needsSystemReset = true;
      return { kind: 'halted', rip: await this.readRegister('rip') };
    }
    return stop;
  }

  override async readState(options: ReadStateOptions = {}): Promise<MachineState> {
    const state = await super.readState();
    if (options.system) {
      const sys = await this.systemRegisters();
      for (const n of SEGMENT_NAMES) {
        const s = sys.segments[n];
        if (s) state.seg[n] = { ...s };
      }
      if (sys.gdtr) state.gdtr = sys.gdtr;
      if (sys.idtr) state.idtr = sys.idtr;
      if (sys.segments.tr) state.tr = sys.segments.tr;
      if (sys.segments.ldtr) state.ldtr = sys.segments.ldtr;
      if (sys.ftw !== undefined && state.fpu) state.fpu.ftw = sys.ftw;
    }
    return state;
  }

  override async close(): Promise<void> {
    await super.close(); // stops the step-deadline timer and closes the gdb connection
    await this.qemu.close();
  }
}
