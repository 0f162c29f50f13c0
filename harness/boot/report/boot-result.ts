import { z } from 'zod';
import { hex64, hexBytes } from '../../../contracts/hex.js';
import { MachineStateSchema } from '../../../contracts/machine-state.js';

/**
 * The boot lockstep's result file (`result.json`): what ran (kernel, QEMU, start point, rules),
 * how far the two machines agreed, and the first mismatch with its explanation and trace. The
 * Markdown report is rendered from it.
 */

const BitRangeSchema = z.object({ bits: z.string(), expected: z.string(), actual: z.string(), status: z.enum(['ok', 'WRONG']) });

const DiffSchema = z.object({
  path: z.string(),
  width: z.number().int(),
  expected: z.string(),
  actual: z.string(),
  differingBits: z.string(),
  ranges: z.array(BitRangeSchema),
});

const MemoryDiffSchema = z.object({
  phys: hex64,
  lin: hex64.optional(),
  expected: hexBytes,
  actual: hexBytes,
  source: z.enum(['emulator-write', 'operand', 'checkpoint']),
  lastEmulatorWriter: z.string().optional(),
});

const PageWalkSchema = z.object({
  cr3: hex64,
  levels: z.array(z.object({ name: z.string(), entryAddr: hex64, value: hex64, flags: z.string() })),
  phys: hex64.optional(),
  end: z.string(),
});

const AddressWalksSchema = z.object({ address: hex64, why: z.string(), qemu: PageWalkSchema, emulator: PageWalkSchema });

const TraceInputSchema = z.object({
  kind: z.enum(['register', 'memory', 'address']),
  what: z.string(),
  value: z.string(),
  writer: z.string(),
  writerIndex: z.number().int().optional(),
  note: z.string().optional(),
});

const TraceSchema = z.object({
  value: z.string(),
  summary: z.string(),
  steps: z.array(z.object({ index: z.number().int(), rip: hex64, location: z.string(), text: z.string(), inputs: z.array(TraceInputSchema) })),
});

const InstructionLineSchema = z.object({
  index: z.number().int(),
  rip: hex64,
  location: z.string(),
  bytes: hexBytes,
  text: z.string(),
  followed: z.array(z.string()),
  devices: z.array(z.string()),
});

export const BootResultSchema = z.object({
  schema: z.literal('difftest-boot/1'),
  startedAt: z.string(),
  kernel: z.object({ version: z.string(), elf: z.string(), initrd: z.string(), pvhEntry: hex64, symbols: z.number().int(), symbolsNote: z.string().optional() }),
  qemu: z.object({ version: z.string(), cpu: z.string(), memoryMiB: z.number().int(), append: z.string(), icountMode: z.string() }),
  dut: z.string(),
  mutants: z.array(z.string()),
  channel: z.enum(['gdb', 'log', 'block']),
  command: z.string(),
  from: z.object({ spec: z.string(), label: z.string(), icount: z.number().int(), rip: hex64, location: z.string() }),
  until: z.string().optional(),
  timings: z.object({
    assetsSeconds: z.number(),
    reachStartSeconds: z.number(),
    snapshot: z.object({ registersMs: z.number(), msrsMs: z.number(), ramMs: z.number() }),
    transplantMs: z.number(),
    lockstepSeconds: z.number(),
    instructionsPerSecond: z.number(),
  }),
  transplant: z.object({
    stateDiffs: z.array(z.string()),
    ramPagesDiffering: z.number().int(),
    msrsLoaded: z.array(z.string()),
    msrsNotModelled: z.array(z.object({ name: z.string(), value: hex64 })),
    notCarried: z.array(z.string()),
  }),
  result: z.object({
    end: z.enum(['mismatch', 'until', 'budget', 'interrupted', 'halted', 'shutdown', 'error']),
    compared: z.number().int(),
    icountStart: z.number().int(),
    icountEnd: z.number().int(),
    error: z.string().optional(),
    endLocation: z.string(),
  }),
  rules: z.array(z.object({ name: z.string(), description: z.string(), count: z.number().int() })),
  maskedFlags: z.array(z.object({ mnemonic: z.string(), count: z.number().int() })),
  checkpoints: z.array(z.object({ index: z.number().int(), ms: z.number(), pagesDiffering: z.number().int(), systemDiffs: z.array(z.string()) })),
  mismatch: z
    .object({
      index: z.number().int(),
      icount: z.number().int(),
      rip: hex64,
      location: z.string(),
      bytes: hexBytes,
      text: z.string(),
      found: z.enum(['step', 'checkpoint']),
      explanation: z.array(z.string()),
      diffs: z.array(DiffSchema),
      memory: z.array(MemoryDiffSchema),
      devices: z.array(z.string()),
      qemuStop: z.string(),
      emulatorStop: z.string(),
      flagMask: hex64,
      before: MachineStateSchema,
      expected: MachineStateSchema,
      actual: MachineStateSchema,
      trace: z.array(TraceSchema),
      /** The page walk of every address the mismatch involves, on both sides. */
      pageWalks: z.array(AddressWalksSchema).optional(),
      /** When QEMU's tables were read later than the mismatch (the log channel's QEMU runs ahead). */
      pageWalksNote: z.string().optional(),
    })
    .optional(),
  reproduce: z.object({ command: z.string(), nearby: z.string().optional(), nearbyNote: z.string().optional() }),
  lastInstructions: z.array(InstructionLineSchema),
  serial: z.object({ qemuFile: z.string(), emulatorFile: z.string(), qemuLastLine: z.string(), emulatorLastLine: z.string() }),
  notes: z.array(z.string()),
  /** The block channel's own run, and the log channel's re-run that located its mismatch. */
  blockRun: z
    .object({
      blocks: z.number().int(),
      compared: z.number().int(),
      seconds: z.number(),
      end: z.string(),
      rerunSeconds: z.number().optional(),
      /** The instruction the re-run started from: 0 (the start point) or the last clean checkpoint. */
      rerunFrom: z.number().int().optional(),
      rerunEnd: z.string().optional(),
      rerunCompared: z.number().int().optional(),
      /** What QEMU's records said of the block that differed, and where the emulator went (block-lockstep.ts FailedBlock). */
      failedBlock: z.string().optional(),
    })
    .optional(),
  /** A checkpoint's difference, re-run to the first instruction whose writes differ (memory-bisect.ts). */
  memoryBisection: z
    .object({
      /** A checkpoint's difference, or a register difference whose memory before it was checked. */
      trigger: z.enum(['checkpoint', 'register']).default('checkpoint'),
      checkpointIndex: z.number().int(),
      lastGoodIndex: z.number().int(),
      levels: z.array(z.object({ channel: z.enum(['log', 'gdb']), from: z.number().int(), to: z.number().int(), every: z.number().int(), seconds: z.number(), outcome: z.string() })),
      seconds: z.number(),
      located: z.boolean(),
      note: z.string().optional(),
    })
    .optional(),
});

export type BootResult = z.output<typeof BootResultSchema>;
export type BootResultJson = z.input<typeof BootResultSchema>;

export function encodeBootResult(r: BootResult): BootResultJson {
  return BootResultSchema.encode(r);
}

export function decodeBootResult(json: unknown): BootResult {
  return BootResultSchema.decode(json as BootResultJson);
}

/**
 * What the report says of a bisection (markdown and HTML): a heading and one paragraph, in plain
 * text (each renderer escapes it).
 */
export function describeBisection(b: NonNullable<BootResult['memoryBisection']>): { heading: string; text: string } {
  const n = (x: number) => `#${x.toLocaleString('en-US')}`;
  const how = "QEMU relaunched to a clean point's exact instruction count and the emulator restored from its snapshot there";
  if (b.trigger === 'register') {
    return {
      heading: 'Memory checked before the register difference',
      text: `Registers first differed at ${n(b.checkpointIndex)}, after the last full-memory check at ${n(b.lastGoodIndex)}; an earlier wrong write read back would show up the same way, so the stretch was re-run (${how}) ${b.located ? 'with every write compared up to that instruction' : `without finishing the check: ${b.note ?? ''}`} (${b.seconds.toFixed(1)} s):`,
    };
  }
  return {
    heading: 'Located from a checkpoint',
    text: `The full-memory checkpoint after ${n(b.checkpointIndex)} differed (the last clean point: ${n(b.lastGoodIndex)}). The stretch was re-run (${how}) ${b.located ? 'to the first instruction whose writes differ' : `without reaching one instruction: ${b.note ?? ''}`} (${b.seconds.toFixed(1)} s):`,
  };
}
