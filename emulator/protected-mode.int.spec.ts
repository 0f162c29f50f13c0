import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPR_NAMES, type MachineState, SEGMENT_NAMES } from '../contracts/machine-state.js';
import { systemMemory } from '../contracts/test-machine.js';
import { buildRealModeMachine, buildTestMachine32, LAYOUT32, registerView32, SELECTORS32 } from '../contracts/test-machine-32.js';
import { QemuTarget } from '../oracle/qemu/qemu-target.js';
import { EmulatorTarget } from './emulator-target.js';
import { modelForQemuCpu, QEMU64_SYSTEM_CPU } from './cpu/cpu-model.js';
import { ALL_ROWS } from './isa/table.js';
import { nasm } from './test-support/nasm.js';
import { type ProtectedSequence, protectedSequences } from './test-support/sequences-protected.js';
import { sysenterSequences } from './test-support/sequences-sysenter.js';
import { LARGE_PHYS, TABLES, legacyPageTables } from './test-support/legacy-page-tables.js';
import { legacyPagingSequences } from './test-support/sequences-legacy-paging.js';

/**
 * Protected-mode differential suite: 32-bit sequences on the 32-bit test machine (legacy
 * protected mode, paging off; contracts/test-machine-32.ts; the legacy-paging sequences turn
 * 32-bit or PAE paging on over test-support/legacy-page-tables.ts), and 16-bit ones on the same
 * machine in real mode, one instruction at a time on the
 * emulator and on QEMU. After every step the registers (as QEMU's stub shows them outside 64-bit
 * code: the low halves of EAX–EDI, R8–R15 as 0), RIP, RFLAGS, selectors, control registers and
 * every segment's hidden part (base, limit, attributes, from QEMU's `info registers`) must agree;
 * at the end the stack, data and GDT pages must agree byte for byte (with the legacy-paging tables:
 * the tables, with their accessed and dirty bits, and the pages they map too).
 */
let qemu: QemuTarget;
const emu = new EmulatorTarget();
/** For the sequences with `systemCpu` (SMEP, SMAP): QEMU started with QEMU64_SYSTEM_CPU and the matching model, on first use. */
let systemPair: { qemu: QemuTarget; emu: EmulatorTarget } | undefined;
const covered = new Set<number>();
const deviations: string[] = [];

beforeAll(async () => {
  qemu = await QemuTarget.launch({});
}, 60_000);

async function targetsFor(seq: ProtectedSequence): Promise<{ qemu: QemuTarget; emu: EmulatorTarget }> {
  if (!seq.systemCpu) return { qemu, emu };
  if (!systemPair) {
    const model = modelForQemuCpu(QEMU64_SYSTEM_CPU);
    if (!model) throw new Error(`no emulator model matches -cpu ${QEMU64_SYSTEM_CPU}`);
    systemPair = { qemu: await QemuTarget.launch({ cpuModel: QEMU64_SYSTEM_CPU }), emu: new EmulatorTarget({ model }) };
  }
  return systemPair;
}

afterAll(async () => {
  await qemu?.close();
  await systemPair?.qemu.close();
  const rows = [...covered].map((id) => ALL_ROWS[id]!).filter((r) => r.invalid64).map((r) => r.mnemonic);
  process.stdout.write(
    `\nprotected-mode differential: ${covered.size} opcode rows exercised, ${rows.length} of them legacy-only (${[...new Set(rows)].join(', ')})\n` +
      `known QEMU deviations (each checked to still diverge):\n${deviations.map((d) => `  ${d}`).join('\n') || '  none'}\n`,
  );
});

/** Attribute bits both sides cache alike (QEMU keeps the descriptor's whole high dword). */
const ATTRS = 0x00f0ff00;

/** What QEMU's stub shows outside 64-bit code; 64-bit code as is. */
const view = (s: MachineState, long64: boolean): MachineState => (long64 ? s : registerView32(s));

function diffStates(a: MachineState, b: MachineState, flagMask: bigint): string[] {
  const out: string[] = [];
  const h = (v: bigint | number) => `0x${v.toString(16)}`;
  for (const n of GPR_NAMES) if (a.gpr[n] !== b.gpr[n]) out.push(`${n}: emu ${h(a.gpr[n])} qemu ${h(b.gpr[n])}`);
  if (a.rip !== b.rip) out.push(`rip: emu ${h(a.rip)} qemu ${h(b.rip)}`);
  if ((a.rflags & ~flagMask) !== (b.rflags & ~flagMask)) out.push(`rflags: emu ${h(a.rflags)} qemu ${h(b.rflags)}`);
  for (const k of ['cr0', 'cr2', 'cr3', 'cr4', 'efer'] as const) if (a[k] !== b[k]) out.push(`${k}: emu ${h(a[k])} qemu ${h(b[k])}`);
  for (const n of SEGMENT_NAMES) {
    const [x, y] = [a.seg[n], b.seg[n]];
    if (x.selector !== y.selector) out.push(`${n}: emu ${h(x.selector)} qemu ${h(y.selector)}`);
    if (x.base !== undefined && y.base !== undefined && x.base !== y.base) out.push(`${n}.base: emu ${h(x.base)} qemu ${h(y.base)}`);
    if (x.limit !== undefined && y.limit !== undefined && x.limit !== y.limit) out.push(`${n}.limit: emu ${h(x.limit)} qemu ${h(y.limit)}`);
    if (x.attrs !== undefined && y.attrs !== undefined && (x.attrs & ATTRS) !== (y.attrs & ATTRS)) out.push(`${n}.attrs: emu ${h(x.attrs)} qemu ${h(y.attrs)}`);
  }
  return out;
}

/**
 * The large pages' first 4 KiB (a ramp whose every dword has bit 0 clear: read as a page table,
 * when CR4.PSE is off, it holds no present entry) and the last 4 KiB of the 2 MiB and the 4 MiB
 * page (zero). Loaded for every legacy-paging sequence: QEMU's RAM keeps what the last one wrote.
 */
const LARGE_PAGE_IMAGES: ReadonlyArray<[bigint, Uint8Array]> = [
  [BigInt(LARGE_PHYS), Uint8Array.from({ length: 0x1000 }, (_, i) => (i * 13 + 5) & (i % 4 === 0 ? 0xfe : 0xff))],
  [BigInt(LARGE_PHYS + 0x1ff000), new Uint8Array(0x1000)],
  [BigInt(LARGE_PHYS + 0x3ff000), new Uint8Array(0x1000)],
];

/** With the legacy-paging tables: the tables themselves (A and D bits), the data pages they map, the large pages' images. */
const LEGACY_PAGING_COMPARED: ReadonlyArray<[bigint, number]> = [
  [BigInt(TABLES.pd32), TABLES.end - TABLES.pd32],
  [LAYOUT32.data + 0x1000n, 0x5000],
  ...LARGE_PAGE_IMAGES.map(([addr, bytes]): [bigint, number] => [addr, bytes.length]),
];

async function comparedMemory(t: { readMemory: EmulatorTarget['readMemory'] }, seq: ProtectedSequence): Promise<Uint8Array> {
  const parts = [
    await t.readMemory(LAYOUT32.gdtPage, 0x1000, 'phys'),
    await t.readMemory(LAYOUT32.stackBase, Number(LAYOUT32.stackTop - LAYOUT32.stackBase), 'phys'),
    await t.readMemory(LAYOUT32.data, 0x1000, 'phys'),
  ];
  if (seq.legacyTables) for (const [addr, length] of LEGACY_PAGING_COMPARED) parts.push(await t.readMemory(addr, length, 'phys'));
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

/** Where byte `offset` of comparedMemory's result lives, as text. */
function comparedPlace(offset: number, seq: ProtectedSequence): string {
  const regions: Array<[bigint, number]> = [[LAYOUT32.gdtPage, 0x1000], [LAYOUT32.stackBase, Number(LAYOUT32.stackTop - LAYOUT32.stackBase)], [LAYOUT32.data, 0x1000]];
  if (seq.legacyTables) regions.push(...LEGACY_PAGING_COMPARED);
  let at = offset;
  for (const [addr, length] of regions) {
    if (at < length) return `physical 0x${(addr + BigInt(at)).toString(16)}`;
    at -= length;
  }
  return `offset 0x${offset.toString(16)}`;
}

/** Run one sequence on both targets; the first difference as text, or undefined. */
async function lockstep(seq: ProtectedSequence): Promise<string | undefined> {
  const { qemu, emu } = await targetsFor(seq);
  const code = nasm(seq.asm, Number(LAYOUT32.code), seq.real ? 16 : 32);
  const tm = (seq.real ? buildRealModeMachine : buildTestMachine32)({
    code,
    memory: [
      ...(seq.paging ? systemMemory().filter((r) => r.addr >= 0x2000n && r.addr < 0x6000n) : []),
      ...(seq.legacyTables ? [...legacyPageTables(), ...LARGE_PAGE_IMAGES.map(([addr, bytes]) => ({ addr, bytes }))] : []),
      { addr: LAYOUT32.stackBase, bytes: new Uint8Array(Number(LAYOUT32.stackTop - LAYOUT32.stackBase)) },
      // a ramp, so that a load from a wrong address reads a wrong value
      { addr: LAYOUT32.data, bytes: Uint8Array.from({ length: LAYOUT32.dataSize }, (_, i) => (i * 7 + 1) & 0xff) },
    ],
  });
  await emu.reset(tm.state, tm.memory);
  // Sequences load segment registers and switch modes: redo QEMU's ordered setup every time.
  qemu.forgetSystemState();
  await qemu.reset(tm.state, tm.memory);
  // (a real-mode sequence that switched to flat protected mode ends at the code's linear end)
  const stops = new Set([tm.endAddress, LAYOUT32.code + BigInt(code.length), ...tm.exceptionStops]);
  for (let i = 0; i < 200; i++) {
    const before = await emu.readState();
    if (i > 0 && stops.has(before.rip)) break;
    const re = await emu.step();
    const rq = await qemu.step();
    if (re.kind !== rq.kind) return `step ${i}: emulator stopped with ${re.kind}${re.kind === 'crash' ? ` (${re.message})` : ''}, QEMU with ${rq.kind}`;
    if (re.kind === 'triple-fault') return undefined;
    const row = ALL_ROWS[emu.internals.lastRow];
    if (row) covered.add(row.id);
    const long64 = emu.internals.cpu.long64;
    const se = view(await emu.readState({ system: true }), long64);
    const sq = await qemu.readState({ system: true });
    const diff = diffStates(se, sq, BigInt(row?.flagsUndefined ?? 0));
    if (diff.length) return `after step ${i} at rip 0x${before.rip.toString(16)} (${row?.mnemonic ?? '?'} ${row?.forms ?? ''}): ${diff.join('; ')}`;
    if (re.kind !== 'step') break;
  }
  const [me, mq] = [await comparedMemory(emu, seq), await comparedMemory(qemu, seq)];
  const first = me.findIndex((b, i) => b !== mq[i]);
  if (first >= 0) return `memory differs first at ${comparedPlace(first, seq)}: emulator 0x${me[first]!.toString(16)}, QEMU 0x${mq[first]!.toString(16)}`;
  return undefined;
}

const all = [...protectedSequences(), ...sysenterSequences(), ...legacyPagingSequences()];

describe(`protected mode: emulator vs QEMU (${all.length} sequences)`, () => {
  for (const seq of all) {
    it(seq.qemuDeviation ? `${seq.name} (known QEMU deviation)` : seq.name, async () => {
      const divergence = await lockstep(seq);
      if (seq.qemuDeviation) {
        expect(divergence, `expected QEMU to deviate: ${seq.qemuDeviation}`).not.toBeUndefined();
        deviations.push(`${seq.name}: ${seq.qemuDeviation} — ${divergence}`);
      } else expect(divergence).toBeUndefined();
    }, 30_000);
  }
});

/**
 * The decimal adjustments over their whole input space, run (not stepped) on both targets: every
 * AL × AF × CF (AH = the counter's low byte) for DAA/DAS/AAA/AAS, every AL for AAM with five
 * bases, AL × 16 AH values for AAD with two. Each result is stored as AX and the flags the SDM
 * defines for the instruction; the data pages must agree byte for byte.
 */
describe('decimal adjustments over every input: emulator vs QEMU', () => {
  const ENTRIES: Array<[string, number, string]> = [];
  // [instruction, defined-flag mask (low byte of EFLAGS), setup of AX from ECX]
  const adjust = (insn: string, mask: number) => ENTRIES.push([insn, mask, 'adjust']);
  adjust('daa', 0xd5);
  adjust('das', 0xd5);
  adjust('aaa', 0x11);
  adjust('aas', 0x11);
  for (const base of [10, 7, 16, 255, 1]) ENTRIES.push([`aam ${base}`, 0xc4, 'aam']);
  for (const base of [10, 7]) ENTRIES.push([`aad ${base}`, 0xc4, 'aad']);
  const COUNT: Record<string, number> = { adjust: 1024, aam: 256, aad: 4096 };

  const loop = ([insn, mask, kind]: [string, number, string], i: number) => {
    // ECX counts; AL = CL; the flags come from bits 8 (AF) and 9 (CF) for the adjustments
    const setup =
      kind === 'adjust'
        ? 'mov eax, ecx\nmov edx, ecx\nshr edx, 4\nand edx, 0x10\nmov ebx, ecx\nshr ebx, 9\nand ebx, 1\nor edx, ebx\nor edx, 2\nmov ah, cl\nxor ah, 0x5a'
        : kind === 'aam'
          ? 'mov eax, ecx\nmov ah, 0x77\nmov edx, 0x8d7'
          : 'mov eax, ecx\nmov edx, ecx\nshr edx, 8\nimul edx, edx, 17\nmov ah, dl\nmov edx, 0x8d7';
    return `xor ecx, ecx\n.l${i}:\n${setup}\npush edx\npopfd\n${insn}\npushfd\npop edx\nand edx, ${mask}\nmov [edi], ax\nmov [edi+2], dl\nmov [edi+3], cl\nadd edi, 4\ninc ecx\ncmp ecx, ${COUNT[kind]}\njb .l${i}`;
  };
  const asm = `mov edi, ${LAYOUT32.data}\n${ENTRIES.map(loop).join('\n')}`;
  const bytes = ENTRIES.reduce((n, [, , kind]) => n + 4 * COUNT[kind]!, 0);

  it(`${ENTRIES.map(([i]) => i).join(', ')}: ${bytes / 4} results agree`, async () => {
    const [me, mq] = await runOnBoth(asm, bytes);
    const wrong: string[] = [];
    let at = 0;
    for (const [insn, , kind] of ENTRIES) {
      for (let n = 0; n < COUNT[kind]!; n++, at += 4) {
        const e = Buffer.from(me.subarray(at, at + 3)).toString('hex');
        const q = Buffer.from(mq.subarray(at, at + 3)).toString('hex');
        if (e !== q && wrong.length < 10) wrong.push(`${insn} input ${n.toString(16)}: AX,flags emu ${e} qemu ${q}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(Buffer.from(me).equals(Buffer.from(mq))).toBe(true);
  }, 60_000);
});

/** Run 32-bit `asm` to its end (not stepped) on both targets; the first `bytes` of the data area of each. */
async function runOnBoth(asm: string, bytes: number): Promise<[Uint8Array, Uint8Array]> {
  const code = nasm(asm, Number(LAYOUT32.code), 32);
  const tm = buildTestMachine32({ code, memory: [{ addr: LAYOUT32.data, bytes: new Uint8Array(bytes) }] });
  await emu.reset(tm.state, tm.memory);
  qemu.forgetSystemState();
  await qemu.reset(tm.state, tm.memory);
  const stops = [tm.endAddress, ...tm.exceptionStops];
  expect(await emu.runUntil(stops, 2_000_000)).toEqual({ kind: 'breakpoint', rip: tm.endAddress });
  expect(await qemu.runUntil(stops, 2_000_000)).toEqual({ kind: 'breakpoint', rip: tm.endAddress });
  return [await emu.readMemory(LAYOUT32.data, bytes, 'phys'), await qemu.readMemory(LAYOUT32.data, bytes, 'phys')];
}

/**
 * LAR, LSL, VERR, VERW on every kind of descriptor, in legacy protected mode, at CPL 0 and CPL 3:
 * 128 descriptors written at GDT offset 0x1800 (every S/type value at every DPL, G and D/B
 * varying), read through every RPL and both tables (the LDTR QEMU resets to base 0 makes TI = 1
 * name the same bytes), and selectors 0–63 (null, and IDT gates read as descriptors). Per
 * selector: LAR's and LSL's destination (0xdeadbeef unless loaded), each instruction's ZF, and
 * EFLAGS after all four (started from the counter's bits: only ZF may change).
 */
describe('LAR, LSL, VERR, VERW on every descriptor type: emulator vs QEMU', () => {
  const DESCRIPTORS = 128;
  const SELECTORS = 64 + DESCRIPTORS * 8;
  const ENTRY = 16;
  const descriptorWrites = Array.from({ length: DESCRIPTORS }, (_, i) => {
    const access = 0x80 | ((i >> 5) << 5) | (i & 0x1f); // P, DPL, S + type
    const flags = (i * 5) & 0xc; // G, D/B
    const lo = (0x3000 + i * 0x111) & 0xffff | ((0x4567 + i) << 16);
    const hi = (0x12 + i) | (access << 8) | ((i & 0xf) << 16) | (flags << 20) | (0x89 << 24);
    return `mov dword [${0x1800 + 8 * i}], ${lo >>> 0}\nmov dword [${0x1804 + 8 * i}], ${hi >>> 0}`;
  }).join('\n');
  const table = `
table:
  xor ecx, ecx
.l:
  mov ebx, ecx
  cmp ebx, 64
  jb .s
  add ebx, ${0x1800 - 64}
.s:
  mov eax, ecx
  and eax, 0x8d5
  or eax, 2
  push eax
  popfd
  mov eax, 0xdeadbeef
  lar eax, bx
  setz byte [edi+8]
  mov [edi], eax
  mov eax, 0xdeadbeef
  lsl eax, ebx
  setz byte [edi+9]
  mov [edi+4], eax
  verr bx
  setz byte [edi+10]
  verw bx
  setz byte [edi+11]
  pushfd
  pop eax
  mov [edi+12], eax
  add edi, ${ENTRY}
  inc ecx
  cmp ecx, ${SELECTORS}
  jb .l
  ret`;
  const ring3 = `mov ax, ${SELECTORS32.tss}\nltr ax\npush dword ${SELECTORS32.data3 | 3}\npush dword 0xf000\npush dword 0x2\npush dword ${SELECTORS32.code3 | 3}\npush dword in_ring3\niretd\nin_ring3:\nmov ax, ${SELECTORS32.data3 | 3}\nmov ds, ax\nmov es, ax`;
  const asm = `${descriptorWrites}\nmov edi, ${LAYOUT32.data}\ncall table\n${ring3}\ncall table\njmp end\n${table}\nend:`;
  const bytes = 2 * SELECTORS * ENTRY;

  it(`${2 * SELECTORS} selectors at CPL 0 and 3 agree`, async () => {
    const [me, mq] = await runOnBoth(asm, bytes);
    const wrong: string[] = [];
    for (let at = 0; at < bytes && wrong.length < 10; at += ENTRY) {
      const e = Buffer.from(me.subarray(at, at + ENTRY)).toString('hex');
      const q = Buffer.from(mq.subarray(at, at + ENTRY)).toString('hex');
      const n = (at / ENTRY) % SELECTORS;
      if (e !== q) wrong.push(`CPL ${at < bytes / 2 ? 0 : 3} selector 0x${(n < 64 ? n : n - 64 + 0x1800).toString(16)}: lar,lsl,zf×4,eflags emu ${e} qemu ${q}`);
    }
    expect(wrong).toEqual([]);
    // the run reached CPL 3 and stored there
    expect(me.subarray(bytes - ENTRY, bytes - ENTRY + 4)).not.toEqual(new Uint8Array(4));
  }, 60_000);
});
