/**
 * The B2 clean line alone, for A/B loops: `runs` block-mode campaigns of 10-instruction cases on
 * 2 workers, `seconds` each, steady-state tests/s (after start-up and 10 s of warm-up) per run.
 *   node --single-threaded-gc --import tsx bench/b2-clean-loop.ts [runs=3] [seconds=25] [seed=101]
 * (with the V8 flag bin/difftest.mjs gives the CLI; `npx tsx` alone measures without it)
 * Also CPU µs per test of the node process and its QEMUs (less sensitive to neighbours than tests/s).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCampaign } from '../harness/campaign/campaign.js';

const WARMUP_SECONDS = 10;
const TICK_MICROS = 10_000;

/** CPU time (µs) of this process (all threads) and of its QEMU children: the cost per test neighbours change least. */
function cpuMicros(): number {
  const own = process.cpuUsage();
  let children = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === process.pid) children += (Number(f[11]) + Number(f[12])) * TICK_MICROS;
    } catch {
      // gone
    }
  }
  return own.user + own.system + children;
}
const runs = Number(process.argv[2] ?? 3);
const seconds = Number(process.argv[3] ?? 25);
const seed = Number(process.argv[4] ?? 101);

async function steadyRate(runSeed: number): Promise<{ steady: number; cpuPerTest: number; tests: number; screened: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'difftest-b2loop-'));
  const t0 = performance.now();
  const marks: Array<{ at: number; done: number; cpu: number }> = [];
  try {
    const r = await runCampaign({
      runId: 'bench',
      command: 'bench',
      seed: runSeed,
      seconds,
      workers: 2,
      dut: { kind: 'emulator', inject: [] },
      mode: 'block',
      length: [10, 10],
      raw: false,
      runDir: dir,
      minimize: false,
      replayTemplate: '',
      onProgress: (done) => marks.push({ at: (performance.now() - t0) / 1000, done, cpu: cpuMicros() }),
    });
    const startup = r.startupSeconds ?? 0;
    const from = marks.find((m) => m.at >= startup + WARMUP_SECONDS)!;
    const last = marks[marks.length - 1]!;
    return { steady: (last.done - from.done) / (last.at - from.at), cpuPerTest: (last.cpu - from.cpu) / (last.done - from.done), tests: r.testsRun, screened: r.batch?.screened ?? 0 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const rates: number[] = [];
const cpu: number[] = [];
for (let k = 0; k < runs; k++) {
  const r = await steadyRate(seed + k);
  rates.push(r.steady);
  cpu.push(r.cpuPerTest);
  console.log(`run ${k + 1}: ${r.steady.toFixed(0)} tests/s steady, ${r.cpuPerTest.toFixed(0)} µs CPU per test (node + QEMUs) (${r.tests} tests, ${r.screened} settled by batch)`);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`median ${median(rates).toFixed(0)} tests/s, ${median(cpu).toFixed(0)} µs CPU per test; load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)}`);
