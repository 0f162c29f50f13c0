/**
 * A case run instruction by instruction on the reference (QEMU), each instruction recorded as a
 * single-step test: every register before, the registers it changed, and every byte it fetched,
 * read or wrote, before and after. Which bytes: its own bytes, its memory operands at the
 * addresses iced-x86 computes from the registers before it (independent of the emulator), every
 * byte of the case's compared memory that changed, and the frame an exception pushed.
 */
import { caseMode, type Case } from '../../corpus/case-schema.js';
import type { ExecutionTarget } from '../../contracts/execution-target.js';
import { classifyException, LAYOUT, systemMemory } from '../../contracts/test-machine.js';
import { coalesce, comparedRegions, machineForCase, SCRUBBED, zeroedComparedRegions } from '../lockstep.js';
import { decodeOne } from '../asm/decode.js';
import { operandByteAddresses } from './operand-bytes.js';
import { instructionForm } from '../signature.js';
import { rowOfEncoding } from '../generate/row-of-encoding.js';
import { changedRegs, stateToRegs } from './registers.js';
import { readBytes } from './ram.js';
import type { SingleStepTest } from './single-step-schema.js';
import { suppressionFor, type Suppressions } from '../../corpus/suppressions.js';

/** A recorded instruction, before it is numbered and hashed into its row's file. */
export type RecordedTest = Omit<SingleStepTest, 'idx' | 'hash'>;

export interface RecordedStep {
  /** The opcode row (ALL_ROWS id) its bytes decode to, if any. */
  readonly row: number | undefined;
  /** iced-x86's code name, for instructions no row names. */
  readonly icedCode: string;
  readonly test: RecordedTest;
}

export interface Exclusion {
  readonly case: string;
  readonly step: number;
  readonly name: string;
  readonly reason: string;
}

/** Differing fields tried against suppressions: an entry that matches the form with any of them names the form. */
const PROBE_FIELDS = ['memory', 'gpr', 'rip', 'rflags.CF', 'rflags.PF', 'rflags.AF', 'rflags.ZF', 'rflags.SF', 'rflags.OF', 'exception:6/-', 'exception:13/-'];

/** knownDeviation for SingleStepRecorder from a suppressions file: QEMU results a campaign would not trust either. */
export function deviationsFrom(suppressions: Suppressions | undefined): (form: string) => string | undefined {
  return (form) => {
    for (const f of PROBE_FIELDS) {
      const reason = suppressionFor(suppressions, `${form} :: ${f}`);
      if (reason !== undefined) return reason;
    }
    return undefined;
  };
}

/** Results the oracle's own gdb stub cannot make repeatable: no test can expect them. */
const NONDETERMINISTIC = new Set(['rdtsc', 'rdtscp', 'rdrand', 'rdseed']);

/** The exception frame in 64-bit mode: [error code,] RIP, CS, RFLAGS, RSP, SS. */
const frameBytes = (hasErrorCode: boolean) => (hasErrorCode ? 48 : 40);

/** Memory the test machine maps; operands outside it fault, and no byte of theirs is accessed. */
const mapped = (a: bigint) => a >= 0n && a < LAYOUT.unmapped;

export class SingleStepRecorder {
  private systemLoaded = false;

  constructor(
    private readonly reference: ExecutionTarget,
    private readonly options: {
      readonly maxSteps: number;
      /** Why QEMU is known to be wrong for this instruction form (a suppression names it), if it is. */
      readonly knownDeviation?: (form: string) => string | undefined;
    },
  ) {}

  /** The bytes of the case's compared regions, by address. */
  private async comparedImage(c: Case): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    for (const r of comparedRegions(c)) {
      const bytes = await this.reference.readMemory(r.addr, r.length, 'phys');
      bytes.forEach((b, i) => out.set(Number(r.addr) + i, b));
    }
    return out;
  }

  async record(c: Case): Promise<{ steps: RecordedStep[]; excluded: Exclusion[] }> {
    // the format describes the 64-bit test machine (x86-64 long mode): a legacy-mode case is left out, saying so
    if (caseMode(c) !== 'long64') return { steps: [], excluded: [{ case: c.id, step: 0, name: `(${caseMode(c)} case)`, reason: `the export describes x86-64 long mode; this case runs in ${caseMode(c)}` }] };
    // a step's initial state has no debug registers, MSRs or XCR0 to start a MOV DRn or RDMSR from
    if (c.writesSystemState) return { steps: [], excluded: [{ case: c.id, step: 0, name: '(system case)', reason: 'the export describes the state a gdb stub reads; this case writes debug or model-specific registers it has no field for' }] };
    const machine = machineForCase(c);
    const t = this.reference;
    // a scrubbed test machine, as the lockstep starts every case from
    await t.writeMemory(SCRUBBED.addr, new Uint8Array(SCRUBBED.length), 'phys');
    await t.reset(machine.state, coalesce([...(this.systemLoaded ? [] : systemMemory()), ...zeroedComparedRegions(c), ...machine.caseMemory, machine.trampoline]));
    this.systemLoaded = true;
    const steps: RecordedStep[] = [];
    const excluded: Exclusion[] = [];
    const knownForm = c.expected?.outcome === 'divergence' ? c.expected.signature?.split(' :: ')[0] : undefined;
    let before = await t.readState();
    let image = await this.comparedImage(c);
    for (let step = 0; step < this.options.maxSteps && before.rip !== machine.endAddress; step++) {
      const code = await t.readMemory(before.rip, 15, 'phys');
      const ins = decodeOne(code, before.rip);
      if (ins.invalid) {
        excluded.push({ case: c.id, step, name: '(undecodable)', reason: 'iced-x86 decodes no instruction here, so no instruction length to record' });
        break;
      }
      const bytes = code.subarray(0, ins.length);
      const touched = new Set<number>();
      for (let i = 0; i < ins.length; i++) touched.add(Number(before.rip) + i);
      for (const a of operandByteAddresses(bytes, ins.mnemonic, before)) if (mapped(BigInt(a))) touched.add(a);
      const initial = await readBytes(t, touched);
      const stop = await t.step();
      const after = await t.readState();
      if (stop.kind !== 'step') {
        excluded.push({ case: c.id, step, name: ins.text, reason: `the reference stopped (${stop.kind}) instead of retiring it` });
        break;
      }
      const afterImage = await this.comparedImage(c);
      const exception = await classifyException(after, (a, n) => t.readMemory(a, n, 'virt'));
      const written = new Set<number>();
      for (const [a, b] of afterImage) if (image.get(a) !== b) written.add(a);
      if (exception) for (let i = 0; i < frameBytes(exception.errorCode !== undefined); i++) written.add(Number(after.gpr.rsp) + i);
      const outside = [...written].filter((a) => !touched.has(a) && !image.has(a));
      const form = instructionForm(ins);
      const deviation = this.options.knownDeviation?.(form);
      const reason = NONDETERMINISTIC.has(ins.mnemonic)
        ? 'its result is not repeatable (the harness takes it from QEMU by a declared sync rule)'
        : knownForm !== undefined && form === knownForm
          ? `the case records a known divergence here (${c.expected!.signature}): QEMU is not a reference for it`
          : deviation !== undefined
            ? `a suppression names its form as a known QEMU deviation: ${deviation.split(': ')[0]}`
            : outside.length
            ? `it wrote outside the case's compared memory (at 0x${outside[0]!.toString(16)}), whose prior bytes were not read`
            : undefined;
      if (reason) excluded.push({ case: c.id, step, name: ins.text, reason });
      else {
        for (const a of written) if (!initial.has(a)) initial.set(a, image.get(a)!);
        const addresses = [...initial.keys()].sort((a, b) => a - b);
        const final = await readBytes(t, addresses.filter((a) => !afterImage.has(a)));
        for (const a of addresses) if (afterImage.has(a)) final.set(a, afterImage.get(a)!);
        const regsBefore = stateToRegs(before);
        const flagMask = ins.flags.undefined;
        steps.push({
          row: rowOfEncoding(bytes),
          icedCode: ins.code,
          test: {
            name: ins.text,
            bytes: [...bytes],
            initial: { regs: regsBefore, ram: addresses.map((a) => [a, initial.get(a)!] as [number, number]) },
            final: { regs: changedRegs(regsBefore, stateToRegs(after)), ram: addresses.map((a) => [a, final.get(a)!] as [number, number]) },
            ...(exception
              ? {
                  exception: {
                    number: exception.vector,
                    ...(exception.errorCode !== undefined ? { error_code: exception.errorCode } : {}),
                    flag_address: Number(after.gpr.rsp) + (exception.errorCode !== undefined ? 24 : 16),
                  },
                }
              : {}),
            ...(flagMask ? { undefined_flags: `0x${flagMask.toString(16)}` } : {}),
            source: { case: c.id, step },
          },
        });
      }
      // the handler holds HLT: the case ends with the exception
      if (exception) break;
      before = after;
      image = afterImage;
    }
    return { steps, excluded };
  }
}
