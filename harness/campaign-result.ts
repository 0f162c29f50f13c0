import { z } from 'zod';
import { hex64, hexBytes, hexCodec } from '../contracts/hex.js';
import { MachineStateSchema, MemoryRegionSchema } from '../contracts/machine-state.js';

/**
 * The result of a campaign (fuzz run, CI run, replay): what reports are written from.
 * A zod schema so `result.json` round-trips and `difftest report` can re-render it.
 */
export const FieldDiffSchema = z.object({
  path: z.string(),
  width: z.number().int(),
  expected: hexCodec(128),
  actual: hexCodec(128),
});

export const MemoryDiffSchema = z.object({ addr: hex64, expected: hexBytes, actual: hexBytes });

export const ExceptionSchema = z.object({
  vector: z.number().int(),
  errorCode: z.number().int().optional(),
  cr2: hex64.optional(),
  rip: hex64,
});

export const InstructionSchema = z.object({
  address: hex64,
  bytes: hexBytes,
  text: z.string(),
});

/**
 * Whose bug a divergence is, by a third opinion: the same case run natively on the host CPU
 * (harness/triangulate/). `emulator`: the host agrees with QEMU on every differing field, so the
 * system under test (our emulator unless --dut names another) is wrong; `qemu`: the host agrees
 * with the system under test; `both`: the host agrees with neither (or with each on different
 * fields); `none`: no third opinion, and `reason` says why (a privileged instruction, one the host
 * lacks, one the QEMU model lacks but the host has, a field CPL 3 cannot see…).
 */
export const WhoseBugSchema = z.object({
  verdict: z.enum(['emulator', 'qemu', 'both', 'none']),
  /** One sentence: what the host sided with on which fields, or why it cannot say. */
  reason: z.string(),
  /** Each differing field the host can see, its value on the host, and whom the host sided with. */
  fields: z
    .array(z.object({ field: z.string(), host: z.string(), sides: z.enum(['qemu', 'emulator', 'neither']) }))
    .default([]),
  /** Fields where QEMU and the system under test agree but the host does not (a caveat on the verdict). */
  hostAlsoDiffers: z.array(z.string()).default([]),
  /** The host CPU (its brand string). */
  host: z.string().optional(),
  /** When the verdict was computed on another case: e.g. "group G1's minimized case". */
  from: z.string().optional(),
  /** Wall time of the host run in milliseconds (the cost of the third opinion). */
  ms: z.number().nonnegative().optional(),
});

export const DivergenceReportSchema = z.object({
  /** Instruction form + differing fields: divergences with the same signature are one bug. */
  signature: z.string(),
  /** How many generated cases hit this signature. */
  count: z.number().int().positive(),
  caseId: z.string(),
  /** Corpus file holding the (minimized) case. */
  caseFile: z.string().optional(),
  seed: z.string().optional(),
  /** The minimized program, instruction by instruction. */
  program: z.array(InstructionSchema),
  /** The width its code was decoded in: the case's mode (absent: 64-bit code). */
  codeBits: z.union([z.literal(16), z.literal(32), z.literal(64)]).optional(),
  /** Index in `program` of the first divergent instruction. */
  index: z.number().int(),
  /** Instructions retired before the divergent one (each REP iteration one); differs from `index` when the case loops or jumps. */
  step: z.number().int().nonnegative().optional(),
  initial: MachineStateSchema,
  initialMemory: z.array(MemoryRegionSchema),
  /** Reference state before the divergent instruction. */
  before: MachineStateSchema,
  expected: MachineStateSchema,
  actual: MachineStateSchema,
  diffs: z.array(FieldDiffSchema),
  memoryDiffs: z.array(MemoryDiffSchema),
  expectedException: ExceptionSchema.optional(),
  actualException: ExceptionSchema.optional(),
  /** RFLAGS bits masked as undefined at the divergent instruction. */
  flagMask: hex64,
  /** Exact command that replays this divergence. */
  replayCommand: z.string(),
  /** Minimization: instructions before → after, seconds spent. */
  minimization: z.object({ fromInstructions: z.number().int(), toInstructions: z.number().int(), seconds: z.number() }).optional(),
  /** Known, accepted divergence (suppressions file), reported separately. */
  suppressed: z.object({ reason: z.string() }).optional(),
  /** The root-cause group (RootCauseGroup.id) this signature belongs to. */
  group: z.string().optional(),
  /**
   * How it joined its group: `analyzed` (its own case was minimized and experimented on),
   * `hypothesis` (its divergent instruction has the group's necessary features; not re-run),
   * `unanalyzed` (no group hypothesis covered it before the minimization budget ran out).
   */
  grouping: z.enum(['analyzed', 'hypothesis', 'unanalyzed']).optional(),
  /** Whose bug, by the host CPU's third opinion. */
  whoseBug: WhoseBugSchema.optional(),
});

/** One feature flip on a minimized case, and whether the divergence survived it. */
export const ExperimentSchema = z.object({
  /** The feature flipped, e.g. `REX.B`, `memory operand`, `CF in`. */
  feature: z.string(),
  /** What the variant was, e.g. `REX.B cleared: add rbp, rax`. */
  change: z.string(),
  outcome: z.enum(['agrees', 'diverges', 'other-divergence', 'not-applicable']),
});

/**
 * Divergences with one root cause, inferred by experiment: on a minimized case, flip one
 * encoding or state feature at a time and keep those whose removal makes the divergence go away.
 */
export const RootCauseGroupSchema = z.object({
  /** G1, G2, … by number of cases, largest first. */
  id: z.string(),
  /** What groups are merged on (necessary features, the mnemonic when it matters, else the differing fields). */
  key: z.string(),
  /** One sentence: "diverges when REX.B is set and ModRM.rm names a register; never without". */
  hypothesis: z.string(),
  /** Features whose removal made the divergence disappear. */
  necessary: z.array(z.string()),
  experiments: z.array(ExperimentSchema).default([]),
  /** The signatures in this group (DivergenceReport.signature). */
  signatures: z.array(z.string()),
  /** Generated cases over all its signatures. */
  cases: z.number().int().nonnegative(),
  /** The signature whose minimized case the hypothesis was inferred on; absent when none was analyzed in time. */
  analyzed: z.string().optional(),
  /** Known, accepted (every signature in it matches the same suppression). */
  suppressed: z.object({ reason: z.string() }).optional(),
  /** Whose bug, by the host CPU run on the group's minimized case (every divergence in it carries it too). */
  whoseBug: WhoseBugSchema.optional(),
});

/** The difftest that produced a result (merge refuses results of different versions). */
export const ToolVersionSchema = z.object({
  /** package.json's version. */
  version: z.string(),
  /** The checkout's commit, when it is a git checkout. */
  commit: z.string().optional(),
  /** Uncommitted changes to tracked files at the time of the run. */
  dirty: z.boolean().optional(),
  /** The case generator's version and a hash of the opcode table it draws from. */
  generator: z.string(),
});

/**
 * What a campaign was asked to run, as its result records it: enough to regenerate any of its
 * cases (`difftest merge` re-analyses the merged divergences from them) and to tell whether two
 * results are parts of one campaign (campaign/campaign-spec.ts). Workers, batch size and
 * --timeout are left out: they change how fast cases run, never which cases run or what they
 * find (campaign.int.spec.ts).
 */
export const CampaignSpecSchema = z.object({
  seed: z.string(),
  /** Cases of the whole campaign (a shard runs its share of them)… */
  count: z.number().int().positive().optional(),
  /** …or the --seconds of the run (each shard's budget). */
  seconds: z.number().positive().optional(),
  minimize: z.boolean(),
  /** The minimization budget (a merge of shard results spends it). */
  minimizeSeconds: z.number().nonnegative(),
  mode: z.enum(['block', 'step']),
  families: z.array(z.string()),
  length: z.tuple([z.number().int(), z.number().int()]),
  raw: z.boolean(),
  /** --dut as given (emulator, qemu, gdb:…), --inject and --cpu. */
  dut: z.string(),
  inject: z.array(z.string()),
  cpu: z.string().optional(),
  tool: ToolVersionSchema,
});

/** Which part of a sharded campaign a result holds (`--shard index/count`). */
export const ShardSchema = z.object({ index: z.number().int().positive(), count: z.number().int().positive() });

export const CampaignResultSchema = z.object({
  format: z.literal('difftest-result/1'),
  runId: z.string(),
  command: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  seed: z.string(),
  mode: z.enum(['block', 'step']),
  /** Block mode's guest-side batches: cases per batch, and how many cases their records settled. */
  batch: z.object({ size: z.number().int().positive(), screened: z.number().int().nonnegative() }).optional(),
  workers: z.number().int().positive(),
  oracle: z.object({ implementation: z.string(), cpuModel: z.string() }),
  dut: z.object({
    name: z.string(),
    implementation: z.string(),
    /** Planted bugs switched on (--inject), named in the report's "System under test". */
    mutants: z.array(z.string()).default([]),
    cpuModel: z.string().optional(),
  }),
  testsRun: z.number().int().nonnegative(),
  /** Wall time of the whole run, start-up, minimization and reporting included. */
  seconds: z.number().nonnegative(),
  /** Of `seconds`, the time spent testing (rates are testing rates: testsRun / testingSeconds). */
  testingSeconds: z.number().nonnegative().optional(),
  /** Of `seconds`, the time spent minimizing and analyzing divergences (bounded by --minimize-seconds). */
  minimizeSeconds: z.number().nonnegative().optional(),
  /**
   * Divergent cases whose batch records differed but that were not located in step mode
   * (sampling: a record difference already seen many times is located only now and then).
   * Each is saved (cases/unlocated.jsonl) and replayable.
   */
  unlocated: z.object({ count: z.number().int().nonnegative(), file: z.string().optional() }).optional(),
  /** Cases saved unlocated during testing that the analysis phase then located in step mode (counted in the results). */
  locatedAfterTesting: z.number().int().nonnegative().optional(),
  /** Of `seconds`, the time until every worker had its QEMU and emulator ready. */
  startupSeconds: z.number().nonnegative().optional(),
  /** Campaign interrupted (Ctrl-C) or cut short: the report is partial. */
  partial: z.boolean().default(false),
  divergences: z.array(DivergenceReportSchema),
  /** Divergences grouped by inferred root cause (each signature belongs to one group). */
  groups: z.array(RootCauseGroupSchema).default([]),
  /** Cases where the oracle itself crashed or hung. */
  oracleCrashes: z.array(z.object({ caseId: z.string(), message: z.string() })).default([]),
  /** Opcode-table rows exercised: row id → number of generated instructions. */
  coverage: z.array(z.object({ row: z.string(), count: z.number().int().nonnegative() })).default([]),
  coverageTotalRows: z.number().int().nonnegative().default(0),
  /** Generatable rows no case exercised (the actionable part of coverage). */
  coverageMissing: z.array(z.string()).default([]),
  /** Assembler outputs dropped because the independent decoder disagreed. */
  assemblerRejects: z.array(z.object({ source: z.string(), reason: z.string(), count: z.number().int().positive() })).default([]),
  /** Undefined flags masked: per mnemonic, which bits, how often they actually differed. */
  maskedFlags: z.array(z.object({ mnemonic: z.string(), flags: z.string(), count: z.number().int().positive() })).default([]),
  /** Declared synchronization rules in force (non-determinism that follows the oracle). */
  syncRules: z.array(z.object({ name: z.string(), description: z.string() })).default([]),
  /** What the campaign was asked to run (fuzz, start, ci; merged shards). */
  campaign: CampaignSpecSchema.optional(),
  /** This result holds one shard of the campaign; `difftest merge` joins the shards. */
  shard: ShardSchema.optional(),
});

export type FieldDiffJson = z.input<typeof FieldDiffSchema>;
export type DivergenceReport = z.output<typeof DivergenceReportSchema>;
export type CampaignResult = z.output<typeof CampaignResultSchema>;
export type CampaignResultJson = z.input<typeof CampaignResultSchema>;
export type RootCauseGroup = z.output<typeof RootCauseGroupSchema>;
export type Experiment = z.output<typeof ExperimentSchema>;
export type CampaignSpec = z.output<typeof CampaignSpecSchema>;
export type ToolVersion = z.output<typeof ToolVersionSchema>;
export type WhoseBug = z.output<typeof WhoseBugSchema>;
