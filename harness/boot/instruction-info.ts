import { Decoder, DecoderOptions, Instruction, InstructionInfoFactory, MemorySizeExt, OpAccess, Register } from 'iced-x86';
import type { GprName, MachineState } from '../../contracts/machine-state.js';
import { describe, type DecodedInstruction } from '../asm/decode.js';

/**
 * What the boot lockstep needs to know about an instruction, from iced-x86 (independent of the
 * emulator's decoder): its text and flag masks, the general registers it reads and writes, its
 * memory operands (to compute their addresses from a register state), and whether it is a REP
 * string instruction or port I/O. Cached by address and bytes: kernel code is patched at run time
 * (alternatives, text_poke), so the bytes are part of the key.
 */

/** 'address': the operand's address is computed but memory is not accessed (LEA). */
export type MemAccessKind = 'read' | 'write' | 'readwrite' | 'address';

export interface MemOperand {
  readonly access: MemAccessKind;
  readonly size: number;
  /** FS/GS add their base in 64-bit mode; the others are flat. */
  readonly segment: 'fs' | 'gs' | undefined;
  readonly base: GprName | undefined;
  readonly index: GprName | undefined;
  readonly scale: number;
  /** For RIP-relative operands iced gives the absolute address here (and no base). */
  readonly displacement: bigint;
}

export interface InsnInfo {
  readonly decoded: DecodedInstruction;
  /** The code size it was decoded as. */
  readonly bitness: 16 | 32 | 64;
  readonly gprsRead: readonly GprName[];
  readonly gprsWritten: readonly GprName[];
  readonly memory: readonly MemOperand[];
  /** REP/REPE/REPNE string instruction: its counter register at the address size. */
  readonly repCounter: { readonly bits: 16 | 32 | 64 } | undefined;
  readonly portIo: 'in' | 'out' | undefined;
}

const GPR_OF_REGISTER = new Map<number, GprName>();
{
  const names: Array<[GprName, string[]]> = [
    ['rax', ['RAX', 'EAX', 'AX', 'AL', 'AH']], ['rcx', ['RCX', 'ECX', 'CX', 'CL', 'CH']],
    ['rdx', ['RDX', 'EDX', 'DX', 'DL', 'DH']], ['rbx', ['RBX', 'EBX', 'BX', 'BL', 'BH']],
    ['rsp', ['RSP', 'ESP', 'SP', 'SPL']], ['rbp', ['RBP', 'EBP', 'BP', 'BPL']],
    ['rsi', ['RSI', 'ESI', 'SI', 'SIL']], ['rdi', ['RDI', 'EDI', 'DI', 'DIL']],
  ];
  for (let i = 8; i < 16; i++) names.push([`r${i}` as GprName, [`R${i}`, `R${i}D`, `R${i}W`, `R${i}L`]]);
  for (const [gpr, aliases] of names) {
    for (const a of aliases) {
      const r = (Register as unknown as Record<string, number>)[a];
      if (r !== undefined) GPR_OF_REGISTER.set(r, gpr);
    }
  }
}

function accessKind(a: OpAccess): MemAccessKind | undefined {
  switch (a) {
    case OpAccess.Read:
    case OpAccess.CondRead:
      return 'read';
    case OpAccess.Write:
    case OpAccess.CondWrite:
      return 'write';
    case OpAccess.ReadWrite:
    case OpAccess.ReadCondWrite:
      return 'readwrite';
    case OpAccess.NoMemAccess:
      return 'address';
    default:
      return undefined;
  }
}

const REP_STRING = /^(a32 )?(rep|repe|repne) (movs|stos|lods|scas|cmps|ins|outs)/;
/** Element size of a string instruction from its suffix (iced reports a size of 0 for them). */
const STRING_ELEMENT: Record<string, number> = { b: 1, w: 2, d: 4, q: 8 };

const PREFIXES = new Set([0x66, 0x67, 0xf2, 0xf3, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65, 0xf0]);

/** A 0x67 among the legacy prefixes: 32-bit addresses (so ECX counts a REP). */
function hasAddressSizePrefix(bytes: Uint8Array): boolean {
  for (const b of bytes) {
    if (b === 0x67) return true;
    if (!PREFIXES.has(b)) return false;
  }
  return false;
}

let factory: InstructionInfoFactory | undefined;
const cache = new Map<string, InsnInfo>();
const MAX_CACHE = 200_000;

/** Analyse the instruction at `rip` whose bytes start `bytes` (up to 15), in 64-, 32- or 16-bit code. */
/** The code size a state runs: 64 in IA-32e mode with CS.L, else CS.D/B's 32 or 16. */
export function codeBitness(s: MachineState): 16 | 32 | 64 {
  const attrs = s.seg.cs.attrs ?? 0;
  return (s.efer & 0x400n) !== 0n && (attrs & 0x00200000) !== 0 ? 64 : attrs & 0x00400000 ? 32 : 16;
}

export function instructionInfo(rip: bigint, bytes: Uint8Array, bitness: 16 | 32 | 64 = 64): InsnInfo {
  const key = `${bitness}:${rip.toString(16)}:${Buffer.from(bytes).toString('hex')}`;
  const hit = cache.get(key);
  if (hit) return hit;
  factory ??= new InstructionInfoFactory();
  const decoder = new Decoder(bitness, bytes, DecoderOptions.None);
  const ins = new Instruction();
  let info: InsnInfo;
  try {
    decoder.ip = rip;
    decoder.decodeOut(ins);
    const decoded = describe(ins, bytes, 0);
    const gprsRead = new Set<GprName>();
    const gprsWritten = new Set<GprName>();
    const memory: MemOperand[] = [];
    if (!decoded.invalid) {
      const ii = factory.info(ins);
      for (const u of ii.usedRegisters()) {
        const gpr = GPR_OF_REGISTER.get(u.register as number);
        const kind = accessKind(u.access as OpAccess);
        if (gpr && kind) {
          if (kind !== 'write') gprsRead.add(gpr);
          if (kind !== 'read') gprsWritten.add(gpr);
        }
        u.free();
      }
      for (const m of ii.usedMemory()) {
        const kind = accessKind(m.access as OpAccess);
        const seg = m.segment as number;
        if (kind) {
          const size = MemorySizeExt.size(m.memorySize) || (STRING_ELEMENT[decoded.mnemonic.slice(-1)] ?? 0);
          memory.push({
            access: kind,
            size,
            segment: seg === Register.FS ? 'fs' : seg === Register.GS ? 'gs' : undefined,
            base: GPR_OF_REGISTER.get(m.base as number),
            index: GPR_OF_REGISTER.get(m.index as number),
            scale: m.scale as number,
            displacement: BigInt.asUintN(64, m.displacement as bigint),
          });
        }
        m.free();
      }
      ii.free();
      // LEA computes an address and reads nothing, so iced lists no memory use: take its operand.
      if (decoded.mnemonic === 'lea') {
        memory.push({
          access: 'address',
          size: 0,
          segment: undefined,
          base: GPR_OF_REGISTER.get(ins.memoryBase as number),
          index: GPR_OF_REGISTER.get(ins.memoryIndex as number),
          scale: ins.memoryIndexScale,
          displacement: BigInt.asUintN(64, ins.memoryDisplacement),
        });
      }
    }
    const rep = REP_STRING.test(decoded.text);
    const asize = hasAddressSizePrefix(bytes) ? 32 : 64;
    info = {
      decoded,
      bitness,
      gprsRead: [...gprsRead],
      gprsWritten: [...gprsWritten],
      memory,
      repCounter: rep ? { bits: asize === 32 ? 32 : 64 } : undefined,
      portIo: /^(rep )?(in|ins[bwd]?)\b/.test(decoded.text) ? 'in' : /^(rep )?(out|outs[bwd]?)\b/.test(decoded.text) ? 'out' : undefined,
    };
  } finally {
    ins.free();
    decoder.free();
  }
  if (cache.size >= MAX_CACHE) cache.clear();
  cache.set(key, info);
  return info;
}

/** Linear address of a memory operand under `state` (64-bit mode: only FS/GS have a base). */
export function operandAddress(m: MemOperand, state: MachineState): bigint {
  let a = m.displacement;
  if (m.base) a += state.gpr[m.base];
  if (m.index) a += state.gpr[m.index] * BigInt(m.scale);
  if (m.segment === 'fs') a += state.fsBase;
  if (m.segment === 'gs') a += state.gsBase;
  return BigInt.asUintN(64, a);
}

/** The REP counter reached zero (the instruction has no iterations left). */
export function repCounterIsZero(info: InsnInfo, state: MachineState): boolean {
  const bits = info.repCounter?.bits ?? 64;
  return (state.gpr.rcx & ((1n << BigInt(bits)) - 1n)) === 0n;
}
