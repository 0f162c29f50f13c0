import { parseStopReply } from '../rsp/codec.js';
import { runCountingLines } from './exact-icount.js';
import { QemuTarget } from './qemu-target.js';

/**
 * QEMU booting a Linux kernel directly (PVH, `-kernel vmlinux`) under its gdb stub, for the boot
 * lockstep. `-icount shift=0,align=off,sleep=off` makes every run execute the same instruction
 * stream (virtual time is the instruction count: 1 ns per instruction, no waiting for the host
 * clock) and the RTC starts from a fixed date, so a start point reached once is reached the same
 * way again, and QMP `query-replay`
 * gives the exact number of instructions retired since reset.
 */

/** The kernel command line of the lockstep boot (`nokaslr` is reported unknown under PVH; harmless). */
export const LOCKSTEP_APPEND = 'console=ttyS0 nokaslr panic=-1';

/** The date the guest's RTC starts from in every run. */
export const RTC_BASE = '2026-01-01T00:00:00';

export interface KernelQemuOptions {
  readonly kernel: string;
  readonly initrd: string;
  readonly append?: string;
  readonly memoryMiB: number;
  readonly cpuModel?: string;
  /** The guest's serial console goes to this file. */
  readonly serialPath: string;
  /** Per-request gdb timeout (ms). */
  readonly timeoutMs?: number;
  /** `qqemu.sstep` flags while stepping (default 0x7: no IRQs, no timers). */
  readonly singleStepFlags?: number;
}

export type RunOutcome =
  | { readonly kind: 'breakpoint'; readonly rip: bigint; readonly icount: number }
  | { readonly kind: 'icount'; readonly icount: number }
  /** The guest powered off or reset (QEMU pauses instead: -action shutdown=pause). */
  | { readonly kind: 'shutdown'; readonly icount: number; readonly reason: string }
  | { readonly kind: 'budget'; readonly icount: number };

const GDB_SIGNAL_INT = 2;
const GDB_SIGNAL_QUIT = 3;

export class KernelQemu {
  private constructor(
    readonly target: QemuTarget,
    readonly options: KernelQemuOptions,
  ) {}

  static async launch(options: KernelQemuOptions): Promise<KernelQemu> {
    const target = await QemuTarget.launch({
      memoryMiB: options.memoryMiB,
      cpuModel: options.cpuModel,
      timeoutMs: options.timeoutMs ?? 30_000,
      // boots as before, on anonymous RAM: the shared file was measured for fuzz batches only
      sharedRam: false,
      singleStepFlags: options.singleStepFlags ?? 0x7,
      extraArgs: [
        '-kernel', options.kernel,
        '-initrd', options.initrd,
        '-append', options.append ?? LOCKSTEP_APPEND,
        '-serial', `file:${options.serialPath}`,
        '-icount', 'shift=0,align=off,sleep=off',
        // The RTC from a fixed date, advancing with virtual time: by default it reads the host's
        // clock, so the BIOS's tick count (BDA 0x46c) and the kernel's boot time differed between
        // two runs started a few seconds apart.
        '-rtc', `base=${RTC_BASE},clock=vm`,
      ],
    });
    return new KernelQemu(target, options);
  }

  get qmp() {
    return this.target.qemu.qmp;
  }

  /** Instructions retired since reset (QMP query-replay; exact while the VM is stopped). */
  async icount(): Promise<number> {
    const r = (await this.qmp.execute('query-replay')) as { icount?: number };
    if (typeof r.icount !== 'number') throw new Error('QEMU did not report an instruction count (query-replay needs -icount)');
    return r.icount;
  }

  /** Why the guest stopped running, from QMP's SHUTDOWN/RESET events. */
  private shutdownReason(): string {
    const ev = [...this.qmp.events].reverse().find((e) => e.event === 'SHUTDOWN' || e.event === 'RESET');
    const data = ev?.data as { reason?: string } | undefined;
    return data?.reason ?? 'shutdown';
  }

  /** One `c` that an interrupt ends after `ms` (if nothing else stops it first). */
  private async continueFor(ms: number): Promise<{ signal: number }> {
    const rsp = this.target.rsp;
    const timer = setTimeout(() => rsp.interrupt(), ms);
    try {
      const reply = await rsp.request('c', { expect: 'stop', timeoutMs: ms + 30_000 });
      const stop = parseStopReply(reply);
      if (stop.kind !== 'signal') throw new Error(`QEMU ended the run: ${reply}`);
      return { signal: stop.signal };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Run until RIP reaches one of `addresses` (software breakpoints, checked before the instruction
   * there runs), the guest shuts down, or more than `maxIcount` instructions have been retired
   * since reset. Runs in slices of `sliceMs` so the budget and progress are checked while it goes.
   */
  async runTo(addresses: readonly bigint[], options: { maxIcount: number; sliceMs?: number; onProgress?: (icount: number) => void }): Promise<RunOutcome> {
    const rsp = this.target.rsp;
    for (const a of addresses) await rsp.request(`Z0,${a.toString(16)},1`);
    try {
      for (;;) {
        const { signal } = await this.continueFor(options.sliceMs ?? 1000);
        const icount = await this.icount();
        if (signal === GDB_SIGNAL_QUIT) return { kind: 'shutdown', icount, reason: this.shutdownReason() };
        if (signal !== GDB_SIGNAL_INT) {
          const rip = await this.target.readRegister('rip');
          if (addresses.includes(rip)) return { kind: 'breakpoint', rip, icount };
        }
        options.onProgress?.(icount);
        if (icount > options.maxIcount) return { kind: 'budget', icount };
      }
    } finally {
      for (const a of addresses) await rsp.request(`z0,${a.toString(16)},1`).catch(() => undefined);
    }
  }

  /**
   * Run until exactly `target` instructions have been retired since reset. The gdb stub has no
   * instruction budget and a stop lands 10^5-10^6 instructions after it is asked for, so three
   * stretches: slices of `c`, sized from the measured rate, to a few million short; then QEMU
   * stepping one instruction per block with a line logged per instruction, counted, and held back
   * by a small pipe (exact-icount.ts) to at most 1,500 short; then gdb single steps.
   */
  async runToIcount(target: number, options: { onProgress?: (icount: number) => void; coarseBelow?: number } = {}): Promise<RunOutcome> {
    // A stop on a loaded machine can land hundreds of ms late: a caller that overshot boots again
    // with a larger margin (reachIcount).
    const COARSE_BELOW = options.coarseBelow ?? 4_000_000;
    const STEP_BELOW = 1_500;
    let icount = await this.icount();
    let rate = 300e6; // instructions per second: a high first guess keeps the first slice short; refined per slice
    while (target - icount > COARSE_BELOW) {
      const remaining = target - icount - COARSE_BELOW / 2;
      // A quarter of what is left at the measured rate: a stop lands a few ms late, and at
      // ~1e8 instructions/s that is several times the aim.
      const ms = Math.max(1, Math.min(10, (remaining / Math.max(rate, 300e6)) * 250));
      const t0 = performance.now();
      const { signal } = await this.continueFor(ms);
      const now = await this.icount();
      const dt = (performance.now() - t0) / 1000;
      if (now > icount && dt > 0) rate = Math.max(1e5, (now - icount) / dt);
      icount = now;
      if (signal === GDB_SIGNAL_QUIT) return { kind: 'shutdown', icount, reason: this.shutdownReason() };
      if (icount > target) return { kind: 'budget', icount };
      options.onProgress?.(icount);
    }
    if (target - icount > STEP_BELOW) {
      await runCountingLines(this, icount, target, STEP_BELOW);
      icount = await this.icount();
      if ((await this.qmp.status()).status === 'shutdown') return { kind: 'shutdown', icount, reason: this.shutdownReason() };
      if (icount > target) return { kind: 'budget', icount };
    }
    while (icount < target) {
      const stop = await this.target.step(1);
      if (stop.kind === 'triple-fault') return { kind: 'shutdown', icount: await this.icount(), reason: this.shutdownReason() };
      icount = await this.icount();
    }
    return icount === target ? { kind: 'icount', icount } : { kind: 'budget', icount };
  }

  /**
   * A freshly launched QEMU at exactly `target` instructions: runToIcount, booting again with a
   * wider margin for the exact stretches when a late stop carried it past (3 tries).
   */
  static async reachIcount(launch: () => Promise<KernelQemu>, target: number, options: { onRetry?: (overshoot: number) => void; coarseBelow?: number } = {}): Promise<{ qemu: KernelQemu; outcome: RunOutcome }> {
    let coarseBelow = options.coarseBelow ?? 4_000_000;
    for (let attempt = 0; ; attempt++) {
      const k = await launch();
      try {
        const outcome = await k.runToIcount(target, { coarseBelow });
        if (outcome.kind !== 'budget' || attempt === 2 || outcome.icount <= target) return { qemu: k, outcome };
        options.onRetry?.(outcome.icount - target);
      } catch (err) {
        await k.close();
        throw err;
      }
      await k.close();
      coarseBelow *= 4;
    }
  }

  async close(): Promise<void> {
    await this.target.close();
  }
}
