import { LAYOUT } from '../../contracts/test-machine.js';
import type { GprName, MemoryRegion } from '../../contracts/machine-state.js';

/**
 * The seed notes' case (`add r13, [rip+disp]` at __text_poke+0x192) as a self-contained
 * fragment, followed by what the kernel did with the result (`mov rdi, r13; mov [rsp-8], rdi`).
 * Encodings are spelled out so this sample does not depend on the assembler.
 */
export interface Fragment {
  readonly name: string;
  readonly code: Uint8Array;
  readonly asm: readonly string[];
  readonly memory: readonly MemoryRegion[];
  readonly regs: Partial<Record<GprName, bigint>>;
}

function qword(value: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, value, true);
  return b;
}

export const SEED_VALUE = 0xdeadbeefcafebaben;
export const SEED_DATA_ADDR = LAYOUT.data;

export function seedCase(): Fragment {
  const movEnd = LAYOUT.code + 10n;
  const addEnd = movEnd + 7n;
  const disp = Number(SEED_DATA_ADDR - addEnd); // RIP-relative: from the end of the add
  const d = new Uint8Array(4);
  new DataView(d.buffer).setInt32(0, disp, true);
  const code = Uint8Array.from([
    0x49, 0xbd, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, // mov r13, 0x1111111111111111
    0x4c, 0x03, 0x2d, ...d, // add r13, [rip+disp]
    0x4c, 0x89, 0xef, // mov rdi, r13
    0x48, 0x89, 0x7c, 0x24, 0xf8, // mov [rsp-8], rdi
  ]);
  return {
    name: 'seed: add r13, [rip+disp]',
    code,
    asm: [
      'mov r13, 0x1111111111111111',
      `add r13, [rip+0x${disp.toString(16)}]`,
      'mov rdi, r13',
      'mov [rsp-8], rdi',
    ],
    memory: [{ addr: SEED_DATA_ADDR, bytes: qword(SEED_VALUE) }],
    regs: {},
  };
}
