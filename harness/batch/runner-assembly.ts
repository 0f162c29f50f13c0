/**
 * Assembling a guest-side runner (the batch runner, batch-layout.ts, and the explorer's,
 * explore/explore-runner.ts): its code with its labels' addresses, and the gateway pair that
 * moves between the test machine's page tables and the runner's.
 */
import { LAYOUT } from '../../contracts/test-machine.js';
import type { MemoryRegion } from '../../contracts/machine-state.js';
import { initAssembler } from '../asm/assembler.js';
import { decodeAll } from '../asm/decode.js';

const hex = (v: bigint | number) => `0x${v.toString(16)}`;

export interface AssembledRunner {
  readonly code: Uint8Array;
  /** The addresses of the labels asked for. */
  readonly labels: Record<string, bigint>;
  /** The gateway's bytes: at `enter` load the runner's CR3 and jump to RBX; at `leave` load the test machine's CR3 and halt. */
  readonly gateway: MemoryRegion;
  /** The HLT of `leave`: the breakpoint that ends a run (the test machine's page tables are back). */
  readonly done: bigint;
}

export interface RunnerPlacement {
  /** What the runner is called in errors ("batch runner"). */
  readonly name: string;
  readonly code: bigint;
  /** Its own page tables' root. */
  readonly pml4: bigint;
  readonly enter: bigint;
  readonly leave: bigint;
  /** Labels whose addresses are wanted. */
  readonly labels: readonly string[];
  /** The most code bytes it may have (its page). */
  readonly maxBytes?: number;
}

/**
 * The runner's source assembled at `at.code`. Unchecked keystone: the checker rejects absolute
 * operands that keystone (correctly, at a fixed address) encodes RIP-relative; the labels are
 * cross-checked against iced's decoding instruction by instruction instead.
 */
export async function assembleRunner(source: string, at: RunnerPlacement): Promise<AssembledRunner> {
  const ks = await initAssembler();
  await ks.ready();
  const code = ks.assemble(source, at.code);
  if (at.maxBytes !== undefined && code.length > at.maxBytes) throw new Error(`${at.name}: ${code.length} bytes do not fit its page`);
  const enter = ks.assemble([`mov eax, ${hex(at.pml4)}`, 'mov cr3, rax', 'jmp rbx'].join('\n'), at.enter);
  const leave = ks.assemble([`mov eax, ${hex(LAYOUT.pml4)}`, 'mov cr3, rax', 'hlt'].join('\n'), at.leave);
  const bytes = new Uint8Array(Number(at.leave - at.enter) + leave.length).fill(0xf4);
  bytes.set(enter, 0);
  bytes.set(leave, Number(at.leave - at.enter));
  return {
    code,
    labels: labelAddresses(source, code, at),
    gateway: { addr: at.enter, bytes },
    done: at.leave + BigInt(leave.length - 1),
  };
}

/** Label addresses: every non-label source line is one instruction, so label i is the address of
 * the instruction that follows it in iced's decoding of the assembled bytes. */
function labelAddresses(source: string, code: Uint8Array, at: RunnerPlacement): Record<string, bigint> {
  const decoded = decodeAll(code, at.code);
  const out: Record<string, bigint> = {};
  let index = 0;
  for (const line of source.split('\n')) {
    const label = /^(\w+):$/.exec(line);
    if (!label) {
      index++;
      continue;
    }
    if (at.labels.includes(label[1]!)) {
      const ins = decoded[index];
      if (!ins) throw new Error(`${at.name}: label ${label[1]} is past the code`);
      out[label[1]!] = ins.address;
    }
  }
  if (index !== decoded.length) throw new Error(`${at.name}: ${index} source instructions but ${decoded.length} decoded`);
  const ripRelative = decoded.find((d) => /\[rip/.test(d.text));
  if (ripRelative) throw new Error(`${at.name}: keystone produced a RIP-relative operand (${ripRelative.text})`);
  return out;
}
