import type { AddressSpace, ExecutionTarget, ReadStateOptions, StopReason, TargetInfo } from '../../contracts/execution-target.js';
import { GPR_BY_ENCODING, GPR_NAMES, type GprName, type MachineState, type MemoryRegion } from '../../contracts/machine-state.js';
import { ERROR_CODE_VECTORS, LAYOUT, SELECTORS } from '../../contracts/test-machine.js';
import { defaultFx, fpuOf, sseOf, withState } from './fxsave.js';
import { HostRunner, HostRunnerError, MAX_STOPS, MEM_SIZE, type HostContext, type RunResult } from './host-runner.js';

/**
 * The host CPU as an ExecutionTarget: the test machine's code runs natively at CPL 3 in the host
 * runner (host-runner.c), single-stepped, with the test machine's pages at their own addresses.
 *
 * What a CPL 3 process cannot have is presented as the test machine has it: selectors, segment
 * caches, control registers and EFER are those of the last reset (CR2 follows #PF), and IF, IOPL,
 * NT, ID and TF are the runner's virtual copies. An exception the host raises (a signal) is
 * delivered here as the test machine's IDT would deliver it at CPL 0 without a stack switch
 * (contracts/test-machine.ts): the frame (error code, RIP, CS, RFLAGS, RSP, SS) pushed on the
 * 16-byte-aligned stack, TF/NT/RF/VM/IF cleared, RIP at the vector's stop address. So the
 * lockstep runner, classifyException and the reports see the host like any other target.
 */

const TF = 0x100n, IF = 0x200n, NT = 0x4000n, RF = 0x10000n, VM = 0x20000n;
/** #PF error code bits (SDM Vol. 3 §4.7): P, U/S. */
const PF_P = 1n, PF_US = 4n;
const CANONICAL_HIGH = 0xffff800000000000n;

/** The last exception or system call the host itself raised, as the runner saw it (before delivery). */
export interface HostEvent {
  readonly kind: 'exception' | 'syscall';
  readonly vector: number;
  /** Normalized to the test machine's CPL 0 (#PF: U/S clear). */
  readonly errorCode?: number;
  readonly faultAddr: bigint;
  readonly signal: number;
  readonly rip: bigint;
  /** Why the test machine's delivery could not be reproduced (the frame does not fit its writable pages). */
  readonly undeliverable?: string;
  readonly syscallNr?: number;
}

const SIGNAL_NAMES: Record<number, string> = { 4: 'SIGILL', 5: 'SIGTRAP', 7: 'SIGBUS', 8: 'SIGFPE', 11: 'SIGSEGV', 31: 'SIGSYS' };
export const signalName = (n: number) => SIGNAL_NAMES[n] ?? (n ? `signal ${n}` : 'no signal (the runner emulated it)');

export interface HostTargetOptions {
  readonly name?: string;
  /** How long one runner request may take (default 10 s). */
  readonly timeoutMs?: number;
}

export class HostTarget implements ExecutionTarget {
  readonly name: string;
  readonly localMemory = true;
  /** The batch runner needs CPL 0 (LGDT, LIDT, IRETQ to CPL 0). */
  readonly runsBatchRunner = false;
  private ctx: HostContext = { gpr: new Array<bigint>(16).fill(0n), rip: LAYOUT.code, rflags: 2n, fsBase: 0n, gsBase: 0n, fx: defaultFx() };
  private system: MachineState | undefined;
  private cr2 = 0n;
  /** The last exception or system call of a run (cleared by reset). */
  lastEvent: HostEvent | undefined;
  /** Set by a run since the last reset when the host could not hold part of the state (one line each). */
  limits: string[] = [];

  private constructor(
    readonly runner: HostRunner,
    private readonly brand: string,
    options: HostTargetOptions,
  ) {
    this.name = options.name ?? 'host';
  }

  static async start(options: HostTargetOptions = {}): Promise<HostTarget> {
    const runner = await HostRunner.start({ timeoutMs: options.timeoutMs });
    try {
      return new HostTarget(runner, await brandString(runner), options);
    } catch (err) {
      runner.kill();
      throw err;
    }
  }

  info(): TargetInfo {
    return { implementation: `host CPU (${this.brand})`, cpuModel: 'host' };
  }

  /** Page 0 (the test machine's IDT) is visible to the guest; not when the kernel forbids mapping it. */
  get page0Mapped(): boolean {
    return this.runner.mapping.page0;
  }

  async reset(state: MachineState, memory: readonly MemoryRegion[]): Promise<void> {
    for (const m of memory) await this.writeMemory(m.addr, m.bytes, 'phys');
    this.system = state;
    this.cr2 = state.cr2;
    this.lastEvent = undefined;
    this.limits = [];
    this.ctx = {
      gpr: GPR_BY_ENCODING.map((n) => state.gpr[n]),
      rip: state.rip,
      rflags: state.rflags,
      fsBase: state.fsBase,
      gsBase: state.gsBase,
      fx: withState(this.ctx.fx, state),
    };
    await this.runner.setContext(this.ctx);
  }

  private async run(maxSteps: number, stops: readonly bigint[]): Promise<RunResult> {
    const r = await this.runner.run(maxSteps, stops);
    this.ctx = r.context;
    if (r.warnings & 1) this.limit(`the host cannot load FS base 0x${r.context.fsBase.toString(16)}: a CPL 3 process may only use user addresses`);
    if (r.warnings & 2) this.limit(`the host cannot load GS base 0x${r.context.gsBase.toString(16)}: a CPL 3 process may only use user addresses`);
    return r;
  }

  private limit(line: string): void {
    if (!this.limits.includes(line)) this.limits.push(line);
  }

  async step(n = 1): Promise<StopReason> {
    const r = await this.run(n, []);
    if (r.end === 'budget') return { kind: 'step' };
    const stop = await this.event(r);
    return stop.kind === 'breakpoint' ? { kind: 'step' } : stop;
  }

  async runUntil(stops: readonly bigint[], maxInstructions: number): Promise<StopReason> {
    // the handler page's stops are reached only by delivery here: the runner checks the others
    const inMemory = stops.filter((s) => s >= LAYOUT.handlers + 0x1000n || s < LAYOUT.handlers);
    if (inMemory.length > MAX_STOPS) throw new HostRunnerError(`the host runner takes at most ${MAX_STOPS} stop addresses`);
    const r = await this.run(maxInstructions, inMemory);
    if (r.end === 'budget') return { kind: 'limit' };
    if (r.end === 'stop') return { kind: 'breakpoint', rip: r.context.rip };
    const stop = await this.event(r);
    if (stop.kind !== 'breakpoint') return stop;
    // past a stop address nobody asked for, the test machine would run its HLT
    return stops.includes(stop.rip) ? stop : { kind: 'halted', rip: stop.rip };
  }

  /** An exception or a system call: recorded, and an exception delivered as the test machine's IDT would. */
  private async event(r: RunResult): Promise<StopReason> {
    const at = r.context.rip;
    if (r.end === 'syscall') {
      this.lastEvent = { kind: 'syscall', vector: -1, faultAddr: r.faultAddr, signal: r.signal, rip: at, syscallNr: r.syscallNr };
      return { kind: 'crash', message: `the case made a system call (number ${r.syscallNr}) before 0x${at.toString(16)}; the host runner does not let guest code reach the kernel` };
    }
    const vector = r.vector;
    let errorCode: number | undefined;
    if (ERROR_CODE_VECTORS.has(vector)) {
      let e = r.errorCode;
      if (vector === 14) {
        e &= ~PF_US; // the test machine runs at CPL 0
        // Linux reports user accesses to kernel addresses as protection faults; the test machine maps nothing there
        if (r.faultAddr >= CANONICAL_HIGH) e &= ~PF_P;
      }
      errorCode = Number(e & 0xffffffffn);
    }
    const event: HostEvent = { kind: 'exception', vector, errorCode, faultAddr: r.faultAddr, signal: r.signal, rip: at };
    const rsp = r.context.gpr[4]!;
    const top = rsp & ~0xfn;
    const frame = [BigInt(SELECTORS.data), rsp, r.context.rflags, BigInt(SELECTORS.code64), at];
    if (errorCode !== undefined) frame.push(BigInt(errorCode));
    const bottom = top - BigInt(8 * frame.length);
    if (bottom < LAYOUT.stackBase || top > LAYOUT.unmapped) {
      // the test machine's delivery would fault pushing the frame (#PF, then #DF on the same stack): a shutdown
      this.lastEvent = { ...event, undeliverable: `its frame below RSP 0x${rsp.toString(16)} lies outside the test machine's writable pages, so delivery there shuts the machine down` };
      return { kind: 'triple-fault' };
    }
    this.lastEvent = event;
    const bytes = new Uint8Array(8 * frame.length);
    const view = new DataView(bytes.buffer);
    // pushed from the top down: SS first, the error code last (lowest)
    frame.forEach((v, i) => view.setBigUint64(bytes.length - 8 * (i + 1), v, true));
    await this.runner.write(bottom, bytes);
    if (vector === 14) this.cr2 = r.faultAddr;
    const handler = LAYOUT.handlers + BigInt(Math.min(vector, LAYOUT.sharedVectorsFrom)) * LAYOUT.handlerStride;
    const gpr = [...r.context.gpr];
    gpr[4] = bottom;
    this.ctx = { ...r.context, gpr, rip: handler, rflags: r.context.rflags & ~(TF | NT | RF | VM | IF) };
    await this.runner.setContext(this.ctx);
    return { kind: 'breakpoint', rip: handler };
  }

  async readState(_options?: ReadStateOptions): Promise<MachineState> {
    const sys = this.system;
    if (!sys) throw new HostRunnerError('the host target was read before its first reset');
    const byName = Object.fromEntries(GPR_BY_ENCODING.map((n, i) => [n, this.ctx.gpr[i]!])) as Record<GprName, bigint>;
    const gpr = Object.fromEntries(GPR_NAMES.map((n) => [n, byName[n]])) as Record<GprName, bigint>;
    return {
      ...structuredClone(sys),
      gpr,
      rip: this.ctx.rip,
      rflags: this.ctx.rflags,
      fsBase: this.ctx.fsBase,
      gsBase: this.ctx.gsBase,
      cr2: this.cr2,
      fpu: fpuOf(this.ctx.fx),
      sse: sseOf(this.ctx.fx),
    };
  }

  async readMemory(addr: bigint, length: number, _space: AddressSpace): Promise<Uint8Array> {
    checkRange(addr, length);
    return this.runner.read(addr, length);
  }

  async writeMemory(addr: bigint, bytes: Uint8Array, _space: AddressSpace): Promise<void> {
    checkRange(addr, bytes.length);
    // one request carries at most the whole area
    await this.runner.write(addr, bytes);
  }

  async close(): Promise<void> {
    await this.runner.close();
  }
}

function checkRange(addr: bigint, length: number): void {
  if (addr < 0n || addr + BigInt(length) > BigInt(MEM_SIZE)) {
    throw new HostRunnerError(`0x${addr.toString(16)}+${length} is outside the host target's memory (the test machine's 0x0-0x${(MEM_SIZE - 1).toString(16)})`);
  }
}

/** The host CPU's brand string (CPUID 0x80000002-4), e.g. "AMD EPYC". */
async function brandString(runner: HostRunner): Promise<string> {
  const [max] = await runner.cpuid(0x80000000);
  if (max < 0x80000004) return 'unknown x86-64';
  const bytes: number[] = [];
  for (const leaf of [0x80000002, 0x80000003, 0x80000004]) {
    for (const r of await runner.cpuid(leaf)) for (let i = 0; i < 4; i++) bytes.push((r >>> (8 * i)) & 0xff);
  }
  return Buffer.from(bytes).toString('latin1').replace(/\0/g, '').trim() || 'unknown x86-64';
}
