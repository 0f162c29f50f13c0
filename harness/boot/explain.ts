import type { MachineState } from '../../contracts/machine-state.js';
import { PROBED_MSRS } from '../../oracle/qemu/msr-probe.js';
import type { Mismatch } from './gdb-lockstep.js';
import type { SymbolTable } from './symbols.js';

/**
 * Plain-language reading of a mismatch: which side took an exception the other did not (by
 * matching RIP against the IDT's handlers), and the usual reasons in an incomplete emulator (an
 * MSR it does not model, an instruction it does not implement).
 */

export const VECTOR_NAMES: Record<number, string> = {
  0: '#DE', 1: '#DB', 2: 'NMI', 3: '#BP', 4: '#OF', 5: '#BR', 6: '#UD', 7: '#NM', 8: '#DF', 10: '#TS', 11: '#NP',
  12: '#SS', 13: '#GP', 14: '#PF', 16: '#MF', 17: '#AC', 18: '#MC', 19: '#XM',
};

/** Handler address → vector, for the 32 exception vectors of a 64-bit IDT. */
export async function exceptionHandlers(idtBase: bigint, idtLimit: number, read: (addr: bigint, n: number) => Promise<Uint8Array | undefined>): Promise<Map<bigint, number>> {
  const out = new Map<bigint, number>();
  const n = Math.min(32, Math.floor((idtLimit + 1) / 16));
  const table = n > 0 ? await read(idtBase, n * 16) : undefined;
  if (!table) return out;
  const v = new DataView(table.buffer, table.byteOffset, table.byteLength);
  for (let i = 0; i < n; i++) {
    const w1 = v.getUint32(i * 16 + 4, true);
    if ((w1 & 0x8000) === 0) continue; // not present
    const lo = BigInt((v.getUint32(i * 16, true) & 0xffff) | (w1 & 0xffff0000)) & 0xffffffffn;
    const target = (BigInt(v.getUint32(i * 16 + 8, true)) << 32n) | lo;
    if (!out.has(target)) out.set(target, i);
  }
  return out;
}

export function vectorName(v: number): string {
  return VECTOR_NAMES[v] ?? `vector ${v}`;
}

/** One sentence per thing worth knowing about the mismatch, most important first. */
export function explainMismatch(
  m: Mismatch,
  handlers: ReadonlyMap<bigint, number>,
  symbols: SymbolTable,
  emulatorState: MachineState,
): string[] {
  const out: string[] = [];
  const text = m.info.decoded.text;
  const fallthrough = m.rip + BigInt(m.info.decoded.length);
  const eVec = handlers.get(m.actual.rip);
  const qVec = handlers.get(m.expected.rip);
  if (eVec !== undefined && qVec === undefined) {
    out.push(`The emulator raised ${vectorName(eVec)} at this instruction (it went to the ${vectorName(eVec)} handler ${symbols.symbolize(m.actual.rip)}); QEMU did not (it continued at ${symbols.symbolize(m.expected.rip)}).`);
    if (/^(rdmsr|wrmsr)$/.test(m.info.decoded.mnemonic) && eVec === 13) {
      const msr = Number(m.before.gpr.rcx & 0xffffffffn);
      const known = PROBED_MSRS.find((x) => x.index === msr);
      const qemuValue = m.info.decoded.mnemonic === 'rdmsr' ? ` (QEMU read 0x${(((m.expected.gpr.rdx & 0xffffffffn) << 32n) | (m.expected.gpr.rax & 0xffffffffn)).toString(16)})` : '';
      out.push(`The emulator does not model MSR 0x${msr.toString(16)}${known ? ` (${known.name})` : ''}: ${m.info.decoded.mnemonic.toUpperCase()} of it raises #GP there${qemuValue}. This is the first thing the emulator does not implement on this path.`);
    } else if (eVec === 6) {
      out.push(`The emulator does not implement \`${text}\` (bytes ${Buffer.from(m.info.decoded.bytes).toString('hex')}): its decoder or handler raised #UD. This is the first thing the emulator does not implement on this path.`);
    }
  } else if (qVec !== undefined && eVec === undefined) {
    out.push(`QEMU raised ${vectorName(qVec)} at this instruction (to ${symbols.symbolize(m.expected.rip)}); the emulator did not (it continued at ${symbols.symbolize(m.actual.rip)}).`);
  } else if (m.expected.rip !== m.actual.rip) {
    out.push(`The two sides continued at different places: QEMU at ${symbols.symbolize(m.expected.rip)}, the emulator at ${symbols.symbolize(m.actual.rip)} (the next instruction is at ${symbols.symbolize(fallthrough)}).`);
  }
  if (m.info.bitness === 16) {
    out.push('This is 16-bit code: the emulator runs protected and long mode (32- and 64-bit code, and 16-bit code segments with 32-bit addressing only); start the lockstep at the PVH entry or later.');
  }
  if (m.qemuStop.kind !== m.emulatorStop.kind) out.push(`QEMU's step ended with '${m.qemuStop.kind}', the emulator's with '${m.emulatorStop.kind}'${m.emulatorStop.kind === 'crash' ? `: ${m.emulatorStop.message}` : ''}.`);
  const regs = m.diffs.filter((d) => d.path.startsWith('gpr.'));
  if (regs.length && !out.length) out.push(`\`${text}\` left ${regs.map((d) => d.path.slice(4)).join(', ')} different on the two sides.`);
  // A RIP-relative operand off by exactly the instruction's length: the base RIP was the instruction's start.
  const len = BigInt(m.info.decoded.length);
  if (/\[rip[+-]/.test(text)) {
    for (const d of regs) {
      const delta = d.expected - d.actual;
      if (delta === len || delta === -len) {
        out.push(`${d.path.slice(4)} is off by ${len}, this instruction's length: its RIP-relative address was computed from the instruction's own address instead of the next instruction's.`);
      }
    }
  }
  if (m.memory.length) out.push(`${m.memory.length} written memory range(s) differ (${m.memory[0]!.source === 'checkpoint' ? 'found at a full-memory checkpoint' : 'read back from QEMU right after the instruction'}).`);
  if (m.devices.length) out.push(`Device output differs: ${m.devices.join('; ')}.`);
  void emulatorState;
  return out;
}
