import type { GprName } from '../contracts/machine-state.js';
import { GPR_BY_ENCODING } from '../contracts/machine-state.js';
import type { Cpu } from './cpu/cpu.js';
import type { EmulatorTarget } from './emulator-target.js';
import type { MmioHandler, PortHandler } from './memory/bus.js';
import { GuestFault } from './memory/guest-fault.js';
import { msrModelled, readMsr as cpuReadMsr, writeMsr as cpuWriteMsr } from './exec/msrs.js';
import { RR } from '../contracts/register-record.js';
import { deliverLongMode } from './cpu/interrupts.js';

/**
 * What a harness that transplants a running machine into the emulator (the boot lockstep) needs
 * beyond the ExecutionTarget seam: model-specific registers, registers written in place (without
 * the new CPU a reset() builds, which would drop MSRs and these hooks), a log of the CPU's data
 * accesses, and every device access routed to the harness. Functions over a target so that
 * EmulatorTarget itself stays as it is; each acts on the target's current CPU, so call them after
 * the last reset().
 */

/**
 * The emulator's value of MSR `n`, or undefined when its CPU model does not have that MSR (RDMSR
 * then reads 0 or raises #GP, as the model says: CpuModel.unknownMsrsReadZero).
 */
export function readMsr(t: EmulatorTarget, n: number): bigint | undefined {
  if (!msrModelled(t.internals.cpu, n >>> 0)) return undefined;
  try {
    return cpuReadMsr(t.internals.cpu, n);
  } catch (e) {
    if (e instanceof GuestFault) return undefined;
    throw e;
  }
}

/**
 * Load MSR `n` as WRMSR would (EFER, FS/GS bases and TSC included); false, with nothing changed,
 * when the emulator has no such MSR or refuses the value. MSRs the emulator does not model are not
 * created: the emulator is compared as it is.
 */
export function writeMsr(t: EmulatorTarget, n: number, value: bigint): boolean {
  if (!msrModelled(t.internals.cpu, n >>> 0)) return false;
  try {
    cpuWriteMsr(t.internals.cpu, n >>> 0, BigInt.asUintN(64, value));
    return true;
  } catch (e) {
    if (e instanceof GuestFault) return false;
    throw e;
  }
}

/** Debug registers DR0–DR7 as the CPU holds them. */
export function readDebugRegisters(t: EmulatorTarget): bigint[] {
  return [...t.internals.cpu.dr];
}

export function loadDebugRegisters(t: EmulatorTarget, dr: readonly bigint[]): void {
  const c = t.internals.cpu;
  dr.forEach((v, i) => {
    if (i < c.dr.length) c.dr[i] = v;
  });
}

/** Overwrite general registers and RFLAGS in place (following the oracle after a nondeterministic result). */
export function setRegisters(t: EmulatorTarget, values: { gpr?: Partial<Record<GprName, bigint>>; rflags?: bigint }): void {
  const c = t.internals.cpu;
  GPR_BY_ENCODING.forEach((name, i) => {
    const v = values.gpr?.[name];
    if (v !== undefined) c.set64(i, v);
  });
  if (values.rflags !== undefined) c.setFlags(Number(values.rflags & 0x3fffffn));
}

/** One data access of the CPU: its linear address, size and the physical bytes it covered. */
export interface DataAccess {
  readonly lin: bigint;
  readonly size: number;
  /** Physical ranges (two when the access crosses a page). */
  readonly phys: ReadonlyArray<{ readonly addr: number; readonly length: number }>;
}

export interface AccessObserver {
  /** A data read that completed (instruction fetches and page walks are not data reads). */
  read?(access: DataAccess): void;
  /** A data write that completed; `old` holds the bytes it replaced, in order (empty with `oldBytes: false`). */
  write?(access: DataAccess & { readonly old: Uint8Array }): void;
  /** Keep the bytes each write replaced (default true); a lockstep that never undoes a write saves the copy. */
  readonly oldBytes?: boolean;
}

const NO_BYTES = new Uint8Array(0);

type Method = 'read8' | 'read16' | 'read32' | 'read64' | 'write8' | 'write16' | 'write32' | 'write64';
const SIZES: Record<Method, number> = { read8: 1, read16: 2, read32: 4, read64: 8, write8: 1, write16: 2, write32: 4, write64: 8 };

function physRanges(c: Cpu, lin: number, size: number): Array<{ addr: number; length: number }> | undefined {
  const first = Math.min(size, 4096 - (lin & 0xfff));
  const p1 = c.mmu.peekTranslate(lin);
  if (p1 < 0) return undefined;
  if (first === size) return [{ addr: p1, length: size }];
  const p2 = c.mmu.peekTranslate(lin + first);
  if (p2 < 0) return undefined;
  return [{ addr: p1, length: first }, { addr: p2, length: size - first }];
}

/**
 * Report every data read and write of the CPU to `observer` until the returned function is
 * called. The CPU's access methods get instance wrappers (the prototype's stay untouched, so an
 * untraced emulator pays nothing); accesses that fault are not reported. Accessed/dirty bits the
 * page walker sets are not data writes and are not reported.
 */
export function traceAccesses(t: EmulatorTarget, observer: AccessObserver): () => void {
  const c = t.internals.cpu;
  const own = c as unknown as Record<Method, (...args: number[]) => number | void>;
  const proto = Object.getPrototypeOf(c) as Record<Method, (this: Cpu, ...args: number[]) => number | void>;
  const methods = Object.keys(SIZES) as Method[];
  for (const m of methods) {
    const original = proto[m]!;
    const size = SIZES[m];
    if (m.startsWith('read')) {
      own[m] = function (this: Cpu, lin: number) {
        const v = original.call(c, lin);
        const phys = physRanges(c, lin, size);
        if (phys && observer.read) observer.read({ lin: BigInt.asUintN(64, BigInt(lin)), size, phys });
        return v;
      };
    } else {
      const keepOld = observer.oldBytes ?? true;
      own[m] = function (this: Cpu, lin: number, v: number, v2: number) {
        const phys = physRanges(c, lin, size);
        let old = NO_BYTES;
        if (phys && keepOld) {
          old = new Uint8Array(size);
          let at = 0;
          for (const r of phys) {
            old.set(c.bus.peek(r.addr, r.length), at);
            at += r.length;
          }
        }
        original.call(c, lin, v, v2);
        if (phys && observer.write) observer.write({ lin: BigInt.asUintN(64, BigInt(lin)), size, phys, old });
      };
    }
  }
  return () => {
    for (const m of methods) delete (own as Partial<Record<Method, unknown>>)[m];
  };
}

/**
 * Route every I/O port, and the physical space from the end of RAM to 4 GiB (where the pc
 * machine's LAPIC, IOAPIC, HPET and PCI windows lie), to the harness. Kept across resets that
 * reuse the bus.
 */
export function routeDevices(t: EmulatorTarget, ports: PortHandler, mmio: MmioHandler): void {
  const bus = t.internals.bus;
  bus.addPorts(0, 0x10000, ports);
  const top = 2 ** 32;
  if (bus.ramSize < top) bus.addMmio(bus.ramSize, top - bus.ramSize, mmio);
}

/** The emulator's RAM as a live view (physical address = index), for whole-memory comparisons. */
export function ramView(t: EmulatorTarget): Uint8Array {
  return t.internals.bus.ram;
}

/** Signed-number value (RIP, linear addresses, bases) → low and high words. */
function putSigned(out: Uint32Array, at: number, v: number): void {
  const hi = Math.floor(v / 4294967296);
  out[at] = (v - hi * 4294967296) >>> 0;
  out[at + 1] = hi >>> 0;
}

/**
 * The CPU's registers in the fixed layout of contracts/register-record.ts, without BigInts: the
 * log channel compares one of these per instruction.
 */
export function readRegisterRecord(t: EmulatorTarget, out: Uint32Array): void {
  const c = t.internals.cpu;
  out.set(c.regs, RR.GPR);
  putSigned(out, RR.RIP, c.rip);
  out[RR.RFLAGS] = c.getFlags();
  out[RR.CR0] = c.cr0 >>> 0;
  out[RR.CR2] = c.cr2Lo;
  out[RR.CR2 + 1] = c.cr2Hi;
  putSigned(out, RR.CR3, c.cr3);
  out[RR.CR4] = c.cr4 >>> 0;
  out[RR.EFER] = c.efer >>> 0;
  for (let i = 0; i < 6; i++) out[RR.SEL + i] = c.segSel[i]!;
  putSigned(out, RR.FS_BASE, c.segBase[4]!);
  putSigned(out, RR.GS_BASE, c.segBase[5]!);
}

/**
 * Deliver a hardware interrupt now, through the IDT as the CPU would between two instructions
 * (the harness injects the ones QEMU delivered, where it delivered them). False when delivery
 * itself faulted (the state is then whatever the attempt left).
 */
export function injectInterrupt(t: EmulatorTarget, vector: number): boolean {
  const c = t.internals.cpu;
  try {
    deliverLongMode(c, { vector, software: false, returnRip: c.rip });
    c.rip = c.nextRip;
    c.halted = false;
    return true;
  } catch (e) {
    if (e instanceof GuestFault) return false;
    throw e;
  }
}
