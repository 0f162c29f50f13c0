import type { EmulatorTarget } from '../../emulator/emulator-target.js';
import { routeDevices } from '../../emulator/harness-hooks.js';

/**
 * The emulator's side of every device access during a boot lockstep. The emulator has no pc
 * devices, so each port and each physical address above RAM goes here: reads answer a
 * placeholder (the lockstep then takes QEMU's result for the instruction, a declared rule) and
 * every access is logged for the instruction that made it; writes are compared with QEMU's. The
 * bytes the emulator sends to the first serial port (THR at 0x3f8, DLAB clear) are its console.
 */

export type DeviceAccess =
  | { readonly kind: 'in'; readonly port: number; readonly size: number }
  | { readonly kind: 'out'; readonly port: number; readonly size: number; readonly value: number }
  | { readonly kind: 'mmio-read'; readonly addr: number; readonly size: number }
  /** An 8-byte write's value is a bigint (device-writes.ts compares with BigInt()). */
  | { readonly kind: 'mmio-write'; readonly addr: number; readonly size: number; readonly value: number | bigint };

const COM1 = 0x3f8;
/** The local APIC's task-priority register, at this offset from APIC_BASE (SDM Vol. 3 §10.8.3.1). */
const APIC_TPR = 0x80;
const MSR_APIC_BASE = 0x1b;
/** APIC_BASE as the emulator has it after reset: the xAPIC at 0xfee00000. */
const APIC_BASE_RESET = 0xfee00000;

export const APIC_TPR_RULE = 'apic-tpr-cr8';
export const APIC_TPR_RULE_DESCRIPTION =
  'The emulator models no local APIC, and CR8 is the APIC\'s TPR bits 7:4 (SDM Vol. 3 §10.8.6.1): QEMU\'s CR8 reads its APIC. A 4-byte write the emulator makes to the TPR (APIC_BASE + 0x80, a device write like any other) sets its CR8 to the value\'s bits 7:4, as the APIC would; CR8 is compared as before (setup_local_APIC sets the TPR to 0x10).';
const NO_ACCESSES: readonly DeviceAccess[] = Object.freeze([]);
const LCR_DLAB = 0x80;

export class DeviceLog {
  /** Accesses of the instruction being stepped (taken and cleared by the lockstep after each step). */
  private current: DeviceAccess[] = [];
  private lcr = 0;
  private serial = '';
  /** Address of the instruction that made the last device read (a block-granular lockstep follows QEMU there). */
  lastReadRip = 0;
  /** Writes to the APIC's TPR that set the emulator's CR8 (rule apic-tpr-cr8). */
  tprWrites = 0;
  /** The text watchFor() waits for (--until boot-ok: BOOT-OK), and whether the console has printed it. */
  private marker = '';
  markerSeen = false;

  constructor(target: EmulatorTarget) {
    const base = target.internals.bus.ramSize;
    routeDevices(
      target,
      {
        in: (port, size) => {
          this.current.push({ kind: 'in', port, size });
          this.lastReadRip = target.internals.cpu.rip;
          return 0;
        },
        out: (port, size, value) => {
          this.current.push({ kind: 'out', port, size, value });
          if (port === COM1 + 3) this.lcr = value & 0xff;
          else if (port === COM1 && (this.lcr & LCR_DLAB) === 0) {
            this.serial += String.fromCharCode(value & 0xff);
            if (this.marker && !this.markerSeen && this.serial.endsWith(this.marker)) this.markerSeen = true;
          }
        },
      },
      {
        read: (offset, size) => {
          this.current.push({ kind: 'mmio-read', addr: base + offset, size });
          this.lastReadRip = target.internals.cpu.rip;
          return 0;
        },
        write: (offset, size, value) => {
          const addr = base + offset;
          this.current.push({ kind: 'mmio-write', addr, size, value });
          const c = target.internals.cpu;
          if (size === 4 && addr === apicBase(c.msr.get(MSR_APIC_BASE)) + APIC_TPR) {
            c.cr8 = (value >>> 4) & 0xf;
            this.tprWrites++;
          }
        },
        write64: (offset, lo, hi) => {
          this.current.push({ kind: 'mmio-write', addr: base + offset, size: 8, value: (BigInt(hi) << 32n) | BigInt(lo) });
        },
      },
    );
  }

  /** The accesses since the last call (one shared empty array when there were none). */
  take(): readonly DeviceAccess[] {
    const out = this.current;
    if (!out.length) return NO_ACCESSES;
    this.current = [];
    return out;
  }

  /** Set markerSeen once the console prints `marker` (checked as each byte arrives). */
  watchFor(marker: string): void {
    this.marker = marker;
    this.markerSeen = this.serial.includes(marker);
  }

  /** What the emulator printed on its serial console. */
  get console(): string {
    return this.serial;
  }
}

function apicBase(msr: bigint | undefined): number {
  return msr === undefined ? APIC_BASE_RESET : Number(msr & 0xfffff000n);
}

export function describeAccess(a: DeviceAccess): string {
  switch (a.kind) {
    case 'in':
      return `IN port 0x${a.port.toString(16)} (${a.size} byte${a.size > 1 ? 's' : ''})`;
    case 'out':
      return `OUT port 0x${a.port.toString(16)} = 0x${a.value.toString(16)} (${a.size} byte${a.size > 1 ? 's' : ''})`;
    case 'mmio-read':
      return `MMIO read 0x${a.addr.toString(16)} (${a.size} bytes)`;
    case 'mmio-write':
      return `MMIO write 0x${a.addr.toString(16)} = 0x${a.value.toString(16)} (${a.size} bytes)`;
  }
}
