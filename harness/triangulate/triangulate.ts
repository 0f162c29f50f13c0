import { caseMode, type Case } from '../../corpus/case-schema.js';
import { classifyException, LAYOUT } from '../../contracts/test-machine.js';
import { modelForQemuCpu } from '../../emulator/cpu/cpu-model.js';
import { HostTarget } from '../../oracle/host/host-target.js';
import { HostRunnerError } from '../../oracle/host/host-runner.js';
import { SetupError } from '../../oracle/qemu/install.js';
import { vectorName } from '../../reports/format.js';
import { decodeOne } from '../asm/decode.js';
import type { DivergenceReport, WhoseBug } from '../campaign-result.js';
import { compareStates } from '../compare.js';
import { coalesce, machineForCase, SCRUBBED, zeroedComparedRegions } from '../lockstep.js';
import { modelCpuid, type CpuidRegs } from './cpuid-features.js';
import { hostCannotJudge, instructionFacts, undefinedResult, type CpuidViews } from './host-eligibility.js';
import { HOST_VISIBLE_FLAGS, judge } from './three-way.js';

/**
 * The third opinion: a divergent case run natively on the host CPU (HostTarget) up to and
 * including its divergent instruction, and the host's result set against QEMU's and the system
 * under test's. Undefined flags stay masked as they are for the other two (the divergence's mask
 * at the divergent instruction; before it, the undefined flags of the instructions run are taken
 * from QEMU's state, as the lockstep does for the system under test).
 */

export interface ThirdOpinionOptions {
  /** QEMU's `-cpu` (default qemu64): the model whose CPUID is set against the host's. */
  readonly cpuModel?: string;
  /** How the system under test is named in reasons (default "the emulator"). */
  readonly dutName?: string;
}

const none = (reason: string, extra: Partial<WhoseBug> = {}): WhoseBug => ({ verdict: 'none', reason: `no third opinion: ${reason}`, fields: [], hostAlsoDiffers: [], ...extra });

export class ThirdOpinion {
  private systemLoaded = false;
  private readonly cpuidCache = new Map<string, Promise<CpuidRegs>>();
  /** One judgement at a time: each is a sequence of runner requests on the one host target. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly host: HostTarget,
    private readonly options: ThirdOpinionOptions,
  ) {}

  /** A host runner, or the one line saying why this machine cannot give a third opinion. */
  static async open(options: ThirdOpinionOptions = {}): Promise<ThirdOpinion | { unavailable: string }> {
    try {
      return new ThirdOpinion(await HostTarget.start(), options);
    } catch (err) {
      if (err instanceof SetupError || err instanceof HostRunnerError) return { unavailable: err.message };
      throw err;
    }
  }

  get hostName(): string {
    return this.host.info().implementation.replace(/^host CPU \((.*)\)$/, '$1');
  }

  private cpuidViews(): CpuidViews {
    const modelName = this.options.cpuModel ?? 'qemu64';
    const model = modelForQemuCpu(modelName);
    return {
      host: (leaf, sub) => {
        const key = `${leaf}.${sub}`;
        let r = this.cpuidCache.get(key);
        if (!r) this.cpuidCache.set(key, (r = this.host.runner.cpuid(leaf, sub)));
        return r;
      },
      model: model ? modelCpuid(model.cpuid) : undefined,
      modelName: `the QEMU model (${modelName})`,
    };
  }

  /** Whose bug `d` (a divergence of case `c`) is. */
  judge(c: Case, d: DivergenceReport): Promise<WhoseBug> {
    const next = this.queue.then(async () => {
      const t0 = performance.now();
      const verdict = await this.judgeUntimed(c, d);
      return { ...verdict, host: this.hostName, ms: Math.round((performance.now() - t0) * 100) / 100 };
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async judgeUntimed(c: Case, d: DivergenceReport): Promise<WhoseBug> {
    // the host runs the code as 64-bit user code: 32-bit and 16-bit code means something else there
    if (caseMode(c) !== 'long64') return none(`the host runs 64-bit user code, and this is a ${caseMode(c)} case`);
    const facts = instructionFacts(c.code, LAYOUT.code);
    const upTo = Math.min(facts.length, Math.max(0, d.index) + 1);
    const views = this.cpuidViews();
    for (const ins of facts.slice(0, upTo)) {
      const why = await hostCannotJudge(ins, views);
      if (why) return none(why);
    }
    const divergent = d.program[d.index];
    const undef = divergent ? undefinedResult(decodeOne(divergent.bytes, divergent.address).form, divergent.bytes, d.before) : undefined;
    const host = this.host;
    const machine = machineForCase(c);
    const steps = d.step ?? d.index;
    // the state both targets started from: scrubbed pages, the system tables, the case, its trampoline
    await host.writeMemory(SCRUBBED.addr, new Uint8Array(SCRUBBED.length), 'phys');
    const system = this.systemLoaded ? [] : machine.memory.slice(0, machine.memory.length - machine.caseMemory.length);
    const start = steps === 0 ? { ...machine.state, fpu: d.before.fpu, sse: d.before.sse } : machine.state;
    await host.reset(start, coalesce([...system, ...zeroedComparedRegions(c), ...machine.caseMemory, machine.trampoline]));
    this.systemLoaded = true;

    let undefinedFlags = 0n;
    for (let i = 0; i < steps; i++) {
      const rip = (await host.readState()).rip;
      undefinedFlags |= BigInt(decodeAt(c, rip)?.flags.undefined ?? 0);
      const stop = await host.step();
      const event = host.lastEvent;
      if (stop.kind !== 'step' || event) {
        const what = event?.kind === 'exception' ? `raised ${vectorName(event.vector)}` : stop.kind === 'crash' ? stop.message : `stopped (${stop.kind})`;
        return none(`the host ${what} at instruction ${i + 1}, before the divergent one, where QEMU and ${this.dutName} agree`);
      }
    }
    const at = await host.readState();
    const flagMask = HOST_VISIBLE_FLAGS & ~undefinedFlags;
    const early = compareStates(d.before, at, { flagMask: ~flagMask & ((1n << 64n) - 1n) }).filter((x) => /^(gpr\.|rip$|rflags$|fpu\.|sse\.)/.test(x.path));
    if (early.length) {
      return none(`the host already differs from both before the divergent instruction (in ${early.map((x) => x.path).join(', ')}), where QEMU and ${this.dutName} agree`);
    }
    if ((at.rflags ^ d.before.rflags) & undefinedFlags) {
      // undefined flags of the instructions before: QEMU's, as the lockstep gives them to the system under test
      await host.reset({ ...at, rflags: (at.rflags & ~undefinedFlags) | (d.before.rflags & undefinedFlags) }, []);
    }

    const stop = await host.step();
    const event = host.lastEvent;
    if (stop.kind === 'crash') return none(stop.message);
    if (event?.undeliverable) return none(`the host raised ${vectorName(event.vector)}, and ${event.undeliverable}`);
    if (host.limits.length) return none(host.limits[0]!);
    if (event?.kind === 'exception' && event.vector === 17) {
      return none('the host raised #AC: with RFLAGS.AC set, a CPL 3 access is alignment-checked, one at the test machine\'s CPL 0 is not');
    }
    if (event?.kind === 'exception' && event.vector === 14 && event.faultAddr < 0x1000n && !host.page0Mapped) {
      return none('the host cannot map page 0 (vm.mmap_min_addr > 0 and no CAP_SYS_RAWIO), where the test machine has its IDT');
    }
    const state = await host.readState();
    const exception = await classifyException(state, (a, n) => host.readMemory(a, n, 'virt')).catch(() => undefined);
    const memory = await Promise.all(d.memoryDiffs.map((m) => host.readMemory(m.addr, m.expected.length, 'phys')));
    const w = judge(d, { state, exception, memory }, { dut: this.dutName });
    if (!undef) return w;
    // an undefined result: a host that agrees with neither says nothing; one that agrees exactly with a side
    // still tells (a wrong address, say, shows whatever the value), with the caveat
    if (w.verdict === 'both') return none(`${undef}, and the host's result matches neither`, { fields: w.fields, hostAlsoDiffers: w.hostAlsoDiffers });
    return { ...w, reason: `${w.reason} (although ${undef})` };
  }

  private get dutName(): string {
    return this.options.dutName ?? 'the emulator';
  }

  async close(): Promise<void> {
    await this.host.close();
  }
}

function decodeAt(c: Case, rip: bigint) {
  const off = rip - LAYOUT.code;
  if (off < 0n || off >= BigInt(c.code.length)) return undefined;
  const ins = decodeOne(c.code.subarray(Number(off), Number(off) + 15), rip);
  return ins.invalid ? undefined : ins;
}
