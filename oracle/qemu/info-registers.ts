import type { Segment, TableRegister } from '../../contracts/machine-state.js';

export interface SystemRegisters {
  readonly segments: Partial<Record<'cs' | 'ss' | 'ds' | 'es' | 'fs' | 'gs' | 'ldtr' | 'tr', Required<Segment>>>;
  readonly gdtr?: TableRegister;
  readonly idtr?: TableRegister;
  readonly cpl?: number;
  /** x87 abridged tag word (bit i set: physical register i not empty), which the gdb stub does not report. */
  readonly ftw?: number;
  /** The CPU sits in HLT (QEMU's `HLT=1`). */
  readonly halted?: boolean;
}

const SEG_NAMES: Record<string, keyof SystemRegisters['segments']> = {
  ES: 'es', CS: 'cs', SS: 'ss', DS: 'ds', FS: 'fs', GS: 'gs', LDT: 'ldtr', TR: 'tr',
};

/**
 * Parse the descriptor caches and table registers out of QEMU's `info registers` text,
 * the only place the gdbstub exposes them. Works for both the 32-bit and 64-bit layouts.
 */
export function parseInfoRegisters(text: string): SystemRegisters {
  const segments: Record<string, Required<Segment>> = {};
  const segRe = /^(ES|CS|SS|DS|FS|GS|LDT|TR) ?=([0-9a-f]{4}) ([0-9a-f]{8,16}) ([0-9a-f]{8}) ([0-9a-f]{8})/gm;
  for (const m of text.matchAll(segRe)) {
    segments[SEG_NAMES[m[1]!]!] = {
      selector: Number.parseInt(m[2]!, 16),
      base: BigInt(`0x${m[3]}`),
      limit: Number.parseInt(m[4]!, 16),
      attrs: Number.parseInt(m[5]!, 16),
    };
  }
  const table = (name: string): TableRegister | undefined => {
    const m = new RegExp(`^${name}=\\s+([0-9a-f]{8,16}) ([0-9a-f]{8})`, 'm').exec(text);
    return m ? { base: BigInt(`0x${m[1]}`), limit: Number.parseInt(m[2]!, 16) } : undefined;
  };
  const cpl = /CPL=(\d)/.exec(text);
  const ftw = /FTW=([0-9a-f]{2})/.exec(text);
  const hlt = /HLT=(\d)/.exec(text);
  return {
    segments,
    gdtr: table('GDT'),
    idtr: table('IDT'),
    cpl: cpl ? Number(cpl[1]) : undefined,
    ftw: ftw ? Number.parseInt(ftw[1]!, 16) : undefined,
    halted: hlt ? hlt[1] === '1' : undefined,
  };
}
