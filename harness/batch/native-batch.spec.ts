import { afterEach, describe, expect, it } from 'vitest';
import { CASE_FORMAT, decodeCase, type Case } from '../../corpus/case-schema.js';
import { LAYOUT, SELECTORS } from '../../contracts/test-machine.js';
import { EmulatorTarget } from '../../emulator/emulator-target.js';
import { setMutants } from '../../emulator/mutants.js';
import { asm } from '../asm/assembler.js';
import { createCaseSource } from '../campaign/case-source.js';
import { batchIneligible } from './batch-image.js';
import { BATCH, RECORD, RECORD_STATUS } from './batch-layout.js';
import { BatchScreen, type BatchRound } from './batch-screen.js';

/**
 * The native batch's promise: for every case, the record the emulator's native batch builds is
 * byte for byte the one the emulator writes running the guest runner (the runner is the
 * specification; QEMU runs it). Checked on generated cases of several seeds and on hand cases
 * for what generated ones rarely do.
 */
const guestVsNative = () => new BatchScreen(new EmulatorTarget(), new EmulatorTarget(), { native: { reference: false, dut: true } });

async function generated(seed: number, count: number, families?: string[]): Promise<Case[]> {
  const source = createCaseSource({ seed, length: [1, 10], raw: seed % 2 === 0, families });
  const out: Case[] = [];
  for (let first = 0; out.length < count; first += 96) {
    const batch = await Promise.all(Array.from({ length: 96 }, (_, k) => source(first + k)));
    for (const g of batch) if (g.case && !batchIneligible(g.case)) out.push(g.case);
  }
  return out.slice(0, count);
}

async function handCase(text: string, extra: Partial<Record<string, unknown>> = {}): Promise<Case> {
  const code = await asm(text, LAYOUT.code);
  return decodeCase({
    format: CASE_FORMAT,
    id: text.split('\n')[0]!,
    code: Buffer.from(code).toString('hex'),
    regs: { rbx: '0x20000' },
    // a far pointer {offset 0x1234, selector data} at 0x20000, then 0x11 bytes
    memory: [{ addr: '0x20000', bytes: `3412000010100000${'11'.repeat(24)}` }],
    compare: [{ addr: '0x20000', length: 32 }, { addr: '0xfc00', length: 0x400 }],
    provenance: { generator: 'hand' },
    ...extra,
  });
}

const record = (records: Uint8Array, k: number) => records.subarray(k * BATCH.recordBytes, (k + 1) * BATCH.recordBytes);
const field = (records: Uint8Array, k: number, offset: number) => new DataView(records.buffer, records.byteOffset).getBigUint64(k * BATCH.recordBytes + offset, true);

/** Every record of a round that ran to its end: equal byte for byte, else the first difference by field offset. */
function expectSameRecords(round: BatchRound, cases: readonly Case[]): void {
  expect(round.completed).toBe(true);
  expect(round.complete).toBe(round.images.length);
  for (let k = 0; k < round.complete; k++) {
    const guest = record(round.reference, k);
    const native = record(round.dut, k);
    if (Buffer.compare(guest, native) === 0) continue;
    const offsets = [];
    for (let o = 0; o < BATCH.recordBytes; o += 8) if (field(round.reference, k, o) !== field(round.dut, k, o)) offsets.push(`0x${o.toString(16)}`);
    expect.fail(`case ${k} (${cases[k]!.id}: ${cases[k]!.asm?.join('; ')}) differs at record offsets ${offsets.join(', ')}`);
  }
}

afterEach(() => setMutants([]));

describe('native batch on the emulator', () => {
  it('writes the records the guest runner writes, byte for byte, for 3,000 generated cases (5 seeds, keystone and raw encodings)', async () => {
    const screen = guestVsNative();
    const statuses = new Map<string, number>();
    let done = 0;
    for (const seed of [21, 22, 23, 24, 25]) {
      const cases = await generated(seed, 600);
      for (let first = 0; first < cases.length; ) {
        const round = await screen.runBatch(cases.slice(first));
        expectSameRecords(round, cases.slice(first));
        for (let k = 0; k < round.complete; k++) {
          const status = field(round.dut, k, RECORD.status);
          const key = status === BigInt(RECORD_STATUS.exception) ? `vector ${field(round.dut, k, RECORD.vector)}` : `status ${status}`;
          statuses.set(key, (statuses.get(key) ?? 0) + 1);
        }
        first += round.images.length;
        done += round.images.length;
      }
    }
    expect(done).toBe(3000);
    // the generated cases complete, or raise #DE, #PF, #GP… (not only one kind of record is compared)
    expect(statuses.get(`status ${RECORD_STATUS.completed}`)).toBeGreaterThan(2000);
    expect(statuses.get('vector 0')).toBeGreaterThan(20);
    // since the generator keeps accesses safe by range rather than by pinning, its cases raise #DE
    // and #PF (2,903 / 93 / 4 for these seeds); #GP, #UD, #BP… are the hand cases' below
    expect([...statuses.keys()].filter((k) => k.startsWith('vector')).length).toBeGreaterThanOrEqual(2);
  }, 180_000);

  it('writes the guest runner\'s records for exceptions, TF, flags left set, segment loads and state carried between cases', async () => {
    const cases = [
      // #PF: CR2 = 0x40000 from here on; RAX is the first qword of the first record, which the
      // last case reads
      await handCase('mov rax, qword ptr [0x40000]', { regs: { rax: '0x5a5a', rbx: '0x20000' } }),
      await handCase('mov rax, 0x8000000000000000\nmov rcx, qword ptr [rax]'), // #GP(0): CR2 still 0x40000
      await handCase('xor ecx, ecx\ndiv ecx'), // #DE
      await handCase('ud2'), // #UD
      await handCase('int3'), // #BP, a trap
      await handCase('int 0x80'), // a vector from 32 up
      // a software INT of a vector whose stub expects an error code (the emulator pushes one, as
      // for the exception; QEMU does not, and then the runner reads the frame one qword off)
      await handCase('int 0xd'),
      await handCase('pushfq\nor qword ptr [rsp], 0x100\npopfq\nnop\nnop'), // TF: #DB after the first NOP
      await handCase('nop\nnop', { rflags: '0x302' }), // TF from the case's own RFLAGS: #DB after its first instruction
      await handCase('pushfq\nor qword ptr [rsp], 0x44400\npopfq\nadd eax, 0x1'), // NT, AC, DF left set at the end
      await handCase('add eax, 0x1', { rflags: '0x3f7ed7' }), // every flag IRETQ loads at CPL 0 but TF (ID VIP VIF AC RF NT IOPL …), and VM, which it does not load
      // IRETQ in the case loads CS and SS (and RSP, RFLAGS) from a frame it pushed
      await handCase('mov rax, rsp\npush 0x1010\npush rax\npushfq\npush 0x1008\nlea rcx, [rip + 0x3]\npush rcx\niretq\nmov edx, ss'),
      // LFS/LGS: load the selector and the base from the GDT
      await handCase('lfs eax, fword ptr [rbx]\nmov ecx, fs\nmov rdx, qword ptr fs:[rbx + 0x10]'),
      await handCase('lgs ax, dword ptr [rbx]\nmov ecx, gs'),
      await handCase('mov rax, qword ptr fs:[rcx + 0x8]\nmov rdx, qword ptr gs:[rcx + 0x10]', { fsBase: '0x20000', gsBase: '0x1fff8' }),
      await handCase('mov eax, ds\nmov ecx, es\npush rax\npop rdx'),
      await handCase('mov rsp, 0x7000\npush rax'), // #PF with a wrecked RSP: the IST stack records it
      await handCase('add r13, qword ptr [rip + 0xfff0]\nmov qword ptr [rbx], r13'),
      // the batch area is mapped while cases run: this reads the first record's RAX
      await handCase('mov ecx, 0x104000\nmov rax, qword ptr [rcx]'),
    ];
    const round = await guestVsNative().runBatch(cases);
    expect(round.images.length).toBe(cases.length);
    expectSameRecords(round, cases);
    // the hand cases do what their comments say (so the test compares those paths)
    const vector = (k: number) => (field(round.dut, k, RECORD.status) === BigInt(RECORD_STATUS.exception) ? Number(field(round.dut, k, RECORD.vector)) : -1);
    expect(cases.map((_, k) => vector(k))).toEqual([14, 13, 0, 6, 3, 0x80, 13, 1, 1, -1, -1, -1, -1, -1, -1, -1, 14, -1, -1]);
    expect(field(round.dut, 1, RECORD.cr2)).toBe(0x40000n);
    expect(field(round.dut, 18, RECORD.gpr)).toBe(0x5a5an);
    expect(field(round.dut, 9, RECORD.rflags) & 0x44400n).toBe(0x44400n);
    expect(field(round.dut, 11, RECORD.gpr + 2 * 8)).toBe(BigInt(SELECTORS.data)); // RDX = SS after the IRETQ
    expect(field(round.dut, 14, RECORD.fsBase)).toBe(0x20000n);
    expect(field(round.dut, 14, RECORD.gpr + 2 * 8)).toBe(0x1111111111111111n); // RDX read through GS: 0x20008
  }, 60_000);

  it('writes the guest runner\'s records, x87/SSE state hash included, for 1,200 generated sse and x87 cases (keystone and raw)', async () => {
    const screen = guestVsNative();
    let simd = 0;
    const hashes = new Set<bigint>();
    for (const [seed, family] of [[41, 'sse'], [42, 'sse'], [43, 'x87'], [44, 'x87']] as const) {
      const cases = await generated(seed, 300, [family]);
      for (let first = 0; first < cases.length; ) {
        const round = await screen.runBatch(cases.slice(first));
        expectSameRecords(round, cases.slice(first));
        for (let k = 0; k < round.complete; k++) {
          if (round.images[k]!.simd) simd++;
          hashes.add(field(round.dut, k, RECORD.simdHash));
        }
        first += round.images.length;
      }
    }
    expect(simd).toBe(1200);
    // the state hash tells the cases apart (it is not a constant the two sides agree on)
    expect(hashes.size).toBeGreaterThan(1000);
  }, 180_000);

  it('hashes XMM, MXCSR, the x87 registers and FCW into the record of a simd batch, and nothing into an integer batch', async () => {
    // pairs that leave every GPR, flag and compared byte equal and differ in one piece of x87/SSE state
    const pairs = [
      ['mov eax, 0x1\nmovq xmm3, rax\nxor eax, eax', 'mov eax, 0x2\nmovq xmm3, rax\nxor eax, eax'],
      ['mov eax, 0x1\nmovq xmm15, rax\npslldq xmm15, 0xf\nxor eax, eax', 'mov eax, 0x2\nmovq xmm15, rax\npslldq xmm15, 0xf\nxor eax, eax'],
      ['mov dword ptr [rbx], 0x1f80\nldmxcsr dword ptr [rbx]\nmov dword ptr [rbx], 0x11', 'mov dword ptr [rbx], 0x3f80\nldmxcsr dword ptr [rbx]\nmov dword ptr [rbx], 0x11'],
      ['fld1', 'fldz'],
      ['mov word ptr [rbx], 0x37f\nfldcw word ptr [rbx]\nmov word ptr [rbx], 0x1111', 'mov word ptr [rbx], 0x77f\nfldcw word ptr [rbx]\nmov word ptr [rbx], 0x1111'],
      ['mov eax, 0x5\nmovd mm2, eax\nxor eax, eax', 'mov eax, 0x6\nmovd mm2, eax\nxor eax, eax'],
    ];
    for (const native of [false, true]) {
      const cases = await Promise.all(pairs.flat().map((t) => handCase(t)));
      const round = await new BatchScreen(new EmulatorTarget(), new EmulatorTarget(), { native: { reference: false, dut: native } }).runBatch(cases);
      expectSameRecords(round, cases);
      for (let p = 0; p < pairs.length; p++) {
        const a = record(round.dut, 2 * p);
        const b = record(round.dut, 2 * p + 1);
        const differing = [];
        for (let o = 0; o < BATCH.recordBytes; o += 8) if (field(round.dut, 2 * p, o) !== field(round.dut, 2 * p + 1, o)) differing.push(o);
        expect(differing, pairs[p]![0]).toEqual([RECORD.simdHash, RECORD.simdHash2]);
        expect(Buffer.compare(a, b)).not.toBe(0);
      }
    }
    const integer = await guestVsNative().runBatch([await handCase('inc qword ptr [rbx]')]);
    expect(field(integer.dut, 0, RECORD.simdHash)).toBe(0n);
    expect(field(integer.reference, 0, RECORD.simdHash)).toBe(0n);
  }, 60_000);

  it('starts every case of a simd batch from the clean x87/SSE state, whatever the case before left', async () => {
    const dirty = await handCase('fld1\nfld1\nmov eax, 0x7\nmovq xmm9, rax\nmov dword ptr [rbx], 0x7f80\nldmxcsr dword ptr [rbx]\nmov dword ptr [rbx], 0x11');
    const probe = await handCase('nop');
    for (const native of [false, true]) {
      const round = await new BatchScreen(new EmulatorTarget(), new EmulatorTarget(), { native: { reference: false, dut: native } }).runBatch([probe, dirty, probe]);
      expectSameRecords(round, [probe, dirty, probe]);
      expect(round.images.map((i) => i.simd)).toEqual([false, true, false]);
      // the NOP after the dirty case records what the NOP before it did
      expect(Buffer.compare(record(round.dut, 0), record(round.dut, 2))).toBe(0);
      expect(field(round.dut, 0, RECORD.simdHash)).not.toBe(field(round.dut, 1, RECORD.simdHash));
    }
  }, 60_000);

  it('does not depend on the instructions the runner uses: with rex-b-ignored planted, the guest batch stops and the native one records every case', async () => {
    setMutants(['rex-b-ignored']);
    const cases = await generated(26, 96);
    const guest = await new BatchScreen(new EmulatorTarget(), new EmulatorTarget(), { native: { reference: false, dut: false } }).runBatch(cases);
    // (the runner's `mov rdi, [r8]` reads through RAX: it copies the wrong bytes until something faults)
    expect(guest.completed).toBe(false);
    const native = await new BatchScreen(new EmulatorTarget(), new EmulatorTarget()).runBatch(cases);
    expect(native.completed).toBe(true);
    expect(native.complete).toBe(cases.length);
    for (let k = 0; k < cases.length; k++) expect(field(native.dut, k, RECORD.status)).not.toBe(BigInt(RECORD_STATUS.unfinished));
  }, 60_000);

  it('records a case that does not end as unfinished, and goes on with the next', async () => {
    const cases = [await handCase('inc qword ptr [rbx]'), await handCase('hlt'), await handCase('inc qword ptr [rbx]')];
    const round = await new BatchScreen(new EmulatorTarget(), new EmulatorTarget()).runBatch(cases);
    expect(round.completed).toBe(true);
    expect([0, 1, 2].map((k) => field(round.dut, k, RECORD.status))).toEqual([1n, 3n, 1n].map((s) => s));
    expect(Buffer.compare(record(round.dut, 0), record(round.dut, 2))).toBe(0);
  }, 60_000);
});
