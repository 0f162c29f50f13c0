import { QemuTarget } from '../oracle/qemu/qemu-target.js';
import { seedCase } from '../harness/samples/seed-case.js';
import { GPR_NAMES, type MachineState } from '../contracts/machine-state.js';
import { buildTestMachine, classifyException } from '../contracts/test-machine.js';
import { parseOptions } from './options.js';
import { parseTimeoutOption, TARGET_OPTIONS, TIMEOUT_HELP, TIMEOUT_USAGE } from './target-options.js';

const USAGE = `difftest sample [--cpu MODEL] ${TIMEOUT_USAGE}

Runs the built-in sample (add r13, [rip+disp], from a Linux boot that died in text_poke; the
case is corpus/regressions/seed-add-r13-rip.json) on QEMU, one instruction at a time, and
prints what each instruction changed.
  ${TIMEOUT_HELP}`;

function hex(v: bigint): string {
  return `0x${v.toString(16).padStart(16, '0')}`;
}

function flagString(rflags: bigint): string {
  const names: Array<[string, number]> = [['CF', 0], ['PF', 2], ['AF', 4], ['ZF', 6], ['SF', 7], ['DF', 10], ['OF', 11]];
  return names.map(([n, b]) => `${n}=${(rflags >> BigInt(b)) & 1n}`).join(' ');
}

function changes(before: MachineState, after: MachineState): string[] {
  const out: string[] = [];
  for (const n of GPR_NAMES) if (before.gpr[n] !== after.gpr[n]) out.push(`${n} ${hex(before.gpr[n])} -> ${hex(after.gpr[n])}`);
  if (before.rflags !== after.rflags) out.push(`flags ${flagString(after.rflags)}`);
  return out;
}

export const sampleCommand = {
  summary: 'run the seed sample on QEMU, one instruction at a time',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const { values } = parseOptions(argv, { cpu: { type: 'string' }, ...TARGET_OPTIONS }, USAGE);
    const timeoutMs = parseTimeoutOption(values.timeout);
    const fragment = seedCase();
    const machine = buildTestMachine({ code: fragment.code, memory: fragment.memory, regs: fragment.regs });
    const qemu = await QemuTarget.launch({ cpuModel: values.cpu, timeoutMs });
    try {
      const info = qemu.info();
      process.stdout.write(`difftest: oracle ${info.implementation}, -cpu ${info.cpuModel}; sample "${fragment.name}" (fixed, no seed)\n`);
      await qemu.reset(machine.state, machine.memory);
      let before = await qemu.readState();
      for (let i = 0; i < fragment.asm.length; i++) {
        const rip = before.rip;
        const stop = await qemu.step();
        const after = await qemu.readState();
        process.stdout.write(`[${i}] ${hex(rip)}  ${fragment.asm[i]}\n`);
        const exc = await classifyException(after, (a, n) => qemu.readMemory(a, n, 'virt'));
        if (exc) {
          process.stdout.write(`    exception vector ${exc.vector} error ${exc.errorCode ?? '-'} at ${hex(exc.rip)}\n`);
          break;
        }
        if (stop.kind !== 'step') {
          process.stdout.write(`    stopped: ${stop.kind}\n`);
          break;
        }
        for (const c of changes(before, after)) process.stdout.write(`    ${c}\n`);
        before = after;
      }
      const mem = await qemu.readMemory(before.gpr.rsp - 8n, 8, 'virt');
      process.stdout.write(`    [rsp-8] = ${Buffer.from(mem).toString('hex')}\n`);
      process.stdout.write(`difftest: done; final rip ${hex(before.rip)}, r13 ${hex(before.gpr.r13)}\n`);
      return 0;
    } finally {
      await qemu.close();
    }
  },
};
