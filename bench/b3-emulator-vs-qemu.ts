import { ensureDebianTool } from '../oracle/qemu/install.js';
import { QemuTarget } from '../oracle/qemu/qemu-target.js';
import { buildTestMachine, LAYOUT } from '../contracts/test-machine.js';
import { nasm, runOnce, WORKLOADS } from './emulator-mips.js';
import { fmt, median, printTable } from './stats.js';

/**
 * B3: emulator MIPS on three fixed workloads vs QEMU TCG on the same code, in one run.
 * Instructions are counted by the emulator (a REP iteration counts as one, as QEMU's
 * single-step does); QEMU runs the code to a breakpoint with `continue`, so its figure
 * includes translation and one gdb round trip (~1 ms, small against these workloads).
 */
export async function runEmulatorVsQemuBench(options: { rounds: number }): Promise<void> {
  await ensureDebianTool('nasm', 'nasm');
  const qemu = await QemuTarget.launch();
  const rows: Array<[string, string]> = [];
  try {
    for (const [name, src] of Object.entries(WORKLOADS)) {
      const code = nasm(src);
      const machine = buildTestMachine({ code });
      const emu: number[] = [];
      const tcg: number[] = [];
      let instructions = 0;
      await runOnce(code); // warm-up (JIT)
      for (let r = 0; r < options.rounds; r++) {
        const e = await runOnce(code);
        instructions = e.instructions;
        emu.push(e.instructions / e.ms / 1000);
        await qemu.reset(machine.state, machine.memory);
        const t0 = performance.now();
        // end through the trampoline: a breakpoint on the code's own page makes QEMU
        // translate that page one instruction per block
        await qemu.writeMemory(machine.trampoline.addr, machine.trampoline.bytes, 'phys');
        const stop = await qemu.runUntil([LAYOUT.blockEnd, ...machine.exceptionStops], 1e10);
        const ms = performance.now() - t0;
        if (stop.kind !== 'breakpoint' || stop.rip !== LAYOUT.blockEnd) throw new Error(`QEMU did not finish ${name}: ${JSON.stringify(stop)}`);
        tcg.push(instructions / ms / 1000);
      }
      const e = median(emu);
      const q = median(tcg);
      rows.push([name, `emulator ${fmt(e, 1)} MIPS, QEMU TCG ${fmt(q, 1)} MIPS, ratio ${fmt(e / q, 3)} (${fmt(instructions)} instructions)`]);
    }
  } finally {
    await qemu.close();
  }
  printTable(`B3 emulator vs QEMU TCG (${options.rounds} rounds, medians; goal: 50 MIPS on the arithmetic loop)`, rows);
}
