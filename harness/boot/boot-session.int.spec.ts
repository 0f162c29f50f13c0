import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MutantName } from '../../emulator/mutants.js';
import { setMutants } from '../../emulator/mutants.js';
import { runBootSession, type BootSessionOptions } from './boot-session.js';
import { GDB_STRETCH } from './memory-bisect.js';
import { decodeBootResult } from './report/boot-result.js';

/**
 * The boot lockstep end to end on Debian's kernel: QEMU to a start symbol, the transplant, the
 * per-instruction comparison, the report. Bounded: each run compares a few thousand instructions.
 */
async function session(from: string, extra: Partial<BootSessionOptions> = {}) {
  const outDir = await mkdtemp(path.join(tmpdir(), 'difftest-boot-'));
  try {
    const r = await runBootSession({
      cacheDir: '.cache/boot',
      from,
      checkpointEvery: 0,
      memoryMiB: 512,
      cpu: 'qemu64',
      mutants: [],
      outDir,
      command: `node bin/difftest.mjs boot --from ${from}`,
      progress: () => undefined,
      shouldStop: () => false,
      ...extra,
    });
    return { ...r, outDir };
  } finally {
    setMutants([]);
  }
}

describe('boot lockstep', () => {
  it('agrees instruction by instruction from startup_64, memory included', async () => {
    const { result } = await session('startup_64', { maxSteps: 3500 });
    expect(result.mismatch).toBeUndefined();
    expect(result.result).toMatchObject({ end: 'budget', compared: 3500 });
    // full comparisons (every page of RAM and the descriptor caches): after clear_bss's rep stosq,
    // run to its end on both sides, and at the end
    expect(result.checkpoints.at(-1)).toMatchObject({ index: 3500, pagesDiffering: 0, systemDiffs: [] });
    expect(result.checkpoints.every((c) => c.pagesDiffering === 0 && c.systemDiffs.length === 0)).toBe(true);
    // PVH enters startup_64 at its physical alias; ~3,100 instructions later the kernel jumps to
    // x86_64_start_kernel at its link address (both sides took that jump, and its new GDT and CR3)
    expect(result.from.location).toBe('startup_64+0x0/0x70 (phys alias)');
    expect(result.result.endLocation).toMatch(/^\w+\+0x[0-9a-f]+\/0x[0-9a-f]+$/);
    expect(result.lastInstructions.every((l) => l.rip >= 0xffffffff80000000n)).toBe(true);
    const applied = Object.fromEntries(result.rules.map((r) => [r.name, r.count]));
    // __startup_64 clears its page tables with rep stosq: QEMU under -icount needs the extra step
    expect(applied['rep-under-icount']).toBeGreaterThanOrEqual(1);
    expect(applied['msr-probe']).toBe(45);
    expect(applied['rep-fast-forward']).toBeGreaterThanOrEqual(1); // clear_bss: 2.2 million iterations
    expect(result.result.icountEnd - result.result.icountStart).toBeGreaterThan(2_000_000);
  }, 180_000);

  it('runs from startup_64 past the RDMSR 0x8b (UCODE_REV) it once stopped at, synchronizing only by declared rules', async () => {
    // #22,502 was RDMSR 0x8b in native_read_msr_safe, called by early_init_amd: the first thing
    // the emulator did not implement until its MSR model had UCODE_REV (QEMU reads 0x1000065)
    const { result, outDir } = await session('startup_64', { maxSteps: 25_000 });
    expect(result.mismatch).toBeUndefined();
    expect(result.result).toMatchObject({ end: 'budget', compared: 25_000 });
    // ~18 million instructions of QEMU's, most of them REP iterations run to their end on both sides
    expect(result.result.icountEnd - result.result.icountStart).toBeGreaterThan(17_000_000);
    // nothing synchronized but REP handling and, past the RDMSR, a device read (QEMU's value taken, a declared rule)
    const applied = result.rules.filter((r) => r.count > 0 && r.name !== 'msr-probe' && r.name !== 'device-write-compared').map((r) => r.name);
    expect(applied.sort()).toEqual(['device-read', 'rep-fast-forward', 'rep-under-icount']);
    // and the OUTs it made (compared, not followed) were what QEMU's would send
    expect(result.rules.find((r) => r.name === 'device-write-compared')!.count).toBeGreaterThan(0);
    expect(result.checkpoints.at(-1)).toMatchObject({ index: 25_000, pagesDiffering: 0, systemDiffs: [] });
    // the report, on disk, parses back and names where it ended; both consoles are saved beside it
    const saved = decodeBootResult(JSON.parse(readFileSync(path.join(outDir, 'result.json'), 'utf8')));
    expect(saved.result.endLocation).toMatch(/^\w+\+0x[0-9a-f]+\/0x[0-9a-f]+$/);
    const md = readFileSync(path.join(outDir, 'report.md'), 'utf8');
    expect(md).toContain('Linux version 6.');
    expect(existsSync(path.join(outDir, 'report.html'))).toBe(true);
    expect(existsSync(path.join(outDir, 'serial-qemu.txt'))).toBe(true);
    expect(existsSync(path.join(outDir, 'serial-emulator.txt'))).toBe(true);
    expect(result.lastInstructions.length).toBe(64);
  }, 180_000);

  it('finds the same first mismatch on the log channel as on the gdb channel', async () => {
    // a planted bug (REX.B ignored: r8-r15 as ModRM.rm read as rax-rdi) makes the first mismatch
    // independent of how far the emulator has come
    const mutants: MutantName[] = ['rex-b-ignored'];
    const gdb = await session('early_cpu_init', { mutants });
    // (with checkpoints on: the memory before the register difference is checked by re-running it)
    const log = await session('early_cpu_init', { channel: 'log', mutants, checkpointEvery: 1_000 });
    expect(gdb.result.mismatch).toBeDefined();
    expect(log.result.channel).toBe('log');
    expect(log.result.mismatch?.index).toBe(gdb.result.mismatch?.index);
    expect(log.result.mismatch?.location).toBe(gdb.result.mismatch?.location);
    expect(log.result.mismatch?.diffs.map((d) => [d.path, d.expected, d.actual])).toEqual(gdb.result.mismatch?.diffs.filter((d) => !d.path.startsWith('fpu')).map((d) => [d.path, d.expected, d.actual]));
    expect(log.result.memoryBisection).toMatchObject({ trigger: 'register', checkpointIndex: gdb.result.mismatch!.index, located: true });
    expect(log.result.notes.join(' ')).toMatch(/with every write compared found no earlier difference/);
    // the block channel sees the difference at the end of QEMU's block and locates it on the log channel
    const block = await session('early_cpu_init', { channel: 'block', mutants });
    expect(block.result.channel).toBe('block');
    expect(block.result.blockRun).toMatchObject({ end: 'mismatch', rerunEnd: 'mismatch' });
    expect(block.result.blockRun!.compared).toBeGreaterThanOrEqual(gdb.result.mismatch!.index);
    expect(block.result.mismatch?.index).toBe(gdb.result.mismatch?.index);
    expect(block.result.mismatch?.location).toBe(gdb.result.mismatch?.location);
    expect(block.result.notes.join(' ')).toMatch(/Found by the block channel after \d+ blocks/);
  }, 240_000);

  it('agrees for 100,000 instructions from startup_64 on the log channel, memory included at checkpoints', async () => {
    const { result } = await session('startup_64', { channel: 'log', maxSteps: 100_000, checkpointEvery: 40_000 });
    expect(result.mismatch).toBeUndefined();
    expect(result.result.end).toBe('budget');
    // QEMU runs ahead of the comparison; at a checkpoint it is stopped and the records it printed are worked off
    expect(result.result.compared).toBeGreaterThanOrEqual(100_000);
    expect(result.checkpoints.length).toBeGreaterThanOrEqual(3);
    expect(result.checkpoints.every((c) => c.pagesDiffering === 0 && c.systemDiffs.length === 0)).toBe(true);
  }, 180_000);

  it('starts on the log channel where an interrupt is due at the start point (kernel_init, IF=1)', async () => {
    // QEMU delivers the pending interrupt before its first record: the emulator takes it there too
    const { result } = await session('kernel_init', { channel: 'log', maxSteps: 2_000 });
    expect(result.result.error).toBeUndefined();
    expect(result.mismatch).toBeUndefined();
    expect(result.result.compared).toBeGreaterThanOrEqual(2_000);
    expect(result.rules.find((r) => r.name === 'interrupts-injected')?.count).toBeGreaterThanOrEqual(1);
    // and on the block channel
    const block = await session('kernel_init', { channel: 'block', maxSteps: 2_000 });
    expect(block.result.result.error).toBeUndefined();
    expect(block.result.mismatch).toBeUndefined();
    expect(block.result.rules.find((r) => r.name === 'interrupts-injected')?.count).toBeGreaterThanOrEqual(1);
  }, 180_000);

  it('starts at the PVH entry on the log and block channels: 32-bit records, IA-32e mode, then 64-bit code', async () => {
    // pvh_start_xen runs ~40 instructions of 32-bit code (QEMU's EAX= record format), turns on
    // IA-32e mode and far-jumps to 64-bit code, whose code descriptor QEMU leaves unaccessed
    for (const channel of ['log', 'block'] as const) {
      const { result } = await session('entry', { channel, maxSteps: 2_000 });
      expect(result.result.error).toBeUndefined();
      expect(result.from.location).toBe('pvh_start_xen+0x0/0x90 (phys alias)');
      expect(result.mismatch).toBeUndefined();
      expect(result.result.compared).toBeGreaterThanOrEqual(2_000);
      expect(result.rules.find((r) => r.name === 'code-descriptor-accessed')?.count).toBe(1);
      expect(result.result.endLocation).not.toMatch(/^pvh_start_xen\+/); // past the far jump, in 64-bit code
      expect(result.checkpoints.at(-1)).toMatchObject({ pagesDiffering: 0, systemDiffs: [] });
    }
  }, 180_000);

  it('sets CR8 when the kernel writes the local APIC\'s TPR (setup_local_APIC), as QEMU\'s APIC does', async () => {
    // #146 from setup_local_APIC: native_apic_mem_write stores 0x10 to the TPR; QEMU's CR8 reads 1
    // from then on, the emulator's stayed 0 (the block channel's checkpoint after 120M from entry)
    const { result } = await session('setup_local_APIC', { maxSteps: 400 });
    expect(result.mismatch).toBeUndefined();
    expect(result.result.end).toBe('budget');
    expect(result.rules.find((r) => r.name === 'apic-tpr-cr8')?.count).toBe(1);
    expect(result.checkpoints.at(-1)).toMatchObject({ pagesDiffering: 0, systemDiffs: [] });
  }, 180_000);

  it('follows the first IRETQ to user mode on the log channel, where fetching /init\'s first instruction faults', async () => {
    // start_thread is load_elf_binary's last step; 10,770 instructions later IRETQ enters /init at a
    // page not present yet: QEMU prints no record for an instruction it could not fetch
    const { result } = await session('start_thread', { channel: 'log', maxSteps: 12_000 });
    expect(result.result.error).toBeUndefined();
    expect(result.mismatch).toBeUndefined();
    expect(result.result.compared).toBeGreaterThanOrEqual(12_000);
  }, 180_000);

  it('agrees at every block end for 60,000 instructions from startup_64 on the block channel, memory included at checkpoints', async () => {
    const { result } = await session('startup_64', { channel: 'block', maxSteps: 60_000, checkpointEvery: 30_000 });
    expect(result.mismatch).toBeUndefined();
    expect(result.result.end).toBe('budget');
    expect(result.blockRun!.blocks).toBeGreaterThan(1000);
    // fewer records than instructions outside REP loops (each REP iteration is a block of its own)
    expect(result.blockRun!.blocks).toBeLessThan(result.result.compared);
    expect(result.checkpoints.length).toBeGreaterThanOrEqual(2);
    expect(result.checkpoints.every((c) => c.pagesDiffering === 0 && c.systemDiffs.length === 0)).toBe(true);
    // __startup_64 clears page tables with rep stosq: QEMU's extra block at rCX=0 under -icount
    expect(result.rules.find((r) => r.name === 'rep-under-icount')!.count).toBeGreaterThanOrEqual(1);
  }, 180_000);

  it('QEMU against a second QEMU through the same comparison agrees, past where the emulator stops', async () => {
    const { result } = await session('startup_64', { dut: 'qemu', maxSteps: 25_000 });
    expect(result.dut).toMatch(/^qemu \d+\.\d+.* \(a second instance\)$/);
    expect(result.mismatch).toBeUndefined();
    expect(result.result).toMatchObject({ end: 'budget', compared: 25_000 });
    expect(result.checkpoints.at(-1)).toMatchObject({ index: 25_000, pagesDiffering: 0, systemDiffs: [] });
  }, 180_000);

  it('QEMU against a second QEMU on the block channel: both run freely to the same exact counts, registers and all of RAM compared there', async () => {
    // a stop can land late on a loaded machine (tens of ms: millions of instructions): then both
    // stand at the later count (runBothTo), so the budget leaves room for a second checkpoint
    const { result } = await session('start_kernel', { dut: 'qemu', channel: 'block', maxSteps: 30_000_000, checkpointEvery: 10_000_000 });
    expect(result.mismatch).toBeUndefined();
    expect(result.result.end).toBe('budget');
    expect(result.result.compared).toBeGreaterThanOrEqual(30_000_000);
    expect(result.checkpoints.length).toBeGreaterThanOrEqual(2);
    expect(result.checkpoints[0]!.index).toBeGreaterThanOrEqual(10_000_000);
    expect(result.checkpoints.every((c) => c.pagesDiffering === 0 && c.systemDiffs.length === 0)).toBe(true);
  }, 180_000);

  it("bisects a checkpoint's memory difference (log and block channels) to the instruction the gdb channel stops at, with both values and the page walk", async () => {
    // a planted bug that corrupts memory only: MOV m16, imm16 stores its immediate byte-swapped.
    // The gdb channel compares every instruction's written bytes and stops at the store itself.
    const mutants: MutantName[] = ['mov16-imm-store-swapped'];
    const gdb = await session('rcu_init', { mutants, maxSteps: 22_000 });
    const at = gdb.result.mismatch!;
    expect(at.memory[0]!.source).toBe('emulator-write');
    // The log channel's registers never differ: a checkpoint after the store does. Re-running from
    // the clean one before it (QEMU relaunched to its instruction count, the emulator restored from
    // its snapshot), the gdb channel names the same instruction.
    const log = await session('rcu_init', { mutants, channel: 'log', maxSteps: 26_000, checkpointEvery: 10_000 });
    const m = log.result.mismatch!;
    const failing = log.result.checkpoints.at(-1)!;
    expect(failing.pagesDiffering).toBeGreaterThan(0);
    // the clean checkpoint before it; none when the first one landed past the store (QEMU's stop
    // lands late on a loaded machine): the stretch then starts at the start point
    const clean = log.result.checkpoints.at(-2);
    if (clean) expect(clean.pagesDiffering).toBe(0);
    const lastGood = clean?.index ?? 0;
    expect(log.result.memoryBisection).toMatchObject({ located: true, lastGoodIndex: lastGood, checkpointIndex: failing.index });
    // a stretch short enough goes to the gdb channel at once, a longer one through the log channel first
    const levels = log.result.memoryBisection!.levels.map((l) => [l.channel, l.from]);
    if (failing.index - lastGood <= GDB_STRETCH) expect(levels).toEqual([['gdb', lastGood]]);
    else expect([levels[0], levels.at(-1)![0]]).toEqual([['log', lastGood], 'gdb']);
    expect([m.index, m.location, m.text]).toEqual([at.index, at.location, at.text]);
    expect(m.text).toMatch(/^mov word \[/);
    const [bytes] = m.memory;
    // both written values: the emulator's are QEMU's with the two bytes swapped
    expect([...bytes!.actual]).toEqual([...bytes!.expected].reverse());
    expect(log.result.notes.join(' ')).toMatch(/located by re-running the stretch/);
    // the page walk of the store's address, on both sides, ends at the physical address written
    const walk = m.pageWalks!.find((w) => w.why.startsWith('write operand'))!;
    expect(walk.qemu.levels.map((l) => l.value)).toEqual(walk.emulator.levels.map((l) => l.value));
    expect(walk.qemu.phys).toBe(bytes!.phys);
    expect(walk.emulator.phys).toBe(bytes!.phys);
    // the block channel's checkpoint, re-run on the log channel from its clean one, then bisected the same way
    const block = await session('rcu_init', { mutants, channel: 'block', maxSteps: 26_000, checkpointEvery: 10_000 });
    expect(block.result.blockRun).toMatchObject({ rerunEnd: 'mismatch' });
    expect([block.result.mismatch?.index, block.result.mismatch?.location]).toEqual([at.index, at.location]);
    expect(block.result.memoryBisection?.located).toBe(true);
    expect(readFileSync(path.join(log.outDir, 'report.md'), 'utf8')).toMatch(/### Page walks[\s\S]*PML4E[\s\S]*PTE|### Page walks[\s\S]*PDE/);
  }, 420_000);

  it('stops at the first kernel instruction a planted RIP-relative bug affects, with the bad bits', async () => {
    const mutants: MutantName[] = ['rip-rel-from-start'];
    const { result } = await session('startup_64', { mutants });
    const m = result.mismatch!;
    expect(m.index).toBe(0);
    expect(m.location).toBe('startup_64+0x0/0x70 (phys alias)');
    expect(m.text).toMatch(/^lea rsp, \[rip\+0x[0-9a-f]+\]$/);
    const rsp = m.diffs.find((d) => d.path === 'gpr.rsp')!;
    // the planted bug takes RIP from the instruction's start: off by the 7-byte length
    expect(BigInt(rsp.expected) - BigInt(rsp.actual)).toBe(7n);
    expect(rsp.differingBits).toBe('3, 0');
    expect(rsp.ranges.find((x) => x.status === 'WRONG')?.bits).toBe('11..0');
    expect(m.explanation.join(' ')).toMatch(/off by 7, this instruction's length/);
  }, 180_000);
});
