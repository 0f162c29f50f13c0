import { QEMU64_EXTENDED_CPU, QEMU64_SYSTEM_CPU } from '../cpu/cpu-model.js';
import type { SystemSequence } from './sequences-system-rows.js';

/**
 * CPUID leaf by leaf against QEMU, under every `-cpu` string the suite runs: every basic leaf up
 * to past the maximum, the hypervisor range (Linux's hypervisor_cpuid_base reads 0x40000000 at
 * boot: the first boot mismatch after the MSRs), the extended leaves past xlevel, and the
 * subleaves of the leaves that have them. Each probe is three instructions and the registers are
 * compared after each, so a wrong leaf shows at its own CPUID. Expectations come from QEMU.
 */

const BASIC = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 0x14, 0x1f, 0x3fffffff];
const HYPERVISOR = [0x40000000, 0x40000001, 0x40000002, 0x40000010, 0x4fffffff, 0x50000000, 0x7fffffff];
const EXTENDED = [0x80000000, 0x80000001, 0x80000002, 0x80000003, 0x80000004, 0x80000005, 0x80000006, 0x80000007, 0x80000008, 0x80000009, 0x8000000a, 0x8000000b, 0x8000001d, 0x8000001f, 0x8fffffff, 0xc0000000, 0xc0000001, 0xffffffff];
/** Leaves whose answer depends on ECX (SDM CPUID; QEMU's cpu_x86_cpuid). */
const WITH_SUBLEAVES = [4, 7, 0xb, 0xd, 0x8000001d];
const SUBLEAVES = [0, 1, 2, 3, 0x1ff];

function probe(leaf: number, sub: number): string {
  return `mov eax, 0x${leaf.toString(16)}\nmov ecx, 0x${sub.toString(16)}\ncpuid`;
}

export function cpuidSequences(): SystemSequence[] {
  const probes: Array<[number, number]> = [];
  for (const leaf of [...BASIC, ...HYPERVISOR, ...EXTENDED]) {
    // a leaf without subleaves must ignore ECX: probe it with a nonzero one too
    for (const sub of WITH_SUBLEAVES.includes(leaf) ? SUBLEAVES : [0, 0x55]) probes.push([leaf, sub]);
  }
  const out: SystemSequence[] = [];
  // 50 probes (150 steps) per sequence: the lockstep compares at most 200 steps of one
  for (let i = 0; i < probes.length; i += 50) {
    const chunk = probes.slice(i, i + 50);
    const asm = chunk.map(([l, s]) => probe(l, s)).join('\n');
    const name = `cpuid leaves 0x${chunk[0]![0].toString(16)}..0x${chunk.at(-1)![0].toString(16)}`;
    out.push({ name: `${name} (qemu64)`, asm });
    out.push({ name: `${name} (extended model)`, asm, cpu: QEMU64_EXTENDED_CPU });
    out.push({ name: `${name} (system features)`, asm, cpu: QEMU64_SYSTEM_CPU });
  }
  return out;
}
