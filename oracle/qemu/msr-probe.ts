import { QemuTarget } from './qemu-target.js';

/**
 * MSRs the gdb stub does not expose, read exactly by executing RDMSR in QEMU itself: the two
 * bytes at RIP become `0f 32`, RCX the MSR number, one single step, EDX:EAX read back; then the
 * code bytes and every register are put back. QEMU 7.2's TCG RDMSR returns 0 for MSRs it does not
 * know instead of raising #GP (target/i386/tcg/sysemu/misc_helper.c), so the probe never faults at
 * CPL 0. Each probe retires one instruction: the instruction count (QEMU's virtual clock under
 * -icount) moves on by one per MSR, the same way in every run from the same start point.
 */

export interface MsrInfo {
  readonly index: number;
  readonly name: string;
}

/** The MSRs a 64-bit kernel sets or reads early that qemu64 implements (FS/GS/KERNEL_GS bases and EFER come from the stub). */
export const PROBED_MSRS: readonly MsrInfo[] = [
  { index: 0x10, name: 'TSC' },
  { index: 0x1b, name: 'APIC_BASE' },
  { index: 0x3a, name: 'FEATURE_CONTROL' },
  { index: 0x8b, name: 'UCODE_REV' },
  { index: 0xfe, name: 'MTRRcap' },
  { index: 0x174, name: 'SYSENTER_CS' },
  { index: 0x175, name: 'SYSENTER_ESP' },
  { index: 0x176, name: 'SYSENTER_EIP' },
  { index: 0x179, name: 'MCG_CAP' },
  { index: 0x17a, name: 'MCG_STATUS' },
  { index: 0x1a0, name: 'MISC_ENABLE' },
  ...Array.from({ length: 16 }, (_, i) => ({ index: 0x200 + i, name: `MTRRphys${i % 2 ? 'Mask' : 'Base'}${i >> 1}` })),
  { index: 0x250, name: 'MTRRfix64K_00000' },
  { index: 0x258, name: 'MTRRfix16K_80000' },
  { index: 0x259, name: 'MTRRfix16K_A0000' },
  ...Array.from({ length: 8 }, (_, i) => ({ index: 0x268 + i, name: `MTRRfix4K_${(0xc0000 + i * 0x8000).toString(16).toUpperCase()}` })),
  { index: 0x277, name: 'PAT' },
  { index: 0x2ff, name: 'MTRRdefType' },
  { index: 0xc0000081, name: 'STAR' },
  { index: 0xc0000082, name: 'LSTAR' },
  { index: 0xc0000083, name: 'CSTAR' },
  { index: 0xc0000084, name: 'SFMASK' },
  { index: 0xc0000103, name: 'TSC_AUX' },
];

export class MsrProbeError extends Error {
  override readonly name = 'MsrProbeError';
}

/**
 * Read `msrs` in QEMU at the current stop. Refused (MsrProbeError) outside CPL 0, where RDMSR
 * raises #GP. The machine is left as it was, but for the instruction count.
 */
export async function probeMsrs(q: QemuTarget, cpl: number, msrs: readonly MsrInfo[] = PROBED_MSRS): Promise<Map<number, bigint>> {
  if (cpl !== 0) throw new MsrProbeError(`cannot read MSRs at CPL ${cpl} (RDMSR needs CPL 0); start at a kernel-mode point`);
  const saved = await q.readState();
  const rip = saved.rip;
  const code = await q.readMemory(rip, 2, 'virt');
  const out = new Map<number, bigint>();
  // Single-register writes only: RDMSR changes RAX, RDX and RIP, the probe RCX. A full `G` would
  // also rewrite CR0/CR3/CR4 and the selectors, which QEMU acts on (a TLB flush at least).
  try {
    await q.writeMemory(rip, Uint8Array.of(0x0f, 0x32), 'virt');
    for (const m of msrs) {
      await q.writeRegister('rcx', BigInt(m.index));
      await q.writeRegister('rip', rip);
      const stop = await q.step(1);
      const [after, rax, rdx] = [await q.readRegister('rip'), await q.readRegister('rax'), await q.readRegister('rdx')];
      if (stop.kind !== 'step' || after !== rip + 2n) {
        throw new MsrProbeError(`RDMSR 0x${m.index.toString(16)} (${m.name}) did not retire in QEMU (stopped with ${stop.kind} at 0x${after.toString(16)})`);
      }
      out.set(m.index, ((rdx & 0xffffffffn) << 32n) | (rax & 0xffffffffn));
    }
  } finally {
    await q.writeMemory(rip, code, 'virt');
    for (const r of ['rax', 'rcx', 'rdx'] as const) await q.writeRegister(r, saved.gpr[r]);
    await q.writeRegister('rip', rip);
  }
  return out;
}
