/**
 * The memory bytes an instruction reads or writes through its operands, at the addresses the
 * registers before it give, from iced-x86 alone (independent of the emulator under test). Each
 * address register counts at its own width (XLAT's AL index, 0x67's 32-bit ESI) and the sum at
 * the address size, before an FS/GS base is added, as in 64-bit mode (SDM Vol. 1 §3.7.5).
 */
import { Decoder, DecoderOptions, Instruction, InstructionInfoFactory, MemorySizeExt, OpAccess, OpKind, Register, RegisterExt } from 'iced-x86';
import type { GprName, MachineState } from '../../contracts/machine-state.js';

const GPR64: ReadonlyArray<[Register, GprName]> = [
  [Register.RAX, 'rax'], [Register.RCX, 'rcx'], [Register.RDX, 'rdx'], [Register.RBX, 'rbx'],
  [Register.RSP, 'rsp'], [Register.RBP, 'rbp'], [Register.RSI, 'rsi'], [Register.RDI, 'rdi'],
  [Register.R8, 'r8'], [Register.R9, 'r9'], [Register.R10, 'r10'], [Register.R11, 'r11'],
  [Register.R12, 'r12'], [Register.R13, 'r13'], [Register.R14, 'r14'], [Register.R15, 'r15'],
];
const GPR_OF_FULL = new Map<Register, GprName>(GPR64);

/** String instructions: iced reports their element with no memory size; the suffix says it. */
const STRING_ELEMENT: Record<string, number> = { b: 1, w: 2, d: 4, q: 8 };

let factory: InstructionInfoFactory | undefined;

/** A register's value at its width (AH: bits 15..8), or undefined for one this does not model. */
function registerValue(r: Register, s: MachineState): { value: bigint; bits: number } | undefined {
  if (r === Register.None) return { value: 0n, bits: 0 };
  const bits = RegisterExt.size(r) * 8;
  const full = GPR_OF_FULL.get(RegisterExt.fullRegister(r));
  if (!full) return undefined;
  const high = r === Register.AH || r === Register.CH || r === Register.DH || r === Register.BH;
  const v = s.gpr[full] >> (high ? 8n : 0n);
  return { value: BigInt.asUintN(bits, v), bits };
}

/** Every byte address (as numbers; unmapped ones included) the instruction's memory operands access. */
/**
 * BT/BTS/BTR/BTC m, r: the register is a signed bit offset from the operand (bit-string
 * addressing, SDM Vol. 2 "BT"), so the operand-sized access is (offset >> log2(size)) operands
 * away from the address iced-x86 reports. 0 for every other instruction.
 */
function bitStringOffset(ins: Instruction, mnemonic: string, state: MachineState): bigint {
  if (!/^bt[src]?$/.test(mnemonic) || ins.op0Kind !== OpKind.Memory || ins.op1Kind !== OpKind.Register) return 0n;
  const r = registerValue(ins.op1Register, state);
  if (!r || r.bits === 0) return 0n;
  return (BigInt.asIntN(r.bits, r.value) >> BigInt(Math.log2(r.bits))) * BigInt(r.bits / 8);
}

/** `mnemonic`: as harness/asm/decode.ts gives it (`movsb`), for string instructions' element size. */
export function operandByteAddresses(bytes: Uint8Array, mnemonic: string, state: MachineState): number[] {
  factory ??= new InstructionInfoFactory();
  const decoder = new Decoder(64, bytes, DecoderOptions.None);
  const ins = new Instruction();
  const out: number[] = [];
  try {
    decoder.ip = state.rip;
    decoder.decodeOut(ins);
    const info = factory.info(ins);
    const bitBase = bitStringOffset(ins, mnemonic, state);
    for (const m of info.usedMemory()) {
      const access = m.access as OpAccess;
      const size = MemorySizeExt.size(m.memorySize) || (STRING_ELEMENT[mnemonic.slice(-1)] ?? 0);
      const base = registerValue(m.base as Register, state);
      const index = registerValue(m.index as Register, state);
      if (access !== OpAccess.NoMemAccess && size > 0 && base && index) {
        // RIP-relative operands come with the absolute address as displacement and no base
        const addressBits = Math.max(base.bits, index.bits) === 32 ? 32 : 64;
        let a = BigInt.asUintN(addressBits, BigInt.asUintN(64, m.displacement as bigint) + base.value + index.value * BigInt(m.scale as number) + bitBase);
        const seg = m.segment as Register;
        if (seg === Register.FS) a += state.fsBase;
        if (seg === Register.GS) a += state.gsBase;
        a = BigInt.asUintN(64, a);
        for (let i = 0; i < size; i++) {
          const at = a + BigInt(i);
          if (at <= BigInt(Number.MAX_SAFE_INTEGER)) out.push(Number(at));
        }
      }
      m.free();
    }
    info.free();
  } finally {
    ins.free();
    decoder.free();
  }
  return out;
}
