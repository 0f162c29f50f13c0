/**
 * The files `difftest export --format singlesteptests` writes, as zod schemas: per-instruction
 * tests in the spirit of the SingleStepTests corpora (github.com/SingleStepTests: 8088, 80386…),
 * for x86-64 long mode, with QEMU as the reference. The JSON Schema beside every export (and in
 * docs/) is generated from these (single-step-json-schema.ts), so the two cannot drift apart.
 *
 * Plain JSON types only (no codecs): the files are meant for emulator projects in any language.
 * 64-bit and wider register values are "0x…" strings (JSON numbers lose precision above 2^53);
 * addresses and bytes in `ram` are numbers, as SingleStepTests has them.
 */
import { z } from 'zod';

export const EXPORT_FORMAT = 'difftest-singlestep/1';

const hex = z.string().regex(/^0x[0-9a-f]+$/).describe('a value as a "0x…" lowercase hex string');

/** Register names in a test's `regs`, in the order files list them. */
export const REGISTER_NAMES = [
  'rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15',
  'rip', 'rflags', 'cs', 'ss', 'ds', 'es', 'fs', 'gs', 'fs_base', 'gs_base', 'kernel_gs_base',
  'cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer',
  'fcw', 'fsw', 'fpr0', 'fpr1', 'fpr2', 'fpr3', 'fpr4', 'fpr5', 'fpr6', 'fpr7',
  'mxcsr', 'xmm0', 'xmm1', 'xmm2', 'xmm3', 'xmm4', 'xmm5', 'xmm6', 'xmm7',
  'xmm8', 'xmm9', 'xmm10', 'xmm11', 'xmm12', 'xmm13', 'xmm14', 'xmm15',
] as const;
export type RegisterName = (typeof REGISTER_NAMES)[number];

const registerDoc =
  'rax…r15, rip, rflags; cs/ss/ds/es/fs/gs are selectors (their descriptors are in the GDT of machine.json); fs_base, gs_base, ' +
  'kernel_gs_base; cr0/2/3/4/8, efer; fcw, fsw (with TOP) and fpr0…fpr7, the x87 data registers in physical order ' +
  '(80-bit values; ST(i) is fpr[(TOP + i) mod 8]); mxcsr, xmm0…xmm15 (128-bit)';

const Regs = z.partialRecord(z.enum(REGISTER_NAMES), hex).describe(registerDoc);

/** [address, byte]: one byte of memory (physical = linear on the test machine). */
const RamEntry = z.tuple([z.number().int().nonnegative(), z.number().int().min(0).max(255)]);

export const SingleStepTestSchema = z
  .object({
    idx: z.number().int().nonnegative().describe('position of the test in its file'),
    name: z.string().describe('disassembly of the instruction (nasm syntax, as iced-x86 prints it)'),
    bytes: z.array(z.number().int().min(0).max(255)).min(1).max(15).describe('the instruction bytes (also in initial.ram, at rip)'),
    initial: z
      .object({
        regs: Regs.describe(`every register, before the instruction: ${registerDoc}`),
        ram: z.array(RamEntry).describe('every byte the instruction fetches, reads or writes, before it runs, over the memory of machine.json'),
      })
      .strict(),
    final: z
      .object({
        regs: Regs.describe('the registers whose value changed (all of rflags when any flag changed); the others keep their initial value'),
        ram: z.array(RamEntry).describe('the bytes of initial.ram, in the same order, after the instruction (changed or not)'),
      })
      .strict(),
    exception: z
      .object({
        number: z.number().int().min(0).max(255).describe('the vector delivered (32 stands for any vector from 32 up: they share one handler)'),
        error_code: z.number().int().optional(),
        flag_address: z.number().int().nonnegative().describe('where the delivery pushed RFLAGS (mask its undefined flags there too)'),
      })
      .strict()
      .optional()
      .describe('present when the instruction raised an exception: the final state is at the handler, after the delivery'),
    undefined_flags: hex.optional().describe('RFLAGS bits the instruction leaves architecturally undefined: compare rflags with them masked'),
    source: z.object({ case: z.string(), step: z.number().int().nonnegative() }).strict().describe('the difftest case and the instruction index in it'),
    hash: z.string().regex(/^[0-9a-f]{40}$/).describe('SHA-1 of the test without idx and hash: identifies it across exports'),
  })
  .strict();
export type SingleStepTest = z.infer<typeof SingleStepTestSchema>;

/** One file: the tests of one opcode row. */
export const SingleStepFileSchema = z.array(SingleStepTestSchema);

export const ExportIndexSchema = z
  .object({
    format: z.literal(EXPORT_FORMAT),
    reference: z.object({ implementation: z.string(), cpuModel: z.string() }).strict().describe('what produced the final states'),
    createdAt: z.string(),
    machine: z.string().describe('the file with the test machine every test runs on (machine.json)'),
    schema: z.string().describe('the JSON Schema of the test files'),
    files: z
      .array(
        z
          .object({
            file: z.string(),
            row: z.string().describe('the opcode row (emulator/isa) its tests exercise, or the iced-x86 code of an instruction no row names'),
            tests: z.number().int().nonnegative(),
          })
          .strict(),
      )
      .describe('one file per opcode row'),
    tests: z.number().int().nonnegative(),
    sources: z.array(z.string()).describe('what was exported'),
    excluded: z
      .array(z.object({ case: z.string(), step: z.number().int(), name: z.string(), reason: z.string() }).strict())
      .describe('instructions left out, each with why (nondeterministic, a known QEMU deviation, the case ended)'),
  })
  .strict();
export type ExportIndex = z.infer<typeof ExportIndexSchema>;

export const MachineFileSchema = z
  .object({
    format: z.literal(EXPORT_FORMAT),
    description: z.string(),
    regions: z.array(z.object({ addr: z.number().int().nonnegative(), bytes: z.string().regex(/^([0-9a-f]{2})*$/) }).strict()).describe('memory every test starts from; everything else is zero'),
    mapped: z.object({ from: z.number().int(), to: z.number().int() }).strict().describe('identity-mapped addresses [from, to); others are not present (#PF)'),
    regs: Regs.describe('registers every test sets to these values (the tests list them too)'),
    gdtr: z.object({ base: z.number().int(), limit: z.number().int() }).strict(),
    idtr: z.object({ base: z.number().int(), limit: z.number().int() }).strict(),
    exceptionHandlers: z.array(z.number().int()).describe('handler address of vectors 0…31, then the one of vectors 32…255; each holds HLT'),
  })
  .strict();
export type MachineFile = z.infer<typeof MachineFileSchema>;
