import type { Feature } from '../isa/row.js';
import { type MsrDef, qemu64Msrs } from './msr-model.js';

/** What the emulated CPU claims and does where models differ. */
export interface CpuModel {
  readonly name: string;
  readonly features: ReadonlySet<Feature>;
  /** CPUID leaves: key `cpuidKey(leaf)` or `cpuidKey(leaf, subleaf)` → [eax, ebx, ecx, edx]. Missing leaves answer as the highest basic leaf. */
  readonly cpuid: ReadonlyMap<string, readonly [number, number, number, number]>;
  readonly maxBasicLeaf: number;
  readonly maxExtLeaf: number;
  readonly physBits: number;
  readonly pdpe1gb: boolean;
  /**
   * Non-canonical stack references raise #SS on hardware; QEMU 7.2 raises #GP for every
   * non-canonical data access. false = QEMU's behaviour.
   */
  readonly stackFaultOnNonCanonical: boolean;
  /** The plain-storage MSRs the model has (cpu/msr-model.ts); the architectural ones are in exec/msrs.ts. */
  readonly msrs: ReadonlyMap<number, MsrDef>;
  /**
   * RDMSR of an MSR the model does not have reads 0 and WRMSR of one is ignored, as QEMU 7.2's TCG
   * does (helper_rdmsr/helper_wrmsr default cases); false: #GP(0), as hardware does.
   */
  readonly unknownMsrsReadZero: boolean;
  /**
   * Where QEMU 7.2's SIMD emulation (TCG, softfloat) and the hardware differ in values, not in
   * exceptions: true = QEMU's results. Which NaN an operation on two NaNs returns (QEMU: the x87
   * rule, the larger significand; hardware: the first operand), MXCSR.DE (QEMU: never set), FZ
   * (QEMU flushes what is tiny before rounding, the hardware what is tiny after), MIN/MAX under
   * DAZ (QEMU returns the denormal's encoding, the hardware the zero it read), the exponent of an
   * MMX write (QEMU: unchanged; hardware: all ones), FXSAVE's FOP and register padding (QEMU:
   * not written; the host: zeros), CVTPI2PS/CVTPI2PD from memory (QEMU enters MMX use), the
   * exponent of MOVDQ2Q's destination (QEMU: zero), and the x87 data selector FDS after an
   * operand with a CS/DS/ES/SS prefix 64-bit mode ignores (QEMU: that prefix's selector; the host
   * AMD EPYC: the segment the operand used).
   * Such differences show only as differing register or memory bits, which no suppression can
   * tell from a real bug, so the qemu64 model compared with QEMU takes QEMU's side; false gives
   * the host CPU's (checked in exec/sse/host-sse.spec.ts, QEMU's in qemu-sse.int.spec.ts).
   */
  readonly simdResultsAsQemu: boolean;
}

/**
 * The key of a CPUID leaf in `CpuModel.cpuid`: the leaf in hex (`'1'`, `'0xb'`, `'0x40000000'`;
 * single digits without the `0x`), then `.subleaf` in decimal for leaves that have subleaves.
 */
export function cpuidKey(leaf: number, subleaf?: number): string {
  const l = leaf < 10 ? String(leaf) : `0x${leaf.toString(16)}`;
  return subleaf === undefined ? l : `${l}.${subleaf}`;
}

/**
 * QEMU 7.2's `-cpu qemu64` under TCG, measured by executing CPUID in it (bench/emulator-cpuid-dump.ts):
 * AuthenticAMD, family 15 model 107 stepping 1 (signature 0x60fb1), level 0xd, xlevel 0x8000000a,
 * no POPCNT/ABM/BMI1/MOVBE/RDTSCP/RDRAND/PDPE1GB. So POPCNT, MOVBE, RDTSCP and RDRAND are #UD, and
 * F3 0F BC/BD run as BSF/BSR (QEMU ignores the F3 without BMI1/ABM).
 * Leaves not listed read as zero (those measured as all-zero are omitted).
 */
const QEMU64_CPUID: ReadonlyArray<[string, [number, number, number, number]]> = [
  ['0', [0xd, 0x68747541, 0x444d4163, 0x69746e65]],
  ['1', [0x60fb1, 0x800, 0x80002001, 0x78bfbfd]],
  ['5', [0, 0, 0x3, 0]],
  ['0xb.0', [0, 0x1, 0x100, 0]],
  ['0xb.1', [0, 0x1, 0x201, 0]],
  ['0x80000000', [0x8000000a, 0x68747541, 0x444d4163, 0x69746e65]],
  ['0x80000001', [0x60fb1, 0, 0x5, 0x2193fbfd]],
  ['0x80000002', [0x554d4551, 0x72695620, 0x6c617574, 0x55504320]],
  ['0x80000003', [0x72657620, 0x6e6f6973, 0x352e3220, 0x2b]],
  ['0x80000005', [0x1ff01ff, 0x1ff01ff, 0x40020140, 0x40020140]],
  ['0x80000006', [0, 0x42004200, 0x2008140, 0x808140]],
  ['0x80000008', [0x3028, 0, 0, 0]],
  ['0x8000000a', [0x1, 0x10, 0, 0]],
  ['0x40000000', [0x40000001, 0x54474354, 0x43544743, 0x47435447]],
];

export function qemu64Model(): CpuModel {
  return {
    name: 'qemu64',
    features: new Set(),
    cpuid: new Map(QEMU64_CPUID),
    maxBasicLeaf: 0xd,
    maxExtLeaf: 0x8000000a,
    physBits: 40,
    pdpe1gb: false,
    stackFaultOnNonCanonical: false,
    msrs: qemu64Msrs(40),
    unknownMsrsReadZero: true,
    simdResultsAsQemu: true,
  };
}

/** The QEMU `-cpu` string of qemu64 with every optional feature the emulator models. */
export const QEMU64_EXTENDED_CPU = 'qemu64,+popcnt,+movbe,+bmi1,+abm,+rdtscp,+rdrand,+pdpe1gb';

/** qemu64 with the system-level features (SMEP, SMAP, UMIP, FSGSBASE; RDPID, PCID, INVPCID, which TCG drops). */
export const QEMU64_SYSTEM_CPU = 'qemu64,+smep,+smap,+umip,+fsgsbase,+rdpid,+pcid,+invpcid';

/**
 * QEMU `-cpu qemu64,+FLAG` flags the emulator models: the CPUID bit QEMU 7.2 sets for each
 * (measured with CPUID under TCG) and the features it enables. Leaf 7.0 reads as zero in qemu64
 * and gains only the bits asked for. `tcgDrops`: QEMU 7.2's TCG does not implement the feature, so
 * it warns ("TCG doesn't support requested feature") and leaves the CPUID bit clear; the model
 * accepts the flag and drops it too (the instruction stays #UD, the CR4 bit reserved).
 */
const QEMU_FLAGS: Readonly<Record<string, QemuFlag>> = {
  popcnt: { leaf: '1', reg: 2, bit: 23, enables: ['popcnt'] },
  movbe: { leaf: '1', reg: 2, bit: 22, enables: ['movbe'] },
  rdrand: { leaf: '1', reg: 2, bit: 30, enables: ['rdrand'] },
  bmi1: { leaf: '7.0', reg: 1, bit: 3, enables: ['bmi1'] },
  bmi2: { leaf: '7.0', reg: 1, bit: 8, enables: ['bmi2'] },
  abm: { leaf: '0x80000001', reg: 2, bit: 5, enables: ['lzcnt'] },
  rdtscp: { leaf: '0x80000001', reg: 3, bit: 27, enables: ['rdtscp'] },
  pdpe1gb: { leaf: '0x80000001', reg: 3, bit: 26, enables: [] },
  // XSAVE brings leaf 0xD: x87|SSE in XCR0 (no AVX in qemu64), 576-byte areas; XSAVEOPT and XGETBV1
  // are bits of 0xD.1 EAX. CPUID.1:ECX.OSXSAVE follows CR4 (exec/system.ts cpuid).
  xsave: { leaf: '1', reg: 2, bit: 26, enables: ['xsave'], leaves: [['0xd.0', [0x3, 0x240, 0x240, 0]], ['0xd.1', [0, 0x240, 0, 0]]] },
  xsaveopt: { leaf: '0xd.1', reg: 0, bit: 0, enables: ['xsaveopt'], needs: 'xsave' },
  xgetbv1: { leaf: '0xd.1', reg: 0, bit: 2, enables: ['xgetbv1'], needs: 'xsave' },
  fsgsbase: { leaf: '7.0', reg: 1, bit: 0, enables: ['fsgsbase'] },
  smep: { leaf: '7.0', reg: 1, bit: 7, enables: ['smep'] },
  smap: { leaf: '7.0', reg: 1, bit: 20, enables: ['smap'] },
  umip: { leaf: '7.0', reg: 2, bit: 2, enables: ['umip'] },
  rdpid: { tcgDrops: true },
  pcid: { tcgDrops: true },
  invpcid: { tcgDrops: true },
};

type QemuFlag = QemuFlagBits | { readonly tcgDrops: true };

interface QemuFlagBits {
  readonly leaf: string;
  readonly reg: 0 | 1 | 2 | 3;
  readonly bit: number;
  readonly enables: readonly Feature[];
  /** Whole leaves the flag adds (before its own bit is set). */
  readonly leaves?: ReadonlyArray<readonly [string, readonly [number, number, number, number]]>;
  /** A flag whose leaf exists only with another one (QEMU reports nothing of it alone). */
  readonly needs?: string;
}

export const QEMU_CPU_FLAGS: readonly string[] = Object.keys(QEMU_FLAGS);

/** What the emulator can model, for messages: `qemu64[,+popcnt][,+movbe]…`. */
export const MODELED_CPUS = `qemu64 with any of ${QEMU_CPU_FLAGS.map((f) => `+${f}`).join(',')}`;

/** qemu64 plus every optional feature the emulator models (QEMU64_EXTENDED_CPU). */
export function extendedModel(): CpuModel {
  return modelForQemuCpu(QEMU64_EXTENDED_CPU)!;
}

/**
 * The emulator's model for a QEMU `-cpu` string: qemu64 plus `+flag`s it models, in any order
 * (`-flag` takes one away again, as QEMU applies them left to right). Undefined for anything else
 * (other models, flags the emulator does not implement), so that no campaign compares two CPUs.
 */
export function modelForQemuCpu(cpu: string): CpuModel | undefined {
  const [name, ...flags] = cpu.split(',').map((s) => s.trim());
  if (name !== 'qemu64') return undefined;
  const on = new Set<string>();
  for (const f of flags) {
    const m = /^([+-])(\w+)$/.exec(f);
    if (!m || !(m[2]! in QEMU_FLAGS)) return undefined;
    if (m[1] === '+') on.add(m[2]!);
    else on.delete(m[2]!);
  }
  const base = qemu64Model();
  const cpuid = new Map(base.cpuid);
  const features = new Set<Feature>();
  const needs = (f: string) => { const d = QEMU_FLAGS[f]!; return 'tcgDrops' in d ? undefined : d.needs; };
  const ordered = [...on].sort((a, b) => Number(needs(a) !== undefined) - Number(needs(b) !== undefined));
  for (const flag of ordered) {
    const def = QEMU_FLAGS[flag]!;
    if ('tcgDrops' in def) continue;
    if (def.needs !== undefined && !on.has(def.needs)) return undefined;
    for (const [leaf, regs] of def.leaves ?? []) cpuid.set(leaf, [...regs]);
    const regs = [...(cpuid.get(def.leaf) ?? [0, 0, 0, 0])] as [number, number, number, number];
    regs[def.reg] = (regs[def.reg] | (1 << def.bit)) >>> 0;
    cpuid.set(def.leaf, regs);
    for (const e of def.enables) features.add(e);
  }
  return { ...base, name: cpu, features, cpuid, pdpe1gb: on.has('pdpe1gb') };
}
