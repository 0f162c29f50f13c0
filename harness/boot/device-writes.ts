import type { GprName, MachineState } from '../../contracts/machine-state.js';
import { describeAccess, type DeviceAccess } from './device-log.js';
import { operandAddress, type InsnInfo } from './instruction-info.js';

/**
 * What an instruction sends to a device as QEMU runs it (rule device-write-compared), derived
 * from the instruction and the registers before it, which both sides agree on by then: an OUT's
 * port (imm8 or DX), size and value (AL/AX/EAX); a store to device memory's physical address
 * (the write operand through the page tables), size, and value when the source is a register or
 * an immediate (MOV). Every channel compares the emulator's device writes with these, so no
 * channel needs QEMU's own device model to tell what it was sent. The channels call it for the
 * instructions that made a device access or are an OUT: the address is translated through the
 * emulator's page tables, so a store the emulator kept in RAM is one QEMU's would have too.
 */

export interface DeviceWriteCheck {
  /** Device writes compared (counted under the rule). */
  readonly compared: number;
  /** One line per difference: what QEMU sends, what the emulator sent. */
  readonly diffs: readonly string[];
}

const NONE: DeviceWriteCheck = Object.freeze({ compared: 0, diffs: Object.freeze([]) as readonly string[] });

/** Register operand names (nasm, as iced prints them) → the GPR, its width in bytes and bit offset. */
const SUB_REGISTERS = new Map<string, { gpr: GprName; bytes: number; shift: number }>();
{
  const legacy: Array<[GprName, string, string, string, string, string?]> = [
    ['rax', 'rax', 'eax', 'ax', 'al', 'ah'], ['rcx', 'rcx', 'ecx', 'cx', 'cl', 'ch'], ['rdx', 'rdx', 'edx', 'dx', 'dl', 'dh'], ['rbx', 'rbx', 'ebx', 'bx', 'bl', 'bh'],
    ['rsp', 'rsp', 'esp', 'sp', 'spl'], ['rbp', 'rbp', 'ebp', 'bp', 'bpl'], ['rsi', 'rsi', 'esi', 'si', 'sil'], ['rdi', 'rdi', 'edi', 'di', 'dil'],
  ];
  for (const [gpr, q, d, w, b, h] of legacy) {
    SUB_REGISTERS.set(q, { gpr, bytes: 8, shift: 0 }).set(d, { gpr, bytes: 4, shift: 0 }).set(w, { gpr, bytes: 2, shift: 0 }).set(b, { gpr, bytes: 1, shift: 0 });
    if (h) SUB_REGISTERS.set(h, { gpr, bytes: 1, shift: 8 });
  }
  for (let i = 8; i < 16; i++) {
    const gpr = `r${i}` as GprName;
    SUB_REGISTERS.set(gpr, { gpr, bytes: 8, shift: 0 }).set(`${gpr}d`, { gpr, bytes: 4, shift: 0 }).set(`${gpr}w`, { gpr, bytes: 2, shift: 0 }).set(`${gpr}b`, { gpr, bytes: 1, shift: 0 });
  }
}

const WRITES_SOMEWHERE = new WeakMap<InsnInfo, boolean>();

/** An OUT or an instruction with a memory write operand: what could send something to a device (cached per instruction). */
export function maySendToDevice(info: InsnInfo): boolean {
  let v = WRITES_SOMEWHERE.get(info);
  if (v === undefined) {
    v = info.portIo === 'out' || info.memory.some((m) => (m.access === 'write' || m.access === 'readwrite') && m.size > 0);
    WRITES_SOMEWHERE.set(info, v);
  }
  return v;
}

const mask = (bytes: number) => (1n << BigInt(8 * bytes)) - 1n;

/** The value of a source operand (register or immediate) of `size` bytes under `before`; undefined for anything else. */
function sourceValue(operand: string, size: number, before: MachineState): bigint | undefined {
  const reg = SUB_REGISTERS.get(operand);
  if (reg) return (before.gpr[reg.gpr] >> BigInt(reg.shift)) & mask(reg.bytes);
  if (/^-?0x[0-9a-f]+$|^-?\d+$/.test(operand)) return BigInt.asUintN(8 * size, BigInt(operand.startsWith('-') ? -BigInt(operand.slice(1)) : BigInt(operand)));
  return undefined;
}

/** The OUT QEMU performs for `out port, src` / `out dx, src` (OUTS: port and size; its value is memory's). */
function expectedOut(info: InsnInfo, before: MachineState): { port: number; size: number; value: bigint | undefined } | undefined {
  const text = info.decoded.text.replace(/^rep /, '');
  const out = /^out (\w+), (\w+)$/.exec(text);
  if (out) {
    const size = out[2] === 'al' ? 1 : out[2] === 'ax' ? 2 : 4;
    const port = out[1] === 'dx' ? Number(before.gpr.rdx & 0xffffn) : Number(out[1]);
    return { port, size, value: before.gpr.rax & mask(size) };
  }
  const outs = /^outs([bwd])/.exec(text);
  if (outs) return { port: Number(before.gpr.rdx & 0xffffn), size: outs[1] === 'b' ? 1 : outs[1] === 'w' ? 2 : 4, value: undefined };
  return undefined;
}

/**
 * Compare the device writes the emulator made for one instruction (`devices`) with what QEMU's
 * would be. `translate` maps a linear address to a physical one through the emulator's page
 * tables (undefined when unmapped); `ramBytes` is where device memory starts.
 */
export function compareDeviceWrites(
  info: InsnInfo,
  before: MachineState,
  devices: readonly DeviceAccess[],
  translate: (lin: bigint) => number | undefined,
  ramBytes: number,
): DeviceWriteCheck {
  const outs = devices.filter((d) => d.kind === 'out');
  const stores = devices.filter((d) => d.kind === 'mmio-write');
  const expectedOuts = info.portIo === 'out' ? expectedOut(info, before) : undefined;
  const writeOperands = info.memory.filter((m) => (m.access === 'write' || m.access === 'readwrite') && m.size > 0);
  if (!outs.length && !stores.length && !expectedOuts && !writeOperands.length) return NONE;
  const diffs: string[] = [];
  let compared = 0;
  const got = (list: readonly DeviceAccess[]) => (list.length ? list.map(describeAccess).join(', ') : 'nothing');

  if (expectedOuts || outs.length) {
    compared += Math.max(1, outs.length);
    const e = expectedOuts;
    const ok = e !== undefined && outs.length === 1 && outs[0]!.kind === 'out' && outs[0]!.port === e.port && outs[0]!.size === e.size && (e.value === undefined || BigInt(outs[0]!.value) === e.value);
    if (!ok) {
      const want = e ? `OUT port 0x${e.port.toString(16)}${e.value !== undefined ? ` = 0x${e.value.toString(16)}` : ''} (${e.size} byte${e.size > 1 ? 's' : ''})` : 'no OUT';
      diffs.push(`QEMU: ${want}; emulator: ${got(outs)}`);
    }
  }

  // Stores: which of the instruction's write operands land in device memory on QEMU's side.
  const wanted: Array<{ addr: number; size: number; value: bigint | undefined }> = [];
  const source = /^mov (?:\w+ )?\[[^\]]+\], (\S+)$/.exec(info.decoded.text)?.[1];
  for (const m of writeOperands) {
    const phys = translate(operandAddress(m, before));
    if (phys === undefined || phys < ramBytes) continue;
    wanted.push({ addr: phys, size: m.size, value: source !== undefined ? sourceValue(source, m.size, before) : undefined });
  }
  if (wanted.length || stores.length) {
    compared += Math.max(wanted.length, stores.length);
    const same =
      wanted.length === stores.length &&
      wanted.every((w, i) => {
        const s = stores[i]!;
        return s.kind === 'mmio-write' && s.addr === w.addr && s.size === w.size && (w.value === undefined || BigInt(s.value) === w.value);
      });
    if (!same) {
      const want = wanted.length
        ? wanted.map((w) => `MMIO write 0x${w.addr.toString(16)}${w.value !== undefined ? ` = 0x${w.value.toString(16)}` : ''} (${w.size} bytes)`).join(', ')
        : 'no device-memory write';
      diffs.push(`QEMU: ${want}; emulator: ${got(stores)}`);
    }
  }
  return { compared, diffs };
}
