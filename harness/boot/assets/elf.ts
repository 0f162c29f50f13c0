/**
 * What the boot lockstep needs from a kernel ELF: that it is an x86-64 executable, its PVH entry
 * (the Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY, type 0x12, that QEMU's `-kernel` looks for to boot
 * an ELF directly), its loadable segments (to map the physical aliases early code runs at back to
 * link-time addresses) and its version banner.
 */

export const XEN_ELFNOTE_PHYS32_ENTRY = 0x12;
const PT_LOAD = 1;
const PT_NOTE = 4;
const EM_X86_64 = 62;

export interface LoadSegment {
  readonly vaddr: bigint;
  readonly paddr: bigint;
  readonly memsz: bigint;
}

export interface KernelElfInfo {
  readonly entry: bigint;
  /** Physical address of the 32-bit PVH entry point, when the ELF has the note. */
  readonly pvhEntry: bigint | undefined;
  readonly loads: readonly LoadSegment[];
  /** `Linux version …` banner up to the end of its line, when found. */
  readonly banner: string | undefined;
}

export class ElfFormatError extends Error {
  override readonly name = 'ElfFormatError';
}

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

interface Note {
  readonly name: string;
  readonly type: number;
  readonly desc: Uint8Array;
}

/** The notes of one PT_NOTE segment (4-byte aligned name and descriptor). */
function parseNotes(bytes: Uint8Array): Note[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Note[] = [];
  let off = 0;
  const align4 = (n: number) => (n + 3) & ~3;
  while (off + 12 <= bytes.length) {
    const namesz = v.getUint32(off, true);
    const descsz = v.getUint32(off + 4, true);
    const type = v.getUint32(off + 8, true);
    const nameStart = off + 12;
    const descStart = nameStart + align4(namesz);
    if (descStart + descsz > bytes.length) break;
    const name = Buffer.from(bytes.subarray(nameStart, nameStart + Math.max(0, namesz - 1))).toString('latin1');
    out.push({ name, type, desc: bytes.subarray(descStart, descStart + descsz) });
    off = descStart + align4(descsz);
  }
  return out;
}

/**
 * The `Linux version …` banner. The image holds it more than once (a format string, and copies
 * without the build number); the one /proc/version prints has `#<build>`, so that one wins.
 */
function findBanner(bytes: Uint8Array): string | undefined {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found: string[] = [];
  for (let at = buf.indexOf('Linux version '); at >= 0 && found.length < 8; at = buf.indexOf('Linux version ', at + 1)) {
    const end = buf.indexOf(0, at);
    const text = buf.toString('latin1', at, end < 0 ? Math.min(buf.length, at + 400) : Math.min(end, at + 400)).split('\n')[0]!.trim();
    if (/^Linux version \d/.test(text)) found.push(text);
  }
  return found.find((t) => /#\d/.test(t)) ?? found[0];
}

/** Parse an ELF64 little-endian x86-64 image; throws ElfFormatError saying what is wrong. */
export function readKernelElf(bytes: Uint8Array): KernelElfInfo {
  if (!isElf(bytes)) throw new ElfFormatError('not an ELF file');
  if (bytes[4] !== 2 || bytes[5] !== 1) throw new ElfFormatError('not a 64-bit little-endian ELF');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const machine = v.getUint16(18, true);
  if (machine !== EM_X86_64) throw new ElfFormatError(`ELF machine ${machine}, not x86-64 (${EM_X86_64})`);
  const entry = v.getBigUint64(24, true);
  const phoff = Number(v.getBigUint64(32, true));
  const phentsize = v.getUint16(54, true);
  const phnum = v.getUint16(56, true);
  if (phoff + phnum * phentsize > bytes.length) throw new ElfFormatError('program headers lie past the end of the file (truncated?)');
  const loads: LoadSegment[] = [];
  let pvhEntry: bigint | undefined;
  for (let i = 0; i < phnum; i++) {
    const h = phoff + i * phentsize;
    const type = v.getUint32(h, true);
    const offset = Number(v.getBigUint64(h + 8, true));
    const vaddr = v.getBigUint64(h + 16, true);
    const paddr = v.getBigUint64(h + 24, true);
    const filesz = Number(v.getBigUint64(h + 32, true));
    const memsz = v.getBigUint64(h + 40, true);
    if (type === PT_LOAD) loads.push({ vaddr, paddr, memsz });
    if (type === PT_NOTE && offset + filesz <= bytes.length) {
      for (const n of parseNotes(bytes.subarray(offset, offset + filesz))) {
        if (n.name !== 'Xen' || n.type !== XEN_ELFNOTE_PHYS32_ENTRY) continue;
        const dv = new DataView(n.desc.buffer, n.desc.byteOffset, n.desc.byteLength);
        if (n.desc.length >= 8) pvhEntry = dv.getBigUint64(0, true);
        else if (n.desc.length >= 4) pvhEntry = BigInt(dv.getUint32(0, true));
      }
    }
  }
  return { entry, pvhEntry, loads, banner: findBanner(bytes) };
}

/** Segments linked in the kernel half (the per-CPU segment is linked at 0 and has no alias). */
function isKernelHalf(l: LoadSegment): boolean {
  return l.vaddr >= 0xffff800000000000n && l.vaddr !== l.paddr;
}

/**
 * The link-time address of a physical alias: early boot code (PVH entry, startup_64) runs at
 * the physical addresses the image was loaded at. Undefined when `addr` is in no segment's
 * physical range of a kernel-half segment.
 */
export function linkAddressOfPhysical(loads: readonly LoadSegment[], addr: bigint): bigint | undefined {
  for (const l of loads) {
    if (!isKernelHalf(l)) continue;
    if (addr >= l.paddr && addr < l.paddr + l.memsz) return addr - l.paddr + l.vaddr;
  }
  return undefined;
}

/** The physical alias of a link-time address (inverse of linkAddressOfPhysical). */
export function physicalAliasOf(loads: readonly LoadSegment[], addr: bigint): bigint | undefined {
  for (const l of loads) {
    if (!isKernelHalf(l)) continue;
    if (addr >= l.vaddr && addr < l.vaddr + l.memsz) return addr - l.vaddr + l.paddr;
  }
  return undefined;
}
