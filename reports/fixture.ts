/**
 * A realistic campaign result for the report tests (and for eyeballing the renderers):
 * the seed notes' `add r13, [rip+disp]` with the upper half of the sum lost, a `push imm32`
 * that is not sign-extended (a memory diff), one suppressed divergence and one oracle crash,
 * each in its own root-cause group; and `manyDivergences`, a buggy emulator's campaign at scale.
 */
import type { CampaignResult, DivergenceReport, RootCauseGroup } from '../harness/campaign-result.js';
import { GPR_NAMES, type GprName, type MachineState } from '../contracts/machine-state.js';
import { decodeAll } from '../harness/asm/decode.js';
import { LAYOUT, initialState } from '../contracts/test-machine.js';

function at(regs: Partial<Record<GprName, bigint>>, rip: bigint, rflags = 0x2n): MachineState {
  return { ...initialState(regs, rflags), rip };
}

function qword(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

export const SEED_EXPECTED_R13 = 0xefbed000dc0fcbcfn;
export const SEED_ACTUAL_R13 = 0x00000000dc0fcbcfn;
export const XSS_SIGNATURE = 'push imm32 <script>alert("x")</script> & | mem[rsp-8]';

const MOV_R13 = Uint8Array.from([0x49, 0xbd, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11]);
const ADD_R13_RIP = Uint8Array.from([0x4c, 0x03, 0x2d, 0xef, 0xff, 0x00, 0x00]);

function seedDivergence(): DivergenceReport {
  const code = LAYOUT.code;
  const r13 = 0x1111111111111111n;
  return {
    signature: SEED_SIGNATURE,
    count: 37,
    group: 'G1',
    grouping: 'analyzed',
    caseId: 'fuzz-7f3a-000113',
    caseFile: 'corpus/divergences/fuzz-7f3a-000113.json',
    seed: '0x5eed',
    program: [
      { address: code, bytes: MOV_R13, text: 'mov r13, 0x1111111111111111' },
      { address: code + 10n, bytes: ADD_R13_RIP, text: 'add r13, [rip+0xffef]' },
    ],
    index: 1,
    initial: at({}, code),
    initialMemory: [
      { addr: code, bytes: Uint8Array.from([...MOV_R13, ...ADD_R13_RIP]) },
      { addr: LAYOUT.data, bytes: qword(0xdeadbeefcafebaben) },
    ],
    before: at({ r13 }, code + 10n),
    expected: at({ r13: SEED_EXPECTED_R13 }, code + 17n, 0x86n), // SF PF
    actual: at({ r13: SEED_ACTUAL_R13 }, code + 17n, 0x06n), // PF
    diffs: [
      { path: 'gpr.r13', width: 64, expected: SEED_EXPECTED_R13, actual: SEED_ACTUAL_R13 },
      { path: 'rflags', width: 64, expected: 0x86n, actual: 0x06n },
    ],
    memoryDiffs: [],
    flagMask: 0n,
    replayCommand: 'npx difftest replay corpus/divergences/fuzz-7f3a-000113.json --mode step',
    minimization: { fromInstructions: 23, toInstructions: 2, seconds: 4.2 },
  };
}

function pushDivergence(): DivergenceReport {
  const code = LAYOUT.code;
  const push = Uint8Array.from([0x68, 0x00, 0x00, 0x00, 0x80]);
  const rsp = LAYOUT.stackTop;
  return {
    signature: XSS_SIGNATURE,
    count: 4,
    group: 'G3',
    grouping: 'analyzed',
    caseId: 'fuzz-7f3a-000871',
    caseFile: 'corpus/divergences/fuzz-7f3a-000871.json',
    seed: '0x5eed',
    program: [{ address: code, bytes: push, text: 'push 0xffffffff80000000' }],
    index: 0,
    initial: at({ rax: 0xffffffffffffffffn }, code),
    initialMemory: [{ addr: code, bytes: push }],
    before: at({ rax: 0xffffffffffffffffn }, code),
    expected: at({ rax: 0xffffffffffffffffn, rsp: rsp - 8n }, code + 5n),
    actual: at({ rax: 0xffffffffffffffffn, rsp: rsp - 8n }, code + 5n),
    diffs: [],
    memoryDiffs: [{ addr: rsp - 4n, expected: Uint8Array.from([0xff, 0xff, 0xff, 0xff]), actual: Uint8Array.from([0, 0, 0, 0]) }],
    flagMask: 0n,
    replayCommand: 'npx difftest replay corpus/divergences/fuzz-7f3a-000871.json',
    minimization: { fromInstructions: 9, toInstructions: 1, seconds: 1.3 },
  };
}

function suppressedDivergence(): DivergenceReport {
  const code = LAYOUT.code;
  const bsf = Uint8Array.from([0x48, 0x0f, 0xbc, 0xc3]);
  return {
    signature: BSF_SIGNATURE,
    count: 12,
    group: 'G2',
    grouping: 'analyzed',
    caseId: 'fuzz-7f3a-000402',
    program: [{ address: code, bytes: bsf, text: 'bsf rax, rbx' }],
    index: 0,
    initial: at({ rax: 0x1234n }, code),
    initialMemory: [{ addr: code, bytes: bsf }],
    before: at({ rax: 0x1234n }, code),
    expected: at({ rax: 0x1234n }, code + 4n, 0x46n),
    actual: at({ rax: 0n }, code + 4n, 0x46n),
    diffs: [{ path: 'gpr.rax', width: 64, expected: 0x1234n, actual: 0n }],
    memoryDiffs: [],
    flagMask: 0x895n, // CF PF AF SF OF undefined after BSF
    replayCommand: 'npx difftest replay corpus/divergences/fuzz-7f3a-000402.json',
    suppressed: { reason: BSF_REASON },
  };
}

const SEED_SIGNATURE = 'add r64, m64 [rip-relative] | gpr.r13 rflags';
const BSF_SIGNATURE = 'bsf r64, r64 | gpr.rax (source zero)';
const BSF_REASON = 'BSF with a zero source leaves the destination undefined (Intel); QEMU keeps it, our emulator zeroes it';

/** The fixture's root-cause groups: G1 the seed notes' bug, G2 the accepted BSF one, G3 the push. */
function fixtureGroups(): RootCauseGroup[] {
  return [
    {
      id: 'G1',
      key: 'REX.W + memory source',
      hypothesis: 'diverges when a 64-bit ADD reads its source from memory: the upper half of the sum is lost; never with a register source',
      necessary: ['memory operand', 'REX.W'],
      experiments: [
        { feature: 'memory operand', change: 'source in a register: add r13, rax', outcome: 'agrees' },
        { feature: 'REX.W', change: '32-bit: add r13d, [rip+0xffef]', outcome: 'agrees' },
        { feature: 'RIP-relative operand', change: 'base register: add r13, [rbx]', outcome: 'diverges' },
      ],
      signatures: [SEED_SIGNATURE],
      cases: 37,
      analyzed: SEED_SIGNATURE,
    },
    {
      id: 'G2',
      key: 'BSF source zero',
      hypothesis: 'diverges when the BSF source is zero',
      necessary: ['source zero'],
      experiments: [{ feature: 'source zero', change: 'source 1', outcome: 'agrees' }],
      signatures: [BSF_SIGNATURE],
      cases: 12,
      analyzed: BSF_SIGNATURE,
      suppressed: { reason: BSF_REASON },
    },
    {
      id: 'G3',
      key: 'PUSH imm32 sign bit',
      hypothesis: 'diverges when the PUSH imm32 immediate has its sign bit set: the pushed value is zero-extended',
      necessary: ['imm32 sign bit'],
      experiments: [{ feature: 'imm32 sign bit', change: 'push 0x7fffffff', outcome: 'agrees' }],
      signatures: [XSS_SIGNATURE],
      cases: 4,
      analyzed: XSS_SIGNATURE,
    },
  ];
}

/** The fixture as a result written before root-cause groups existed (and as `difftest minimize` writes one). */
export function ungroupedFixture(): CampaignResult {
  const r = campaignFixture();
  return { ...r, groups: [], divergences: r.divergences.map(({ group: _g, grouping: _h, ...d }) => d) };
}

export function campaignFixture(): CampaignResult {
  return {
    format: 'difftest-result/1',
    runId: '2025-01-14T10-22-05-seed-5eed',
    command: 'difftest fuzz --seed 0x5eed --seconds 60 --workers 2 --mode block',
    startedAt: '2025-01-14T10:22:05.000Z',
    finishedAt: '2025-01-14T10:23:05.400Z',
    seed: '0x5eed',
    mode: 'block',
    workers: 2,
    oracle: { implementation: 'QEMU 7.2.15 (Debian 1:7.2+dfsg-7+deb12u7), TCG', cpuModel: 'qemu64' },
    dut: { name: 'emulator', implementation: 'difftest-x86 emulator 0.1.0 (in-process)', mutants: ['add64-mem-trunc32'], cpuModel: 'qemu64' },
    testsRun: 128_400,
    seconds: 60.4,
    startupSeconds: 0.7,
    testingSeconds: 55.8,
    minimizeSeconds: 3.6,
    partial: false,
    divergences: [seedDivergence(), pushDivergence(), suppressedDivergence()],
    groups: fixtureGroups(),
    coverageMissing: ['adc r/m16, imm16', 'sbb r/m8, imm8'],
    oracleCrashes: [{ caseId: 'fuzz-7f3a-000977', message: 'QEMU exited (signal SIGSEGV) while stepping; restarted, case skipped' }],
    coverage: [
      { row: 'add r/m64, r64', count: 4120 },
      { row: 'add r64, r/m64', count: 3981 },
      { row: 'mov r64, imm64', count: 5210 },
      { row: 'push imm32', count: 802 },
      { row: 'bsf r64, r/m64', count: 611 },
      { row: 'adc r/m16, imm16', count: 0 },
    ],
    coverageTotalRows: 7,
    assemblerRejects: [{ source: 'mov sil, ah', reason: 'keystone encoded `mov dh, ah` (REX dropped); decoder disagrees', count: 17 }],
    maskedFlags: [
      { mnemonic: 'bsf', flags: 'CF PF AF SF OF', count: 288 },
      { mnemonic: 'and', flags: 'AF', count: 1032 },
    ],
    syncRules: [
      { name: 'rdtsc', description: 'RDTSC/RDTSCP results are taken from the oracle' },
      { name: 'cpuid-hypervisor', description: 'CPUID leaf 0x40000000 follows the oracle' },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// A campaign on a buggy emulator, at scale: `manyDivergences({ divergences: 1000 })`.
// ---------------------------------------------------------------------------------------------

/** mulberry32: a small deterministic generator, so the large fixture is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type OperandKind = 'reg' | 'mem' | 'rip-rel';

/** One instruction shape: the signature's form and operand kind depend on it, not on the registers. */
interface Shape {
  readonly encode: (reg: number, rm: number) => number[];
  readonly kind: OperandKind;
}

/** ModRM (and displacement) for register, `[rbx]`-style and `[rip+disp32]` operands. */
function modrm(kind: OperandKind, reg: number, rm: number): number[] {
  if (kind === 'reg') return [0xc0 | ((reg & 7) << 3) | (rm & 7)];
  const r = rm & 7;
  if (kind === 'mem') return [((reg & 7) << 3) | (r === 4 || r === 5 ? 3 : r)]; // 4 would need a SIB, 5 is RIP-relative
  return [((reg & 7) << 3) | 5, 0x10, 0x00, 0x01, 0x00];
}

/** REX for 64-bit operands (W) and extended registers (R, B); none when nothing needs it. */
function rex(w: boolean, reg: number, rm: number, kind: OperandKind): number[] {
  const b = kind === 'rip-rel' ? 0 : rm >> 3;
  const v = 0x40 | (w ? 8 : 0) | ((reg >> 3) << 2) | b;
  return v === 0x40 ? [] : [v];
}

/** ~180 shapes: the eight ALU operations in both directions, three sizes, three operand kinds; shifts. */
const SHAPES = shapes();
function shapes(): Shape[] {
  const out: Shape[] = [];
  const kinds: OperandKind[] = ['reg', 'mem', 'rip-rel'];
  for (const size of [64, 32, 16] as const) {
    const pre = (reg: number, rm: number, kind: OperandKind) => [...(size === 16 ? [0x66] : []), ...rex(size === 64, reg, rm, kind)];
    for (const kind of kinds) {
      for (let op = 0; op < 8; op++) {
        for (const dir of [1, 3]) out.push({ kind, encode: (reg, rm) => [...pre(reg, rm, kind), op * 8 + dir, ...modrm(kind, reg, rm)] });
      }
      for (const ext of [4, 5, 7]) {
        out.push({ kind, encode: (_reg, rm) => [...pre(0, rm, kind), 0xc1, ...modrm(kind, ext, rm), 33] });
        out.push({ kind, encode: (_reg, rm) => [...pre(0, rm, kind), 0xd3, ...modrm(kind, ext, rm)] });
      }
    }
  }
  return out;
}

/** What differed, as the signature names it: `gpr`, `rflags.CF`, `memory`, `exception:…`. */
const FIELD_SETS: readonly (readonly string[])[] = [
  ['gpr'], ['gpr', 'rflags.CF'], ['rflags.AF'], ['rflags.OF'], ['rflags.SF', 'rflags.ZF'], ['gpr', 'rflags.CF', 'rflags.OF'],
  ['memory'], ['memory', 'rflags.CF'], ['exception:14/-', 'stop:exception/block-end'],
];

const FLAG_BITS: Record<string, bigint> = { CF: 0x1n, PF: 0x4n, AF: 0x10n, ZF: 0x40n, SF: 0x80n, OF: 0x800n };

interface GroupTemplate {
  readonly key: string;
  readonly hypothesis: string;
  readonly necessary: string[];
  readonly unnecessary: string[];
}

const GROUP_TEMPLATES: readonly GroupTemplate[] = [
  { key: 'REX.B + ModRM.rm', hypothesis: 'diverges when REX.B is set and ModRM.rm names a register or base; never without REX.B', necessary: ['REX.B', 'ModRM.rm'], unnecessary: ['operand size', 'CF in'] },
  { key: 'AF out', hypothesis: 'diverges when the result carries out of bit 3 (AF=1 expected); the DUT leaves AF clear', necessary: ['AF out'], unnecessary: ['REX.B', 'memory operand', 'operand size'] },
  { key: 'RIP-relative operand', hypothesis: 'diverges when the memory operand is RIP-relative: the address is off by the instruction length', necessary: ['RIP-relative operand'], unnecessary: ['operand size', 'REX.R'] },
  { key: 'shift count ≥ width', hypothesis: 'diverges when the shift count is not below the operand width: the count is not masked', necessary: ['count ≥ 32'], unnecessary: ['memory operand', 'REX.W'] },
  { key: '0x66 + CF in', hypothesis: 'diverges when the operand size is 16 bits and CF is set on entry: the carry-in is ignored', necessary: ['0x66 prefix', 'CF in'], unnecessary: ['memory operand'] },
  { key: 'REX.W + memory source', hypothesis: 'diverges when a 64-bit operation reads memory: only the low 32 bits of the source are used', necessary: ['REX.W', 'memory operand'], unnecessary: ['RIP-relative operand', 'REX.B'] },
];

function experimentsFor(t: GroupTemplate, rnd: () => number): RootCauseGroup['experiments'] {
  const ex: RootCauseGroup['experiments'] = t.necessary.map((f) => ({ feature: f, change: `${f} removed`, outcome: 'agrees' as const }));
  for (const f of t.unnecessary) {
    const r = rnd();
    ex.push({ feature: f, change: `${f} changed`, outcome: r < 0.7 ? 'diverges' : r < 0.85 ? 'other-divergence' : 'not-applicable' });
  }
  return ex;
}

const hex64n = (rnd: () => number): bigint => (BigInt(Math.floor(rnd() * 2 ** 32)) << 32n) | BigInt(Math.floor(rnd() * 2 ** 32));
const EDGE_VALUES = [0n, 1n, 0xffffffffffffffffn, 0x8000000000000000n, 0x7fffffffffffffffn, 0xffffffffn, 0x80000000n];

/** Opcode-table rows as `describeRow` names them (`ADC Ev,Gv (11)`): 589 of them, like the real table. */
const ROW_NAMES = ['ADD', 'OR', 'ADC', 'SBB', 'AND', 'SUB', 'XOR', 'CMP', 'TEST', 'MOV', 'XCHG', 'SHL', 'SHR', 'SAR', 'ROL', 'ROR', 'RCL', 'RCR', 'BT', 'BTS', 'BTR', 'BTC', 'BSF', 'BSR', 'IMUL', 'MUL', 'DIV', 'IDIV', 'NEG', 'NOT', 'INC', 'DEC', 'PUSH', 'POP', 'LEA', 'MOVZX', 'MOVSX', 'CMOVcc', 'SETcc', 'Jcc', 'CALL', 'RET', 'ENTER', 'LEAVE', 'CMPXCHG', 'XADD', 'BSWAP', 'MOVBE', 'POPCNT', 'LZCNT', 'TZCNT', 'SHLD', 'SHRD']
  .flatMap((m, i) => ['Eb,Gb', 'Ev,Gv', 'Gb,Eb', 'Gv,Ev', 'AL,Ib', 'rAX,Iz', 'Eb,Ib', 'Ev,Iz', 'Ev,Ib', 'Ev', 'Eb', 'Gv,Ev,Ib']
    .map((f, k) => `${m} ${f} (${((i * 12 + k) & 0xff).toString(16).padStart(2, '0').toUpperCase()})`))
  .slice(0, 589);

export interface ManyDivergencesOptions {
  /** Distinct signatures (default 1,000). */
  readonly divergences?: number;
  /** Root-cause groups they fall into (default 40); the last two are suppressed. */
  readonly groups?: number;
  readonly seed?: number;
  /** Where the campaign wrote its report: case files are absolute paths below it, as the workers save them. */
  readonly runDir?: string;
}

/**
 * A campaign result as a buggy emulator produces it: many signatures in a few dozen root-cause
 * groups (sizes falling off like Zipf's law), most of them joined by hypothesis with their raw,
 * unminimized cases (random registers, up to 10 instructions), a minimized case per analyzed
 * group, suppressed groups, unlocated cases, planted mutants, rows not exercised. Case files are
 * absolute, as the campaign writes them before the report relativizes them.
 */
export function manyDivergences(options: ManyDivergencesOptions = {}): CampaignResult {
  const total = options.divergences ?? 1000;
  const groupCount = Math.min(options.groups ?? 40, total);
  const rnd = prng(options.seed ?? 1);
  const runDir = options.runDir ?? '/home/ci/work/difftest/reports/runs/2025-02-03T09-00-00-seed-7';
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const reg = () => (rnd() < 0.5 ? pick(EDGE_VALUES) : hex64n(rnd));

  // every (shape, field set) pair is one signature: shuffle them and deal them out
  const all = SHAPES.flatMap((shape) => FIELD_SETS.map((fields) => ({ shape, fields })));
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  if (total > all.length) throw new RangeError(`manyDivergences: at most ${all.length} distinct signatures`);

  // Zipf sizes, each group at least one signature
  const weights = Array.from({ length: groupCount }, (_, g) => 1 / (g + 1));
  const wsum = weights.reduce((s, w) => s + w, 0);
  const sizes = weights.map((w) => Math.max(1, Math.floor((w / wsum) * total)));
  let sum = sizes.reduce((s, k) => s + k, 0);
  for (let g = 0; sum < total; g = (g + 1) % groupCount, sum++) sizes[g]!++;
  // too many (every group has at least one): take from the largest, which always has more than one
  for (; sum > total; sum--) sizes[sizes.indexOf(Math.max(...sizes))]!--;

  const divergences: DivergenceReport[] = [];
  const groups: RootCauseGroup[] = [];
  const suppressedFrom = groupCount - Math.min(2, groupCount - 1);
  let next = 0;
  for (let g = 0; g < groupCount; g++) {
    const t = GROUP_TEMPLATES[g % GROUP_TEMPLATES.length]!;
    const id = `G${g + 1}`;
    const analyzedInTime = g < groupCount * 0.8 || g >= suppressedFrom;
    const suppressed = g >= suppressedFrom ? { reason: `QEMU 7.2 deviates from the SDM for ${t.key} (known, accepted)` } : undefined;
    const members: DivergenceReport[] = [];
    for (let k = 0; k < sizes[g]!; k++) {
      const { shape, fields } = all[next++]!;
      const analyzed = k === 0 && analyzedInTime;
      const d = divergence(shape, fields, next, analyzed, rnd, reg, runDir);
      members.push({ ...d, group: id, grouping: analyzed ? 'analyzed' : analyzedInTime ? 'hypothesis' : 'unanalyzed', suppressed });
    }
    // counts fall off within a group too: the analyzed signature is usually the commonest
    members.forEach((d, k) => (d.count = Math.max(1, Math.round((200 / (g + 1)) / (k + 1) + rnd() * 3))));
    divergences.push(...members);
    groups.push({
      id,
      key: analyzedInTime ? t.key : `${members[0]!.signature.split(' :: ')[0]} :: ${members[0]!.signature.split(' :: ')[1]}`,
      hypothesis: analyzedInTime ? t.hypothesis : 'not analyzed (the minimization budget ran out): grouped by instruction form and differing fields',
      necessary: analyzedInTime ? t.necessary : [],
      experiments: analyzedInTime ? experimentsFor(t, rnd) : [],
      signatures: members.map((d) => d.signature),
      cases: members.reduce((s, d) => s + d.count, 0),
      analyzed: analyzedInTime ? members[0]!.signature : undefined,
      suppressed,
    });
  }
  // ids by number of cases, largest first (as the campaign numbers them)
  const order = [...groups].sort((a, b) => b.cases - a.cases);
  const rename = new Map(order.map((gr, i) => [gr.id, `G${i + 1}`]));
  for (const gr of groups) gr.id = rename.get(gr.id)!;
  for (const d of divergences) d.group = rename.get(d.group!)!;
  const tests = 1_284_000;
  return {
    ...campaignFixture(),
    runId: '2025-02-03T09-00-00-seed-7',
    command: 'difftest fuzz --seed 7 --seconds 600 --workers 2 --inject rex-b-ignored --inject af-never-set',
    seed: '7',
    startedAt: '2025-02-03T09:00:00.000Z',
    finishedAt: '2025-02-03T09:10:55.200Z',
    dut: { name: 'emulator', implementation: 'difftest-x86 emulator 0.1.0 (in-process)', mutants: ['rex-b-ignored', 'af-never-set'], cpuModel: 'qemu64' },
    testsRun: tests,
    seconds: 655.2,
    startupSeconds: 2.4,
    testingSeconds: 600.1,
    minimizeSeconds: 51.9,
    unlocated: { count: 5_310, file: `${runDir}/cases/unlocated.jsonl` },
    divergences,
    groups: order,
    coverage: ROW_NAMES.slice(0, 552).map((row) => ({ row, count: 1 + Math.floor(rnd() * 9000) })),
    coverageTotalRows: 589,
    coverageMissing: ROW_NAMES.slice(552, 589),
  };
}

function divergence(
  shape: Shape, fields: readonly string[], n: number, analyzed: boolean, rnd: () => number, reg: () => bigint, runDir: string,
): DivergenceReport {
  const code = LAYOUT.code;
  const length = analyzed ? 1 + Math.floor(rnd() * 2) : 1 + Math.floor(rnd() * 10);
  const index = Math.floor(rnd() * length);
  const bytes: number[] = [];
  let divergentAt = 0;
  for (let i = 0; i < length; i++) {
    if (i === index) divergentAt = bytes.length;
    const s = i === index ? shape : SHAPES[Math.floor(rnd() * 40)]!;
    bytes.push(...s.encode(Math.floor(rnd() * 16), Math.floor(rnd() * 16)));
  }
  const program = decodeAll(Uint8Array.from(bytes), code).map((i) => ({ address: i.address, bytes: i.bytes, text: i.text }));
  const ins = decodeAll(Uint8Array.from(bytes.slice(divergentAt)), code + BigInt(divergentAt))[0]!;
  const kind = shape.kind === 'rip-rel' ? ' rip-rel' : shape.kind === 'mem' ? ' mem' : ' reg';
  const signature = `${ins.form}${kind} :: ${fields.join(',')}`;
  const regs = Object.fromEntries(GPR_NAMES.filter(() => analyzed ? rnd() < 0.15 : rnd() < 0.8).map((r) => [r, reg()]));
  const initial = at(regs, code);
  const rip = ins.address + BigInt(ins.length);
  const before = { ...at({ ...regs, rsp: LAYOUT.stackTop }, ins.address), gpr: { ...initial.gpr, rcx: reg() } };
  const expected = { ...before, rip, gpr: { ...before.gpr } };
  const actual = { ...before, rip, gpr: { ...before.gpr } };
  const diffs: DivergenceReport['diffs'] = [];
  if (fields.includes('gpr')) {
    const name = GPR_NAMES[Math.floor(rnd() * 16)]!;
    const e = reg();
    const a = rnd() < 0.5 ? e & 0xffffffffn : e ^ (1n << BigInt(Math.floor(rnd() * 64)));
    expected.gpr[name] = e;
    actual.gpr[name] = a === e ? e ^ 1n : a;
    diffs.push({ path: `gpr.${name}`, width: 64, expected: e, actual: actual.gpr[name] });
  }
  const flags = fields.filter((f) => f.startsWith('rflags.')).reduce((m, f) => m | FLAG_BITS[f.slice(7)]!, 0n);
  if (flags) {
    expected.rflags = 0x2n | flags;
    actual.rflags = 0x2n;
    diffs.push({ path: 'rflags', width: 64, expected: expected.rflags, actual: actual.rflags });
  }
  const memoryDiffs = fields.includes('memory')
    ? [{ addr: LAYOUT.data + BigInt(Math.floor(rnd() * 0x100) * 8), expected: qword(reg()), actual: qword(reg()) }]
    : [];
  const fault = fields.some((f) => f.startsWith('exception'));
  const file = `${runDir}/cases/7-${n * 1283}${analyzed ? '.min' : ''}.json`;
  return {
    signature,
    count: 1,
    caseId: `7-${n * 1283}`,
    caseFile: file,
    seed: '7',
    program,
    index,
    initial,
    initialMemory: [{ addr: code, bytes: Uint8Array.from(bytes) }, { addr: LAYOUT.data, bytes: qword(reg()) }],
    before,
    expected,
    actual,
    diffs,
    memoryDiffs,
    expectedException: fault ? { vector: 14, errorCode: 2, cr2: LAYOUT.unmapped + 8n, rip: ins.address } : undefined,
    actualException: undefined,
    flagMask: rnd() < 0.3 ? 0x10n : 0n,
    replayCommand: `node bin/difftest.mjs replay ${file} --inject rex-b-ignored --inject af-never-set`,
    minimization: analyzed ? { fromInstructions: 3 + Math.floor(rnd() * 8), toInstructions: length, seconds: 0.5 + rnd() * 4 } : undefined,
  };
}
