/**
 * The model-specific registers of QEMU 7.2's `-cpu qemu64` under TCG, as data: which MSRs it has,
 * their values after reset, and what WRMSR does with a value. Read from QEMU's helper_rdmsr and
 * helper_wrmsr (target/i386/tcg/sysemu/misc_helper.c) and measured by executing RDMSR and WRMSR
 * in QEMU itself over every index in 0–0xfff, 0xc0000000–0xc00001ff, 0xc0010000–0xc00102ff,
 * 0xc0011000–0xc00110ff and 0x40000000–0x4000010f (the differential suite's MSR sequences check
 * every row against QEMU).
 *
 * MSRs with an architectural effect (EFER, TSC, FS/GS/KERNEL_GS base, APIC_BASE, the SYSCALL
 * targets) are handled in exec/msrs.ts; the rows here are plain storage with a write rule.
 * Every other index reads as 0 and ignores writes in QEMU 7.2 (helper_rdmsr's default case,
 * "XXX: exception?"), where hardware raises #GP(0) for an MSR it does not implement: that is part
 * of this model (CpuModel.unknownMsrsReadZero).
 */

export const enum MsrWrite {
  /** The value is kept (after `mask`, when there is one). */
  Store,
  /** A constant: writes are ignored. */
  ReadOnly,
  /** Only 0 or all-ones are taken; other values are ignored (MCG_CTL and the MCi_CTL banks). */
  AllOrNothing,
  /** #GP(0) when a bit of `reserved` is set, else kept. */
  Checked,
}

export interface MsrDef {
  readonly name: string;
  /** The value after reset (also what RDMSR reads until a WRMSR). */
  readonly reset: bigint;
  readonly write: MsrWrite;
  /** Store: the bits kept; Checked: the bits whose setting raises #GP(0). */
  readonly mask?: bigint;
}

const ALL_ONES = 0xffffffffffffffffn;

function store(name: string, reset = 0n, mask?: bigint): [string, bigint, MsrWrite, bigint?] {
  return [name, reset, MsrWrite.Store, mask];
}

function constant(name: string, value: bigint): [string, bigint, MsrWrite] {
  return [name, value, MsrWrite.ReadOnly];
}

/** MCE banks under qemu64: MCG_CAP's count (10), four MSRs each from 0x400; each MCi_CTL resets to all-ones. */
const MCE_BANKS = 10;

function rows(physBits: number): Array<[number, [string, bigint, MsrWrite, bigint?]]> {
  const out: Array<[number, [string, bigint, MsrWrite, bigint?]]> = [
    [0x34, constant('SMI_COUNT', 0n)],
    [0x35, constant('CORE_THREAD_COUNT', 0x10001n)], // one core, one thread
    [0x8b, constant('UCODE_REV', 0x1000065n)], // QEMU's default microcode revision for an AMD vendor
    [0xfe, constant('MTRRcap', 0x508n)], // 8 variable ranges, fixed ranges, write-combining
    [0x174, store('SYSENTER_CS', 0n, 0xffffn)],
    [0x175, store('SYSENTER_ESP')],
    [0x176, store('SYSENTER_EIP')],
    [0x179, constant('MCG_CAP', 0x100010an)], // MCG_CTL_P | MCG_SER_P, 10 banks
    [0x17a, store('MCG_STATUS')],
    [0x17b, ['MCG_CTL', ALL_ONES, MsrWrite.AllOrNothing]],
    [0x198, constant('PERF_STATUS', 0x400000003e8n)],
    [0x1a0, store('MISC_ENABLE', 1n)], // fast strings
    [0x250, store('MTRRfix64K_00000')],
    [0x258, store('MTRRfix16K_80000')],
    [0x259, store('MTRRfix16K_A0000')],
    [0x277, store('PAT', 0x0007040600070406n)],
    [0x2ff, store('MTRRdefType')],
    [0x6e1, ['PKRS', 0n, MsrWrite.Checked, 0xffffffff00000000n]],
    [0xd90, store('BNDCFGS')],
    [0xc0000081, store('STAR')],
    [0xc0000084, store('SFMASK')],
    [0xc0000103, store('TSC_AUX')],
    // VM_HSAVE_PA: a page-aligned physical address
    [0xc0010117, ['VM_HSAVE_PA', 0n, MsrWrite.Checked, 0xfffn | (ALL_ONES << BigInt(physBits) & ALL_ONES)]],
  ];
  for (let i = 0; i < 8; i++) {
    out.push([0x200 + 2 * i, store(`MTRRphysBase${i}`)]);
    out.push([0x201 + 2 * i, store(`MTRRphysMask${i}`)]);
    out.push([0x268 + i, store(`MTRRfix4K_${(0xc0000 + i * 0x8000).toString(16).toUpperCase()}`)]);
  }
  const bankMsr = ['CTL', 'STATUS', 'ADDR', 'MISC'];
  for (let b = 0; b < MCE_BANKS; b++) {
    for (let k = 0; k < 4; k++) {
      const name = `MC${b}_${bankMsr[k]}`;
      out.push([0x400 + 4 * b + k, k === 0 ? [name, ALL_ONES, MsrWrite.AllOrNothing] : store(name)]);
    }
  }
  return out;
}

/** The plain-storage MSRs of QEMU 7.2's qemu64 with `physBits` physical address bits. */
export function qemu64Msrs(physBits: number): ReadonlyMap<number, MsrDef> {
  return new Map(rows(physBits).map(([n, [name, reset, write, mask]]) => [n, { name, reset, write, mask }]));
}
