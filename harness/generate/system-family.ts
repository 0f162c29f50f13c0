/**
 * The `system` family: privileged instructions at CPL 0, on the 64-bit test machine, with the
 * values that decide what they do. A random MOV to CR0 or WRMSR would wreck the test machine
 * (paging off, another CR3, a GDT elsewhere), so each instruction comes from a template that draws
 * its operands from value classes: the machine's own value with one or two bits flipped (some
 * reserved, some that #GP in long mode), MSR values canonical or not, PAT types valid or not, XCR0
 * masks the model has or not. Every write is followed by the read that shows what stuck, and some
 * by an instruction the new value changes (SSE after CR0.TS or CR4.OSFXSR, a DR4 read after
 * CR4.DE, a data access after EFER.NXE is cleared: the page tables' NX bits become reserved).
 *
 * State a gdb stub cannot reset (MSRs outside its register set, debug registers, XCR0) would carry
 * over from case to case in QEMU: each case starts with a prologue that writes what its templates
 * touch to the reset values (`keep` instructions the minimizer leaves in place), and a template
 * reads only what it wrote itself.
 *
 * Not generated: what no template makes safe (LGDT/LIDT/LLDT/LTR, MOV to CR3 of another table,
 * HLT, STI with devices running, IN/OUT), nor the #GP these raise at CPL 3: `difftest explore`
 * runs every encoding at CPL 3 on both sides.
 */
import { CR0_TEST, CR4_TEST, EFER_TEST, LAYOUT } from '../../contracts/test-machine.js';
import { CASE_FORMAT, type Case } from '../../corpus/case-schema.js';
import type { Feature } from '../../emulator/isa/row.js';
import { assembleCheckedLean } from '../asm/assembler.js';
import type { KeystoneX86 } from '../asm/keystone.js';
import { stackWindow } from './program.js';
import { rowOfEncoding } from './row-of-encoding.js';
import { GENERATOR_NAME, GENERATOR_VERSION, type AssemblyOutcome, type GenerationReject } from './to-case.js';
import { xorshift64Next } from './xorshift64.js';

/** Draws from a case seed (xorshift64; the same seed, the same case). */
export class SystemRng {
  private readonly s: Uint32Array;

  constructor(seed: number) {
    this.s = Uint32Array.of(seed | 1, Math.imul(seed ^ 0x5bd1e995, 0x9e3779b9) >>> 0 || 1);
    for (let i = 0; i < 4; i++) xorshift64Next(this.s);
  }

  u32(): number {
    xorshift64Next(this.s);
    return this.s[1]!;
  }

  /** 0 ≤ n < max. */
  int(max: number): number {
    return this.u32() % max;
  }

  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
}

const hex = (v: bigint | number): string => `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;
const bit = (n: number): bigint => 1n << BigInt(n);

/** A 64-bit value biased to the edges: canonical addresses, their neighbours, all ones, small numbers. */
function address(r: SystemRng, canonicalOnly = false): bigint {
  const edges = [0n, 0x00007fffffffffffn, 0xffff800000000000n, 0xffffffffffffffffn, LAYOUT.data, 0xffffffff81000000n];
  const bad = [0x0000800000000000n, 0x8000000000000000n, 0x7fffffffffffffffn, 0xfffe800000000000n];
  const k = r.int(canonicalOnly ? 3 : 4);
  if (k === 0) return r.pick(edges);
  if (k === 1) return BigInt.asUintN(64, BigInt.asIntN(48, r.u64())); // canonical, random
  if (k === 2) return r.u64() & 0xffffn;
  return r.chance(0.5) ? r.pick(bad) : r.u64();
}

/** `value` with one or two of `bits` flipped (each drawn). */
function flipped(r: SystemRng, value: bigint, bits: readonly number[]): bigint {
  let v = value ^ bit(r.pick(bits));
  if (r.chance(0.35)) v ^= bit(r.pick(bits));
  return v;
}

/** Loads a 64-bit value into a register (one MOV; keystone picks the shortest form). */
const load = (reg: string, v: bigint): string => `mov ${reg}, ${hex(v)}`;
/** EDX:EAX = v, ECX = index: WRMSR's operands. */
const msrOperands = (index: number, v: bigint): string[] => [`mov ecx, ${hex(index)}`, `mov eax, ${hex(v & 0xffffffffn)}`, `mov edx, ${hex(v >> 32n)}`];

/** Something that differs when CR0.TS/EM/MP or CR4.OSFXSR changed: an SSE move, or x87 with a wait. */
function fpProbe(r: SystemRng): string[] {
  return r.pick([['movaps xmm1, xmm2'], ['fld1', 'fwait'], ['fninit'], ['pxor mm0, mm1'], ['fxsave [rdi]']]);
}

interface MsrSpec {
  readonly index: number;
  readonly name: string;
  /** The value a QEMU reset leaves (the prologue writes it back), when the MSR is writable. */
  readonly reset?: bigint;
  readonly value?: (r: SystemRng) => bigint;
  readonly needs?: Feature;
}

const PAT_RESET = 0x0007040600070406n;
function patValue(r: SystemRng): bigint {
  let v = 0n;
  for (let i = 0; i < 8; i++) v |= BigInt(r.chance(0.9) ? r.pick([0, 1, 4, 5, 6, 7]) : r.pick([2, 3, 8, 0x10, 0xff])) << BigInt(8 * i);
  return v;
}

/**
 * MSRs the family writes and reads back (with their reset values) or only reads. Indices from the
 * SDM Vol. 4; which of them QEMU's `-cpu` model knows, and the #GP for the rest, is what is compared.
 */
export const SYSTEM_MSRS: readonly MsrSpec[] = [
  { index: 0xc0000081, name: 'STAR', reset: 0n, value: (r) => r.u64() },
  { index: 0xc0000082, name: 'LSTAR', reset: 0n, value: (r) => address(r) },
  { index: 0xc0000083, name: 'CSTAR', reset: 0n, value: (r) => address(r) },
  { index: 0xc0000084, name: 'SFMASK', reset: 0n, value: (r) => (r.chance(0.7) ? r.u64() & 0xffffffffn : r.u64()) },
  { index: 0xc0000102, name: 'KERNEL_GS_BASE', reset: 0n, value: (r) => address(r) },
  { index: 0x174, name: 'SYSENTER_CS', reset: 0n, value: (r) => (r.chance(0.7) ? r.u64() & 0xffffn : r.u64()) },
  { index: 0x175, name: 'SYSENTER_ESP', reset: 0n, value: (r) => address(r) },
  { index: 0x176, name: 'SYSENTER_EIP', reset: 0n, value: (r) => address(r) },
  { index: 0x277, name: 'PAT', reset: PAT_RESET, value: patValue },
  { index: 0xc0000103, name: 'TSC_AUX', reset: 0n, value: (r) => (r.chance(0.8) ? r.u64() & 0xffffffffn : r.u64()), needs: 'rdtscp' },
  // read only here: constant in a -cpu model, or set by the machine
  { index: 0x1b, name: 'APIC_BASE' },
  { index: 0x8b, name: 'UCODE_REV' },
  { index: 0xfe, name: 'MTRRCAP' },
  { index: 0x179, name: 'MCG_CAP' },
  { index: 0x17a, name: 'MCG_STATUS' },
  { index: 0x1a0, name: 'MISC_ENABLE' },
  { index: 0x2ff, name: 'MTRR_DEF_TYPE' },
  { index: 0xc0000080, name: 'EFER' },
  { index: 0x3a, name: 'FEATURE_CONTROL' },
  // no MSR at all in these models: #GP(0) on both sides, or a value where one side has one
  { index: 0x12345678, name: 'unassigned' },
  { index: 0xc0001000, name: 'unassigned' },
  { index: 0x40000000, name: 'hypervisor range' },
  { index: 0x0, name: 'P5_MC_ADDR' },
];

/** What a template needs reset before the case: MSRs by index, the debug registers, XCR0. */
type Scrub = number | 'dr' | 'xcr0';

interface TemplateContext {
  readonly features: ReadonlySet<Feature>;
  /** Registers the template may use as its operand (never RSP: the stop needs a stack). */
  readonly reg: () => string;
}

interface SystemTemplate {
  readonly name: string;
  readonly needs?: Feature;
  readonly weight: number;
  /** The lines, and what they leave behind that the prologue must reset in the next case. */
  emit(r: SystemRng, c: TemplateContext): { lines: string[]; touches?: Scrub[] };
}

const CR0_BITS = [0, 1, 2, 3, 4, 5, 16, 18, 29, 30, 31, 6, 17, 28, 32, 40, 63];
// CR4: the bits every model has (PAE cleared in IA-32e mode is #GP) and those a CPUID feature of
// the model makes valid. Not reserved ones, nor the bit of a feature the model lacks: QEMU 7.2 takes
// them to an SVM #VMEXIT (no guest runs) that re-runs the instruction until the block budget ends
// the case, and leaves QEMU answering later instructions of the campaign with #GP where they #UD
// (20,317 system cases with them left out agree). Their #GP(0) (SDM) is checked by the regression
// cases qemu-bug-cr4-reserved-bit.json and qemu-bug-cr3-reserved-bit.json instead.
const CR4_BASE_BITS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const CR4_FEATURE_BITS: ReadonlyArray<[Feature, number]> = [['umip', 11], ['fsgsbase', 16], ['pcid', 17], ['xsave', 18], ['smep', 20], ['smap', 21]];
function cr4Value(r: SystemRng, features: ReadonlySet<Feature>): bigint {
  return flipped(r, CR4_TEST, [...CR4_BASE_BITS, ...CR4_FEATURE_BITS.filter(([f]) => features.has(f)).map(([, b]) => b)]);
}
const EFER_BITS = [0, 8, 10, 11, 12, 13, 14, 15, 1, 9, 16, 32];

export const SYSTEM_TEMPLATES: readonly SystemTemplate[] = [
  {
    name: 'read CRn',
    weight: 2,
    emit: (r, c) => ({ lines: [`mov ${c.reg()}, cr${r.pick([0, 2, 3, 4, 8])}`] }),
  },
  {
    name: 'write CR0',
    weight: 4,
    emit: (r, c) => {
      const reg = c.reg();
      return { lines: [load(reg, flipped(r, CR0_TEST, CR0_BITS)), `mov cr0, ${reg}`, `mov ${reg}, cr0`, ...(r.chance(0.5) ? fpProbe(r) : [])] };
    },
  },
  {
    name: 'write CR4',
    weight: 5,
    emit: (r, c) => {
      const reg = c.reg();
      // what the bit flipped changes: DR4 (#UD with DE), SSE (#UD without OSFXSR), XGETBV (#UD
      // without OSXSAVE), RDFSBASE (#UD without FSGSBASE), CLAC (SMAP's)
      const xgetbv = c.features.has('xsave') && r.chance(0.15);
      const after = xgetbv ? ['xor ecx, ecx', 'xgetbv'] : r.pick([[], ['mov rax, dr4'], ['movaps xmm1, xmm2'], ['rdfsbase rax'], ['clac']]);
      return { lines: [load(reg, cr4Value(r, c.features)), `mov cr4, ${reg}`, `mov ${reg}, cr4`, ...after], touches: xgetbv ? ['xcr0'] : [] };
    },
  },
  {
    name: 'write CR2/CR8',
    weight: 2,
    emit: (r, c) => {
      const reg = c.reg();
      const cr8 = r.chance(0.6);
      const v = cr8 ? (r.chance(0.8) ? BigInt(r.int(16)) : r.pick([16n, 0x100n, r.u64()])) : r.u64();
      return { lines: [load(reg, v), `mov cr${cr8 ? 8 : 2}, ${reg}`, `mov ${reg}, cr${cr8 ? 8 : 2}`] };
    },
  },
  {
    name: 'reload CR3',
    weight: 1,
    emit: (r) => {
      // the same table, with its cache-control bits (PWT, PCD); not a bit above the physical-address
      // width (QEMU's SVM #VMEXIT again: see CR4 above)
      const extra = r.pick([0n, 0x8n, 0x10n, 0x18n]);
      return { lines: ['mov rax, cr3', ...(extra ? [load('rbx', extra), 'or rax, rbx'] : []), 'mov cr3, rax', 'mov rcx, cr3'] };
    },
  },
  {
    name: 'MOV DRn',
    weight: 3,
    emit: (r, c) => {
      const reg = c.reg();
      const n = r.pick([0, 1, 2, 3, 6, 7, 4, 5]);
      // DR7's enable bits stay clear (a breakpoint would fire in the next case's code on one side only)
      const v = n < 4 ? address(r) : n === 6 || n === 4 ? (r.chance(0.8) ? r.u64() & 0xffffffffn : r.u64()) : (r.chance(0.8) ? r.u64() & 0xffffdf00n : r.u64() & ~0x20ffn);
      return { lines: [load(reg, v), `mov dr${n}, ${reg}`, `mov ${reg}, dr${n}`], touches: ['dr'] };
    },
  },
  {
    name: 'WRMSR/RDMSR',
    weight: 6,
    emit: (r, c) => {
      const writable = SYSTEM_MSRS.filter((m) => m.value && (!m.needs || c.features.has(m.needs)));
      const m = r.pick(writable);
      return { lines: [...msrOperands(m.index, m.value!(r)), 'wrmsr', 'xor eax, eax', 'xor edx, edx', 'rdmsr'], touches: [m.index] };
    },
  },
  {
    name: 'RDMSR',
    weight: 3,
    emit: (r) => {
      const m = r.pick(SYSTEM_MSRS.filter((x) => !x.value));
      return { lines: [`mov ecx, ${hex(m.index)}`, 'rdmsr'] };
    },
  },
  {
    name: 'WRMSR EFER',
    weight: 2,
    emit: (r) => {
      const v = flipped(r, EFER_TEST, EFER_BITS);
      // With NXE cleared, the stack's and data page's NX bits are reserved: the push faults (#PF,
      // RSVD). Whether a translation cached before the WRMSR still serves is the TLB's business
      // (QEMU's keeps it, the emulator's is flushed): CR3 is reloaded so that both walk again.
      return { lines: [...msrOperands(0xc0000080, v), 'wrmsr', 'rdmsr', 'mov rbx, cr3', 'mov cr3, rbx', ...(r.chance(0.5) ? ['push rax', 'pop rax'] : [])] };
    },
  },
  {
    name: 'SWAPGS',
    weight: 2,
    emit: (r) => ({ lines: [...msrOperands(0xc0000102, address(r, true)), 'wrmsr', 'swapgs', ...(r.chance(0.3) ? ['swapgs'] : []), 'mov ecx, 0xc0000102', 'rdmsr'], touches: [0xc0000102] }),
  },
  {
    name: 'INVLPG/WBINVD/INVD/CLTS/LMSW',
    weight: 3,
    emit: (r, c) => {
      const reg = c.reg();
      return {
        lines: r.pick([
          [`invlpg [${reg}]`],
          [`invlpg [rip+${r.int(0x100)}]`],
          ['wbinvd'],
          ['invd'],
          ['mov rax, cr0', 'bts rax, 3', 'mov cr0, rax', 'clts', 'mov rbx, cr0'],
          // LMSW from memory (keystone and iced disagree on how the register form spells its operand)
          [`mov ax, ${hex(r.u32() & 0xffff)}`, 'mov [rsp-8], ax', 'lmsw [rsp-8]', 'mov rbx, cr0'],
          ['cli', 'pushfq', 'pop rax'],
          // FXRSTOR of an image FXSAVE just wrote (from random memory it would load reserved MXCSR bits)
          ['fxsave [rdi]', 'fninit', 'fxrstor [rdi]'],
        ]),
      };
    },
  },
  {
    name: 'XSETBV/XGETBV/XSAVE/XRSTOR',
    needs: 'xsave',
    weight: 6,
    emit: (r, c) => {
      // CR4.OSXSAVE on, then XCR0: x87 alone, x87+SSE, or what the model lacks (#GP)
      const xcr0 = r.chance(0.85) ? r.pick([1, 3, 3]) : r.pick([0, 2, 7, 0x80000003]);
      const enable = ['mov rax, cr4', 'bts rax, 18', 'mov cr4, rax', 'xor ecx, ecx', 'xor edx, edx', `mov eax, ${hex(xcr0)}`, 'xsetbv'];
      const mask = r.pick([0xffffffff, 1, 2, 3, 0]);
      const area = `[rdi${r.chance(0.9) ? '' : `+${r.pick([8, 16, 32])}`}]`; // misaligned: #GP
      const save = c.features.has('xsaveopt') && r.chance(0.4) ? 'xsaveopt' : 'xsave';
      const ops = r.pick([
        ['xgetbv', ...(c.features.has('xgetbv1') && r.chance(0.5) ? ['mov ecx, 1', 'xgetbv'] : [])],
        [`mov eax, ${hex(mask)}`, 'mov edx, 0', `${save} ${area}`],
        [`mov eax, ${hex(mask)}`, 'mov edx, 0', `xsave ${area}`, 'fninit', 'pxor xmm1, xmm1', `mov eax, ${hex(r.pick([0xffffffff, 1, 2, 3]))}`, `xrstor ${area}`],
        // a header byte set: XSTATE_BV with a bit XCR0 lacks, or XCOMP_BV, or a reserved byte: #GP
        ['mov eax, 3', 'xor edx, edx', 'xsave [rdi]', `mov al, ${hex(r.pick([1, 2, 4, 0x80]))}`, `mov [rdi+${512 + r.pick([0, 1, 7, 8, 15, 16, 63])}], al`, 'mov eax, 3', 'xrstor [rdi]'],
        ['fxsave [rdi]', 'fninit', 'fxrstor [rdi]'],
      ]);
      return { lines: [...enable, ...ops], touches: ['xcr0'] };
    },
  },
];

/** The prologue that resets what the case's templates touch to QEMU's reset values. */
function prologue(touches: ReadonlySet<Scrub>): string[] {
  const lines: string[] = [];
  for (const t of touches) {
    if (t === 'dr') {
      lines.push('xor eax, eax', 'mov dr0, rax', 'mov dr1, rax', 'mov dr2, rax', 'mov dr3, rax', 'mov eax, 0xffff0ff0', 'mov dr6, rax', 'mov eax, 0x400', 'mov dr7, rax');
    } else if (t === 'xcr0') {
      // XSETBV needs CR4.OSXSAVE: on for the write, off again (the case starts from the machine's CR4)
      lines.push('mov rbx, cr4', 'mov rax, rbx', 'bts rax, 18', 'mov cr4, rax', 'xor ecx, ecx', 'xor edx, edx', 'mov eax, 1', 'xsetbv', 'mov cr4, rbx');
    } else {
      const m = SYSTEM_MSRS.find((x) => x.index === t);
      if (m?.reset !== undefined) lines.push(...msrOperands(t, m.reset), 'wrmsr');
    }
  }
  return lines;
}

export interface SystemProgram {
  /** Intel syntax, one instruction per line: the prologue, then the templates' lines. */
  readonly lines: string[];
  /** Leading lines that reset state a gdb stub cannot (the minimizer keeps them). */
  readonly keep: number;
  readonly regs: Record<string, bigint>;
  /** The templates drawn, by name (for the report's coverage of the family). */
  readonly templates: string[];
  /** The area XSAVE/FXSAVE write (RDI points at it; 64-byte aligned), compared after the run. */
  readonly area: { readonly addr: bigint; readonly length: number };
}

const OPERAND_REGS = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rbp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
export const SYSTEM_AREA = { addr: LAYOUT.data + 0x400n, length: 0x400 } as const;

/** A system-family program from a case seed: 1–`maxTemplates` templates the model's features allow. */
export function systemProgram(seed: number, features: ReadonlySet<Feature>, maxTemplates = 4): SystemProgram {
  const r = new SystemRng(seed);
  const usable = SYSTEM_TEMPLATES.filter((t) => !t.needs || features.has(t.needs));
  const total = usable.reduce((n, t) => n + t.weight, 0);
  const c: TemplateContext = { features, reg: () => r.pick(OPERAND_REGS) };
  const body: string[] = [];
  const touches = new Set<Scrub>();
  const templates: string[] = [];
  const count = 1 + r.int(maxTemplates);
  for (let i = 0; i < count; i++) {
    let w = r.int(total);
    const t = usable.find((x) => (w -= x.weight) < 0)!;
    const out = t.emit(r, c);
    body.push(...out.lines);
    for (const s of out.touches ?? []) touches.add(s);
    templates.push(t.name);
  }
  // what reads a CR or MSR before any template writes it sees the reset value in both
  const head = prologue(touches);
  const regs: Record<string, bigint> = {};
  for (const n of OPERAND_REGS) regs[n] = r.chance(0.3) ? address(r) : r.u64();
  regs.rdi = SYSTEM_AREA.addr;
  return { lines: [...head, ...body], keep: head.length, regs, templates, area: SYSTEM_AREA };
}

/**
 * A system-family case: the program assembled with keystone (checked by iced) at the test
 * machine's code address. A line keystone refuses is dropped from the templates' part (never
 * from the prologue: a case without its reset would read what QEMU ran before).
 */
export function systemCase(seed: number, id: string, features: ReadonlySet<Feature>, ks: KeystoneX86): AssemblyOutcome {
  const p = systemProgram(seed, features);
  const rejects: GenerationReject[] = [];
  let lines = p.lines;
  for (;;) {
    const a = assembleCheckedLean(lines, LAYOUT.code, ks);
    if (!a.ok) {
      rejects.push({ source: a.source, reason: `${a.kind}: ${a.reason}` });
      if (a.line < p.keep) return { ok: false, rejects };
      lines = lines.filter((_, i) => i !== a.line);
      if (lines.length === p.keep) return { ok: false, rejects };
      continue;
    }
    const area = new Uint8Array(p.area.length);
    for (let i = 0; i < area.length; i++) area[i] = (i * 0x9d + (seed & 0xff)) & 0xff;
    const stack = stackWindow(LAYOUT.stackTop);
    const c: Case = {
      format: CASE_FORMAT,
      id: `fuzz-system-${id}`,
      code: a.bytes,
      asm: lines,
      regs: p.regs,
      rflags: 0x2n,
      memory: [{ addr: p.area.addr, bytes: area }],
      compare: [{ addr: p.area.addr, length: p.area.length }, stack],
      ...(p.keep ? { keep: p.keep } : {}),
      writesSystemState: true,
      maxSteps: 64 + lines.length * 4,
      provenance: { generator: GENERATOR_NAME, generatorVersion: GENERATOR_VERSION, seed: id, note: `system family: ${p.templates.join(', ')}` },
    };
    return { ok: true, case: c, rowsExercised: a.instructions.map((x) => rowOfEncoding(x.bytes, true)), rejects };
  }
}
