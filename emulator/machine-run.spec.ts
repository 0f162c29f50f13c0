import { describe, expect, it } from 'vitest';
import { buildTestMachine, LAYOUT } from '../contracts/test-machine.js';
import type { StopReason } from '../contracts/execution-target.js';
import { EmulatorTarget } from './emulator-target.js';
import { nasm } from './test-support/nasm.js';
import { sequences } from './test-support/sequences.js';

/**
 * Machine.run (the batched loop behind EmulatorTarget.runUntil) and the specialised handlers
 * against the reference: step() one instruction at a time with the generic handlers, stopping
 * as runUntil is specified to. Final state, the data/stack pages, the retired-instruction count
 * and the stop reason must agree exactly.
 */
async function reference(t: EmulatorTarget, stops: readonly bigint[], max: number): Promise<StopReason> {
  const m = t.internals;
  m.specialiseHandlers = false;
  const set = new Set(stops);
  for (let i = 0; i < max; i++) {
    const rip = BigInt.asUintN(64, BigInt(m.cpu.rip));
    if (i > 0 && set.has(rip)) return { kind: 'breakpoint', rip };
    const r = await t.step();
    if (r.kind !== 'step') return r;
  }
  const rip = BigInt.asUintN(64, BigInt(m.cpu.rip));
  return set.has(rip) ? { kind: 'breakpoint', rip } : { kind: 'limit' };
}

const fastTarget = new EmulatorTarget();
const refTarget = new EmulatorTarget();

async function both(code: Uint8Array, max = 10_000, extraStops: bigint[] = []) {
  const tm = buildTestMachine({
    code,
    memory: [
      { addr: LAYOUT.stackBase, bytes: new Uint8Array(Number(LAYOUT.stackTop - LAYOUT.stackBase)) },
      { addr: LAYOUT.data, bytes: new Uint8Array(LAYOUT.dataSize) },
    ],
  });
  const stops = [tm.endAddress, ...tm.exceptionStops, ...extraStops];
  const out = [];
  for (const fast of [true, false]) {
    const t = fast ? fastTarget : refTarget;
    await t.reset(tm.state, tm.memory);
    const stop = fast ? await t.runUntil(stops, max) : await reference(t, stops, max);
    out.push({
      stop,
      state: await t.readState({ system: true }),
      icount: t.internals.cpu.icount,
      lastRow: t.internals.lastRow,
      stack: await t.readMemory(LAYOUT.stackBase, Number(LAYOUT.stackTop - LAYOUT.stackBase), 'phys'),
      data: await t.readMemory(LAYOUT.data, LAYOUT.dataSize, 'phys'),
    });
  }
  return out;
}

async function expectSame(src: string, max?: number, extraStops?: bigint[]) {
  const [fast, ref] = await both(nasm(src), max, extraStops);
  expect(fast!.stop).toEqual(ref!.stop);
  expect(fast!.state).toEqual(ref!.state);
  expect(fast!.icount).toBe(ref!.icount);
  expect(fast!.lastRow).toBe(ref!.lastRow);
  expect(Buffer.from(fast!.stack).equals(Buffer.from(ref!.stack))).toBe(true);
  expect(Buffer.from(fast!.data).equals(Buffer.from(ref!.data))).toBe(true);
  return fast!;
}

describe('Machine.run and specialised handlers agree with step() and the generic handlers', () => {
  it('on every differential sequence', async () => {
    for (const seq of sequences()) {
      try {
        await expectSame(seq.asm);
      } catch (e) {
        throw new Error(`${seq.name}: ${(e as Error).message}`);
      }
    }
  }, 120_000);

  it('on loops with every specialised form, including R8–R15 and memory sources', async () => {
    const r = await expectSame(`
      mov rsi, 0x20000
      mov qword [rsi], -5
      mov dword [rsi+8], 0x80000000
      mov r9, 0x7fffffffffffffff
      mov ecx, 40
      l: add r9, rcx
      adc r10, 0
      sub r11, [rsi]
      add r12, [rsi]
      add r13d, [rsi+8]
      cmp r9, [rsi]
      or r14, r9
      and r14d, 0xfff0
      xor r15, r14
      test r15, r15
      test r9d, 0x100
      lea r8, [r9+rcx*8-7]
      lea eax, [r8+r9]
      mov [rsi+16], r8
      mov [rsi+24], eax
      mov rdx, [rsi+16]
      mov edx, [rsi+24]
      mov bl, [rsi+3]
      mov [rsi+32], bl
      mov r10b, [rsi+9]
      inc r13
      dec r12d
      push r15
      pop rbx
      push rsp
      pop rsp
      cmp ecx, 20
      jb skip
      sub ecx, 0
      skip: dec ecx
      jnz l`);
    expect(r.icount).toBeGreaterThan(1000);
  });

  it('when TF is set mid-burst (single-step trap after the next instruction)', async () => {
    await expectSame('nop\npushfq\nor qword [rsp], 0x100\npopfq\nnop\nnop\nnop');
  });

  it('counts one step per REP iteration', async () => {
    const r = await expectSame('mov rsi, 0x20000\nmov rdi, 0x20100\nmov ecx, 7\nrep movsb\nmov ecx, 3\nrep stosq\nnop');
    expect(r.icount).toBe(3 + 7 + 1 + 3 + 1);
  });

  it('re-decodes code a burst overwrites on its own page', async () => {
    await expectSame(`
      mov ecx, 3
      l: mov eax, 1
      add ebx, eax
      mov byte [rel l+1], 2
      dec ecx
      jnz l`);
  });

  it('at an instruction limit, at extra stops on the same page, and at the first instruction', async () => {
    await expectSame('l: inc eax\njmp l', 51);
    await expectSame('nop\nnop\nnop\nnop', 10_000, [LAYOUT.code + 2n]);
    await expectSame('l: inc eax\ncmp eax, 5\njne l', 10_000, [LAYOUT.code]);
  });

  it('after faults and HLT', async () => {
    await expectSame('mov eax, 1\nmov rbx, [0x40000]\nnop');
    await expectSame('mov eax, 1\nint3\nnop');
    await expectSame('xor ecx, ecx\nl: inc ecx\ncmp ecx, 10\njne l\nhlt\nnop');
  });
});
