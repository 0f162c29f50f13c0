import { describe, expect, it } from 'vitest';
import type { MachineState } from '../../contracts/machine-state.js';
import { recordToState } from '../../contracts/register-record.js';
import type { DeviceAccess } from './device-log.js';
import { compareDeviceWrites } from './device-writes.js';
import { instructionInfo } from './instruction-info.js';

// What QEMU sends follows from the instruction (SDM: OUT imm8/DX with AL/AX/EAX; MOV m, r/imm
// stores the source) and the registers before it; the emulator's accesses are compared with that.
const RAM = 0x2000_0000;
const RIP = 0xffffffff81000000n;
const info = (hex: string) => instructionInfo(RIP, Buffer.from(hex, 'hex'));
const identity = (lin: bigint) => Number(lin & 0xffffffffn);

function regs(gpr: Partial<MachineState['gpr']>): MachineState {
  const s = recordToState(new Uint32Array(52));
  return { ...s, gpr: { ...s.gpr, ...gpr } };
}

describe('compareDeviceWrites', () => {
  const before = regs({ rax: 0x11223344n, rdx: 0x3f8n, rbx: 0xfee000b0n, rcx: 0xdeadbeefn });

  it('compares an OUT: port from DX or imm8, value from AL/AX/EAX', () => {
    const ok: DeviceAccess[] = [{ kind: 'out', port: 0x3f8, size: 1, value: 0x44 }];
    expect(compareDeviceWrites(info('ee'), before, ok, identity, RAM)).toEqual({ compared: 1, diffs: [] }); // out dx, al
    const wrongValue: DeviceAccess[] = [{ kind: 'out', port: 0x3f8, size: 1, value: 0x33 }];
    expect(compareDeviceWrites(info('ee'), before, wrongValue, identity, RAM).diffs).toEqual(['QEMU: OUT port 0x3f8 = 0x44 (1 byte); emulator: OUT port 0x3f8 = 0x33 (1 byte)']);
    // out 0x80, eax: four bytes to port 0x80
    expect(compareDeviceWrites(info('e780'), before, [{ kind: 'out', port: 0x80, size: 4, value: 0x11223344 }], identity, RAM).diffs).toEqual([]);
    expect(compareDeviceWrites(info('e780'), before, [], identity, RAM).diffs).toEqual(['QEMU: OUT port 0x80 = 0x11223344 (4 bytes); emulator: nothing']);
  });

  it('compares a store to device memory: address through the page tables, size, value of the source', () => {
    // mov dword [rbx], ecx with rbx in the LAPIC page (above RAM)
    const write: DeviceAccess[] = [{ kind: 'mmio-write', addr: 0xfee000b0, size: 4, value: 0xdeadbeef }];
    expect(compareDeviceWrites(info('890b'), before, write, identity, RAM)).toEqual({ compared: 1, diffs: [] });
    // mov dword [rbx+0x10], 0x12345: the immediate
    const imm: DeviceAccess[] = [{ kind: 'mmio-write', addr: 0xfee000c0, size: 4, value: 0x12345 }];
    expect(compareDeviceWrites(info('c7431045230100'), before, imm, identity, RAM).diffs).toEqual([]);
    expect(compareDeviceWrites(info('c7431045230100'), before, [{ ...imm[0]!, value: 0x12346 } as DeviceAccess], identity, RAM).diffs).toEqual([
      'QEMU: MMIO write 0xfee000c0 = 0x12345 (4 bytes); emulator: MMIO write 0xfee000c0 = 0x12346 (4 bytes)',
    ]);
    // the emulator wrote RAM where QEMU's store went to the device (or the reverse)
    expect(compareDeviceWrites(info('890b'), before, [], identity, RAM).diffs).toEqual(['QEMU: MMIO write 0xfee000b0 = 0xdeadbeef (4 bytes); emulator: nothing']);
    const inRam = regs({ rbx: 0x1000n, rcx: 1n });
    expect(compareDeviceWrites(info('890b'), inRam, [], identity, RAM)).toEqual({ compared: 0, diffs: [] });
  });
});
