import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { hex64, hexBytes } from '../contracts/hex.js';
import { GPR_NAMES, MemoryRegionSchema, SseSchema, type GprName } from '../contracts/machine-state.js';
import { caseRegionProblem, LAYOUT, MAX_CODE_BYTES } from '../contracts/test-machine.js';

/**
 * A replayable test case on the test machine: code, initial registers and memory, which
 * memory to compare, what was expected, and where it came from. Stored as JSON; every field
 * goes through this schema (nothing parses case files by hand).
 */
export const CASE_FORMAT = 'difftest-case/1';

export const CaseSchema = z.object({
  format: z.literal(CASE_FORMAT),
  id: z.string().min(1),
  name: z.string().optional(),
  /**
   * The CPU mode and test machine the case runs on: long64 (the default) is 64-bit code on the
   * 64-bit machine (contracts/test-machine.ts); protected32 is 32-bit code in legacy protected
   * mode on the 32-bit machine (contracts/test-machine-32.ts), compared on the 32-bit register view;
   * real16 is 16-bit code in real mode on the real-mode machine (contracts/test-machine-16.ts), its
   * FS/GS bases those of the selectors fsBase/16 and gsBase/16.
   */
  mode: z.enum(['long64', 'protected32', 'real16']).optional(),
  /** Code placed at the test machine's code address. */
  code: hexBytes,
  /** The assembly the code came from, one instruction per line (informational). */
  asm: z.array(z.string()).optional(),
  regs: z
    .object(Object.fromEntries(GPR_NAMES.map((n) => [n, hex64.optional()])) as Record<GprName, z.ZodOptional<typeof hex64>>)
    .strict()
    .default({}),
  rflags: hex64.optional(),
  /** FS/GS segment bases (for FS:/GS: overrides). */
  fsBase: hex64.optional(),
  gsBase: hex64.optional(),
  /**
   * Initial MXCSR and XMM0–XMM15 (default: MXCSR 0x1F80, zeros). Generated cases load what they
   * use in a prologue; an instruction isolated from a run keeps the XMM state it ran with.
   */
  sse: SseSchema.optional(),
  /** Extra memory (physical = virtual on the test machine). */
  memory: z.array(MemoryRegionSchema).default([]),
  /** Memory compared after the run; defaults to the case's memory regions plus the top stack page. */
  compare: z.array(z.object({ addr: hex64, length: z.number().int().positive().max(0x10000) })).optional(),
  /**
   * Leading instructions that reset state a gdb stub cannot (MSRs outside its register set,
   * debug registers, XCR0: the system family's prologue): the minimizer keeps them.
   */
  keep: z.number().int().positive().optional(),
  /**
   * The case writes control, debug or model-specific registers (the system family): targets redo
   * their full system setup before it and after it, and it runs alone, never in a batch.
   */
  writesSystemState: z.boolean().optional(),
  /** Instruction budget. */
  maxSteps: z.number().int().positive().max(1_000_000).default(1000),
  expected: z
    .object({
      outcome: z.enum(['match', 'divergence']),
      /** Divergence signature (instruction form + differing fields) for known divergences. */
      signature: z.string().optional(),
    })
    .optional(),
  provenance: z.object({
    generator: z.string(),
    generatorVersion: z.string().optional(),
    seed: z.string().optional(),
    createdAt: z.string().optional(),
    oracle: z.string().optional(),
    cpuModel: z.string().optional(),
    note: z.string().optional(),
  }),
});
export type Case = z.output<typeof CaseSchema>;
export type CaseMode = NonNullable<Case['mode']>;

/** The mode a case runs in (absent: long64). */
export const caseMode = (c: Pick<Case, 'mode'>): CaseMode => c.mode ?? 'long64';

/** The width of the case's code, for decoding it. */
export const caseCodeBits = (c: Pick<Case, 'mode'>): 16 | 32 | 64 => {
  const mode = caseMode(c);
  return mode === 'long64' ? 64 : mode === 'protected32' ? 32 : 16;
};
/** The RIP of the case's first instruction: LAYOUT.code, or offset 0 in real mode's CS (whose base is LAYOUT.code). */
export const caseCodeAddress = (c: Pick<Case, 'mode'>): bigint => (caseMode(c) === 'real16' ? 0n : LAYOUT.code);
export type CaseJson = z.input<typeof CaseSchema>;

export class CaseFileError extends Error {
  override readonly name = 'CaseFileError';
}

/**
 * What the test machine has no room for, as `path: problem` (the schema's own form). Checked
 * here, on decode only, rather than as schema refinements, which zod also runs on encode: saving
 * a case must never fail.
 */
function testMachineProblems(c: Case): string[] {
  const out: string[] = [];
  if (c.code.length > MAX_CODE_BYTES) out.push(`code: ${c.code.length} bytes; the test machine holds at most ${MAX_CODE_BYTES} bytes of code`);
  c.memory.forEach((m, i) => {
    const problem = caseRegionProblem(m.addr, m.bytes.length);
    if (problem) out.push(`memory.${i}: ${problem}`);
  });
  c.compare?.forEach((r, i) => {
    const problem = caseRegionProblem(r.addr, r.length);
    if (problem) out.push(`compare.${i}: ${problem}`);
  });
  return out;
}

/** Validate parsed JSON; the error names the file and the zod path of the first problems. */
export function decodeCase(json: unknown, source = '<case>'): Case {
  const r = CaseSchema.safeDecode(json as CaseJson);
  const issues = r.success ? testMachineProblems(r.data) : r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
  if (!r.success || issues.length) {
    throw new CaseFileError(`${source}: not a valid difftest case (${issues.slice(0, 3).join('; ')}); fix the field or regenerate the case`);
  }
  return r.data;
}

export function encodeCase(c: Case): CaseJson {
  return CaseSchema.encode(c);
}

/** Why a case file could not be read, as one line. */
export function unreadableCaseFile(file: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EISDIR') return `${file}: is a directory; pass a case file`;
  if (code === 'ENOENT') return `${file}: no such file`;
  return `${file}: cannot read (${code ?? (err as Error).message})`;
}

export async function readCaseFile(file: string): Promise<Case> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CaseFileError(unreadableCaseFile(file, err));
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CaseFileError(`${file}: not JSON (${(err as Error).message})`);
  }
  return decodeCase(json, file);
}
