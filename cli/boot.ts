import path from 'node:path';
import { runBootSession } from '../harness/boot/boot-session.js';
import { isMutantName, MUTANT_DESCRIPTIONS, MUTANT_NAMES, type MutantName } from '../emulator/mutants.js';
import { UsageError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { parseOptions } from './options.js';
import { prepareOutDir } from '../util/out-dir.js';
import { onTermination } from './signals.js';
import { parseDutSpec } from '../harness/targets.js';
import { PAIR_CHECKPOINT_DEFAULT } from '../harness/boot/qemu-pair-checkpoints.js';

export const BOOT_USAGE = `difftest boot [--kernel PATH --initrd PATH] [--from POINT] [--until POINT] [--budget N]
              [--channel gdb|log|block] [--inject MUTANT]... [--dut emulator|qemu] [--out DIR] [--memory MiB]
              [--cpu MODEL] [--checkpoint[-every] N] [--cache DIR]

Boots a real Linux kernel on QEMU (PVH direct boot, -icount: every run executes the same
instructions), moves the machine into the emulator at --from, runs both side by side one
instruction at a time and stops at the first instruction whose effect differs. The report
(report.md, result.json, both serial consoles) names the kernel function, shows both states and
the differing bits, and traces where the wrong value came from.

The first run fetches Debian's current linux-image-amd64 and busybox-static with apt-get (no
root needed) and boots the kernel once to read its symbols; all of it is cached in --cache.

  --kernel PATH    your own kernel (vmlinux ELF, or a bzImage with an XZ/gzip ELF inside) with
                   a PVH entry (CONFIG_PVH=y); --initrd PATH your own initramfs
  --from POINT     where the lockstep starts (default startup_64): entry (the PVH entry, 32-bit
                   protected-mode code), a kernel symbol (start_kernel,
                   __text_poke+0x192), an address (0xffffffff81000000), or an instruction count
                   since reset (reached exactly: ~7 s to 74 million on this machine kind)
  --until POINT    stop there instead of at the first mismatch: a symbol, address, instruction
                   count, or boot-ok (BOOT-OK on the serial console: QEMU's on the gdb channel,
                   the emulator's, printed in lockstep, on the log and block channels)
  --budget N       compare at most N instructions (on the log channel, --until and --budget also
                   compare the instructions QEMU had already run ahead, then stop)
  --channel C      gdb (default): single steps over QEMU's gdb stub, every instruction's
                   registers and written memory compared (~2k instructions/s);
                   log: QEMU runs freely printing its registers before every instruction
                   (-d cpu,int with one instruction per block), registers compared per
                   instruction, memory at checkpoints, interrupts QEMU delivered injected;
                   block: QEMU runs its translation blocks unstepped and prints its registers
                   before each (several times faster); registers compared where each block
                   ends; a difference is then located by re-running the same boot to there on
                   the log channel
  --inject NAME    plant a bug in the emulator (repeatable):
${Object.entries(MUTANT_DESCRIPTIONS).map(([k, v]) => `                     ${k.padEnd(21)} ${v}`).join('\n')}
  --dut D          the system under test: emulator (default), or qemu (a second QEMU booted the
                   same way: it must agree). With qemu the gdb channel compares every
                   instruction; the block channel runs both freely and compares everything,
                   all of RAM included, at exact instruction counts every --checkpoint N
                   (default 100000000): a whole boot to BOOT-OK in minutes.
                   gdb:unix:PATH or gdb:HOST:PORT: another emulator with a gdb stub, started
                   stopped with the same kernel, initrd, -append and memory; it runs itself to
                   --from (entry, a symbol or an address) and is compared there and after every
                   instruction (gdb channel)
  --out DIR        report directory (default reports/boot/<time>/)
  --memory MiB     guest RAM on both sides (default 512)
  --cpu MODEL      QEMU -cpu, modelled by the emulator (default qemu64)
  --checkpoint N   compare all of RAM and the descriptor caches every N instructions (default
                   100000; 0: only at the end; also --checkpoint-every N). On the log and block
                   channels a difference found there is located by re-running the stretch from
                   the last clean checkpoint to the first instruction whose writes differ; a
                   register difference found after it is checked the same way for an earlier
                   wrong write it read back (not with 0)
  --cache DIR      where assets are prepared and reused (default .cache/boot)

Ctrl-C writes a partial report. Exit code: 1 when a mismatch was found, 0 when none was (until,
budget, shutdown), 2 on bad input, setup problems or a run that failed.`;

const OPTIONS = {
  kernel: { type: 'string' },
  initrd: { type: 'string' },
  from: { type: 'string' },
  until: { type: 'string' },
  budget: { type: 'string' },
  channel: { type: 'string' },
  inject: { type: 'string', multiple: true },
  dut: { type: 'string' },
  out: { type: 'string' },
  memory: { type: 'string' },
  cpu: { type: 'string' },
  checkpoint: { type: 'string' },
  'checkpoint-every': { type: 'string' },
  cache: { type: 'string' },
} as const;

function wholeNumber(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`--${name} '${value}' must be a whole number from ${min} to ${max.toLocaleString('en-US')}`);
  return n;
}

export const bootCommand = {
  summary: 'boot Linux on QEMU and the emulator side by side; report the first mismatch',
  usage: BOOT_USAGE,
  async run(argv: string[]): Promise<number> {
    const { values: v, positionals } = parseOptions(argv, OPTIONS, BOOT_USAGE);
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'; usage: ${BOOT_USAGE.split('\n')[0]}`);
    const channel = v.channel ?? 'gdb';
    if (channel !== 'gdb' && channel !== 'log' && channel !== 'block') throw new UsageError(`--channel '${channel}' is not a channel; use gdb, log or block`);
    const dut = v.dut ?? 'emulator';
    const gdbDut = dut.startsWith('gdb:') ? parseDutSpec(dut) : undefined;
    if (dut !== 'emulator' && dut !== 'qemu' && gdbDut?.kind !== 'gdb') throw new UsageError(`--dut '${dut}' is not available for boot; use --dut emulator, qemu, gdb:unix:PATH or gdb:HOST:PORT`);
    if (gdbDut && channel !== 'gdb') throw new UsageError(`--dut ${dut} runs on the gdb channel; drop --channel ${channel}`);
    if (gdbDut && (v.inject ?? []).length) throw new UsageError(`--inject plants bugs in our emulator; it does nothing with --dut ${dut}`);
    if (dut === 'qemu' && channel === 'log') throw new UsageError('--dut qemu runs on the gdb channel (every instruction) or the block channel (both QEMUs run freely, compared at checkpoints); use --channel gdb or block');
    if (dut === 'qemu' && (v.inject ?? []).length) throw new UsageError('--inject plants bugs in the emulator; it does nothing with --dut qemu');
    const mutants: MutantName[] = [];
    for (const name of v.inject ?? []) {
      if (!isMutantName(name)) throw new UsageError(`unknown --inject '${name}'; valid mutants: ${MUTANT_NAMES.join(', ')}`);
      mutants.push(name);
    }
    const memoryMiB = wholeNumber('memory', v.memory, 512, 64, 2048);
    const checkpointEvery = wholeNumber('checkpoint', v.checkpoint ?? v['checkpoint-every'], dut === 'qemu' && channel === 'block' ? PAIR_CHECKPOINT_DEFAULT : 100_000, 0, 1e12);
    const maxSteps = v.budget !== undefined ? wholeNumber('budget', v.budget, 0, 1, 1e15) : undefined;
    const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
    const outDir = path.resolve(v.out ?? path.join('reports', 'boot', stamp));
    await prepareOutDir(outDir, v.out !== undefined ? '--out' : 'the report directory');
    // the command to reproduce: as typed, without where this run's report went
    const kept = argv.filter((a, i) => !a.startsWith('--out') && argv[i - 1] !== '--out');
    const command = ['node bin/difftest.mjs boot', ...kept].join(' ');

    let stop = false;
    const stopListening = onTermination((signal) => {
      process.stderr.write(`\ndifftest: ${signal}: stopping the lockstep and writing a partial report (again to quit at once)\n`);
      stop = true;
    });
    const progress = new Progress('boot', 10_000);
    try {
      const { result, reportFile } = await runBootSession({
        cacheDir: v.cache ?? '.cache/boot',
        kernel: v.kernel,
        initrd: v.initrd,
        from: v.from ?? 'startup_64',
        until: v.until,
        maxSteps,
        checkpointEvery,
        memoryMiB,
        cpu: v.cpu ?? 'qemu64',
        channel,
        dut: gdbDut ? 'gdb' : dut === 'qemu' ? 'qemu' : 'emulator',
        ...(gdbDut?.kind === 'gdb' ? { dutEndpoint: gdbDut.endpoint, dutLabel: dut } : {}),
        mutants,
        outDir,
        command: v.from === undefined ? `${command} --from startup_64` : command,
        progress: (line) => process.stderr.write(`${line}\n`),
        onLockstepProgress: (p) => progress.update(p.compared, undefined, `${p.fn} | ${p.serial.slice(0, 60)}`),
        shouldStop: () => stop,
      });
      progress.done();
      const shown = path.relative(process.cwd(), reportFile);
      const m = result.mismatch;
      if (m) {
        process.stdout.write(`difftest boot: first mismatch after ${result.result.compared.toLocaleString('en-US')} matching instructions, at ${m.location}: ${m.text}\n`);
        for (const e of m.explanation.slice(0, 2)) process.stdout.write(`  ${e}\n`);
        for (const d of m.diffs.slice(0, 4)) process.stdout.write(`  ${d.path}: QEMU ${d.expected}, emulator ${d.actual} (bits ${d.differingBits})\n`);
      } else if (result.result.end === 'error') {
        process.stdout.write(`difftest boot: the run stopped after ${result.result.compared.toLocaleString('en-US')} matching instructions, at ${result.result.endLocation}: ${result.result.error}\n`);
      } else {
        process.stdout.write(`difftest boot: no mismatch in ${result.result.compared.toLocaleString('en-US')} instructions (${result.result.end}) at ${result.result.endLocation}\n`);
      }
      process.stdout.write(`difftest boot: ${Math.round(result.timings.instructionsPerSecond).toLocaleString('en-US')} instructions/s; report ${shown}\n`);
      if (result.result.end === 'error') return 2;
      return m ? 1 : 0;
    } finally {
      progress.done();
      stopListening();
    }
  },
};
