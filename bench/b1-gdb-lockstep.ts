import net from 'node:net';
import path from 'node:path';
import { QemuTarget } from '../oracle/qemu/qemu-target.js';
import { buildTestMachine } from '../contracts/test-machine.js';
import { fmt, median, printTable, ratePerSecond } from './stats.js';

/**
 * B1 (DESIGN.md): compared instructions/s in per-instruction gdb mode vs the raw `s`+`g`
 * packet loop on the socket, measured in the same run on two identical QEMUs, rounds interleaved.
 */

// add rax, 1 ; xor rbx, rax ; jmp back: an endless loop, so stepping never leaves the code
const LOOP = Uint8Array.from([0x48, 0x83, 0xc0, 0x01, 0x48, 0x31, 0xc3, 0xeb, 0xf7]);

/** The floor: hand-framed `$s#73` / `$g#67` on a bare socket, each reply acked with `+` in front
 * of the next request (as the client does), nothing else. */
class RawStepper {
  private buf = '';
  private waiting: (() => void) | undefined;

  constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buf += d;
      const hash = this.buf.indexOf('#', this.buf.indexOf('$'));
      if (hash >= 0 && this.buf.length >= hash + 3) {
        this.buf = this.buf.slice(hash + 3);
        const w = this.waiting;
        this.waiting = undefined;
        w?.();
      }
    });
  }

  static connect(sockPath: string): Promise<RawStepper> {
    return new Promise((resolve, reject) => {
      const s = net.connect(sockPath, () => resolve(new RawStepper(s)));
      s.once('error', reject);
    });
  }

  private roundTrip(packet: string): Promise<void> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.socket.write(packet);
    });
  }

  async stepAndRead(): Promise<void> {
    await this.roundTrip('+$s#73');
    await this.roundTrip('+$g#67');
  }

  close(): void {
    this.socket.destroy();
  }
}

export async function runGdbLockstepBench(options: { rounds: number; msPerRound?: number }): Promise<void> {
  const ms = options.msPerRound ?? 1000;
  const machine = buildTestMachine({ code: LOOP });
  const [rawHost, target] = await Promise.all([QemuTarget.launch(), QemuTarget.launch()]);
  try {
    await rawHost.reset(machine.state, machine.memory);
    await target.reset(machine.state, machine.memory);
    await rawHost.rsp.close(); // hand the stub's single connection to the raw loop
    const raw = await RawStepper.connect(path.join(rawHost.qemu.dir, 'gdb.sock'));
    const rawRates: number[] = [];
    const targetRates: number[] = [];
    const resetFull: number[] = [];
    const resetCase: number[] = [];
    for (let r = 0; r < options.rounds; r++) {
      rawRates.push(await ratePerSecond(() => raw.stepAndRead(), ms));
      targetRates.push(
        await ratePerSecond(async () => {
          await target.step();
          await target.readState();
        }, ms),
      );
      resetFull.push(await ratePerSecond(() => target.reset(machine.state, machine.memory), ms / 2));
      resetCase.push(await ratePerSecond(() => target.reset(machine.state, machine.caseMemory), ms / 2));
    }
    raw.close();
    const rawMed = median(rawRates);
    const tgtMed = median(targetRates);
    printTable(`B1 gdb lockstep (QEMU ${target.info().implementation}, ${options.rounds} rounds × ${ms} ms, medians)`, [
      ['raw s+g packets loop', `${fmt(rawMed)} steps/s`],
      ['QemuTarget.step()+readState()', `${fmt(tgtMed)} steps/s`],
      ['ratio target/raw (goal >= 0.85)', fmt(tgtMed / rawMed, 3)],
      ['reset() with system tables (28 KiB)', `${fmt(median(resetFull))} resets/s`],
      ['reset() with case memory only', `${fmt(median(resetCase))} resets/s`],
    ]);
  } finally {
    await Promise.all([rawHost.close(), target.close()]);
  }
}
