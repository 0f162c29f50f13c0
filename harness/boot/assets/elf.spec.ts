import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { linkAddressOfPhysical, physicalAliasOf, readKernelElf } from './elf.js';
import { readManifest } from './manifest.js';

interface TestNote { name: string; type: number; desc: Uint8Array }

/** A minimal ELF64 x86-64 executable: header, program headers, then note and banner bytes. */
function elf(options: { notes?: TestNote[]; machine?: number; banner?: string } = {}): Uint8Array {
  const noteParts: Buffer[] = [];
  for (const n of options.notes ?? []) {
    const name = Buffer.from(`${n.name}\0`, 'latin1');
    const h = Buffer.alloc(12);
    h.writeUInt32LE(name.length, 0);
    h.writeUInt32LE(n.desc.length, 4);
    h.writeUInt32LE(n.type, 8);
    const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
    noteParts.push(h, pad(name), pad(Buffer.from(n.desc)));
  }
  const notes = Buffer.concat(noteParts);
  const phnum = 2;
  const phoff = 64;
  const dataOff = phoff + phnum * 56;
  const banner = Buffer.from(`${options.banner ?? ''}\0`, 'latin1');
  const out = Buffer.alloc(dataOff + notes.length + banner.length);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  out.writeUInt16LE(2, 16); // ET_EXEC
  out.writeUInt16LE(options.machine ?? 62, 18);
  out.writeBigUInt64LE(0x1000000n, 24);
  out.writeBigUInt64LE(BigInt(phoff), 32);
  out.writeUInt16LE(56, 54);
  out.writeUInt16LE(phnum, 56);
  // PT_LOAD: link address 0xffffffff81000000 loaded at 0x1000000, 2 MiB
  out.writeUInt32LE(1, phoff);
  out.writeBigUInt64LE(0xffffffff81000000n, phoff + 16);
  out.writeBigUInt64LE(0x1000000n, phoff + 24);
  out.writeBigUInt64LE(0x200000n, phoff + 40);
  // PT_NOTE over the notes
  const n = phoff + 56;
  out.writeUInt32LE(4, n);
  out.writeBigUInt64LE(BigInt(dataOff), n + 8);
  out.writeBigUInt64LE(BigInt(notes.length), n + 32);
  notes.copy(out, dataOff);
  banner.copy(out, dataOff + notes.length);
  return out;
}

const le64 = (v: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
};

describe('kernel ELF', () => {
  it('finds the PVH entry among the other Xen notes', () => {
    const info = readKernelElf(elf({ notes: [
      { name: 'Xen', type: 6, desc: Buffer.from('linux\0') },
      { name: 'GNU', type: 0x12, desc: le64(0xdeadn) }, // same type, other owner: not it
      { name: 'Xen', type: 0x12, desc: le64(0x1000850n) },
    ] }));
    expect(info.pvhEntry).toBe(0x1000850n);
    expect(info.loads).toEqual([{ vaddr: 0xffffffff81000000n, paddr: 0x1000000n, memsz: 0x200000n }]);
  });

  it('reads a 4-byte PVH entry too', () => {
    const d = Buffer.alloc(4);
    d.writeUInt32LE(0x1000850);
    expect(readKernelElf(elf({ notes: [{ name: 'Xen', type: 0x12, desc: d }] })).pvhEntry).toBe(0x1000850n);
  });

  it('has no PVH entry without the note', () => {
    expect(readKernelElf(elf({ notes: [{ name: 'Xen', type: 6, desc: Buffer.from('linux\0') }] })).pvhEntry).toBeUndefined();
  });

  it('refuses what is not an x86-64 ELF', () => {
    expect(() => readKernelElf(Buffer.from('MZ not an elf at all'))).toThrow('not an ELF file');
    expect(() => readKernelElf(elf({ machine: 183 }))).toThrow(/machine 183, not x86-64/);
  });

  it('prefers the banner with a build number', () => {
    const info = readKernelElf(elf({ banner: 'Linux version %s\0Linux version 6.1.0 (x) # SMP\0Linux version 6.1.0 (x) #1 SMP' }));
    expect(info.banner).toBe('Linux version 6.1.0 (x) #1 SMP');
  });

  it('maps physical aliases of kernel-half segments, not of the per-CPU segment linked at 0', () => {
    const loads = [
      { vaddr: 0xffffffff81000000n, paddr: 0x1000000n, memsz: 0x100000n },
      { vaddr: 0n, paddr: 0x3044000n, memsz: 0x35000n },
    ];
    expect(linkAddressOfPhysical(loads, 0x1000850n)).toBe(0xffffffff81000850n);
    expect(linkAddressOfPhysical(loads, 0x3044010n)).toBeUndefined();
    expect(linkAddressOfPhysical(loads, 0x1100000n)).toBeUndefined();
    expect(physicalAliasOf(loads, 0xffffffff81000070n)).toBe(0x1000070n);
  });

  it.runIf(existsSync('.cache/boot/manifest.json'))("Debian's cached kernel has its PVH entry inside its text", async () => {
    const m = await readManifest('.cache/boot');
    const e = m.kernels.debian;
    if (!e) return;
    const info = readKernelElf(new Uint8Array(readFileSync(path.resolve('.cache/boot', e.elf.path))));
    expect(info.pvhEntry).toBeDefined();
    expect(linkAddressOfPhysical(info.loads, info.pvhEntry!)).toBeGreaterThanOrEqual(0xffffffff81000000n);
    expect(info.banner).toMatch(/^Linux version \d+\.\d+\.\d+.*#\d+ SMP/);
  });
});
