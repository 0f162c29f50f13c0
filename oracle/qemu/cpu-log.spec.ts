import { describe, expect, it } from 'vitest';
import { RR, recordToState } from '../../contracts/register-record.js';
import { completeRecord, CpuLogParser, sameLogged, UNLOGGED_WORDS } from './cpu-log.js';

/** A record as QEMU 7.2 prints it for x86-64 (x86_cpu_dump_state with CPU_DUMP_CCOP), taken from a real log. */
const RECORD = (rip: string, rax: string) => `RAX=${rax} RBX=0000000000000002 RCX=0000000000000003 RDX=0000000000000004
RSI=000000003d3b350f RDI=0000000003143480 RBP=0000000000000005 RSP=ffffffff82a03f50
R8 =0000000000000008 R9 =0000000003143480 R10=00000000030ef000 R11=0000000000000022
R12=000000000000000c R13=000000000000000d R14=000000000000000e R15=800000000000000f
RIP=${rip} RFL=00000046 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=0
ES =0000 0000000000000000 00000000 00000000
CS =0010 0000000000000000 ffffffff 00af9b00 DPL=0 CS64 [-RA]
SS =0018 0000000000000000 ffffffff 00c09300 DPL=0 DS   [-WA]
DS =0000 0000000000000000 00000000 00000000
FS =0000 00007f0011223344 00000000 00000000
GS =0000 ffffffff83044000 00000000 00000000
LDT=0000 0000000000000000 0000ffff 00008200 DPL=0 LDT
TR =0000 0000000000000000 0000ffff 00008b00 DPL=0 TSS64-busy
GDT=     ffffffff8304f000 0000007f
IDT=     ffffffff83313000 00000fff
CR0=80050033 CR2=ffff8880000011c0 CR3=00000000030ec000 CR4=000000a0
DR0=0000000000000000 DR1=0000000000000000 DR2=0000000000000000 DR3=0000000000000000 
DR6=00000000ffff0ff0 DR7=0000000000000400
CCS=0000000000000044 CCD=0000000000000000 CCO=EFLAGS
EFER=0000000000000d01
`;

/**
 * Records QEMU 7.2 printed at the PVH entry (32-bit code, EFER.LMA=0: the legacy format) and just
 * before the far jump into 64-bit code (EFER.LMA=1, CS still 32-bit: compatibility mode), from a
 * real log of Debian's kernel (`-d cpu,int,nochain -singlestep`).
 */
const LEGACY = `EAX=00000000 EBX=000021e0 ECX=01000850 EDX=00000518
ESI=000011c0 EDI=00006ef4 EBP=00000000 ESP=00006edc
EIP=01000850 EFL=00000006 [-----P-] CPL=0 II=0 A20=1 SMM=0 HLT=0
ES =0010 00000000 ffffffff 00cf9300 DPL=0 DS   [-WA]
CS =0008 00000000 ffffffff 00cf9a00 DPL=0 CS32 [-R-]
SS =0010 00000000 ffffffff 00cf9300 DPL=0 DS   [-WA]
DS =0010 00000000 ffffffff 00cf9300 DPL=0 DS   [-WA]
FS =0010 00000000 ffffffff 00cf9300 DPL=0 DS   [-WA]
GS =0010 12345678 ffffffff 00cf9300 DPL=0 DS   [-WA]
LDT=0000 00000000 0000ffff 00008200 DPL=0 LDT
TR =0000 00000000 0000ffff 00008b00 DPL=0 TSS32-busy
GDT=     000c0118 00000027
IDT=     00000000 000003ff
CR0=00000011 CR2=00000000 CR3=00000000 CR4=00000000
DR0=0000000000000000 DR1=0000000000000000 DR2=0000000000000000 DR3=0000000000000000 
DR6=00000000ffff0ff0 DR7=0000000000000400
CCS=00000010 CCD=00006ed4 CCO=ADDL
EFER=0000000000000000
`;
const COMPAT = `EAX=80000001 EBX=000021e0 ECX=c0000080 EDX=00000000
ESI=00002218 EDI=03143478 EBP=00000000 ESP=031484d0
EIP=010008a0 EFL=00000002 [-------] CPL=0 II=0 A20=1 SMM=0 HLT=0
ES =0010 00000000 ffffffff 00cf9300 DPL=0 DS   [-WA]
CS =0008 00000000 ffffffff 00cf9a00 DPL=0 CS32 [-R-]
SS =0010 00000000 ffffffff 00cf9300 DPL=0 DS   [-WA]
DS =0010 00000000 ffffffff 00cf9300 DPL=0 DS   [-WA]
FS =0010 00000000 ffffffff 00cf9300 DPL=0 DS   [-WA]
GS =0010 00000000 ffffffff 00cf9300 DPL=0 DS   [-WA]
LDT=0000 00000000 0000ffff 00008200 DPL=0 LDT
TR =0000 00000000 0000ffff 00008b00 DPL=0 TSS64-busy
GDT=     0000000003144488 00000018
IDT=     0000000000000000 000003ff
CR0=80000011 CR2=0000000000000000 CR3=0000000002a10000 CR4=00000020
DR0=0000000000000000 DR1=0000000000000000 DR2=0000000000000000 DR3=0000000000000000 
DR6=00000000ffff0ff0 DR7=0000000000000400
CCS=00000000 CCD=00000020 CCO=EFLAGS
EFER=0000000000000500
`;

describe("QEMU's cpu log", () => {
  it('parses every field of a record, wherever the chunks are cut', () => {
    const text = RECORD('ffffffff83079e46', '0000000000000001') + RECORD('ffffffff81076650', 'ffffffffffffffff');
    // every cut: a record cut anywhere must wait for its rest, whatever stale bytes lie beyond
    for (let cut = 1; cut < text.length; cut++) {
      const p = new CpuLogParser();
      p.feed(Buffer.from(text.slice(0, cut), 'latin1'));
      p.feed(Buffer.from(text.slice(cut), 'latin1'));
      const recs = p.take();
      expect(recs).toHaveLength(2);
      const s = recordToState(recs[0]!.words);
      expect(s.gpr).toMatchObject({ rax: 1n, rbx: 2n, rcx: 3n, rdx: 4n, rbp: 5n, rsp: 0xffffffff82a03f50n, r8: 8n, r11: 0x22n, r15: 0x800000000000000fn });
      expect(s.rip).toBe(0xffffffff83079e46n);
      expect(s.rflags).toBe(0x46n);
      expect(s.seg.cs.selector).toBe(0x10);
      expect(s.seg.ss.selector).toBe(0x18);
      expect(s.fsBase).toBe(0x7f0011223344n);
      expect(s.gsBase).toBe(0xffffffff83044000n);
      expect([s.cr0, s.cr2, s.cr3, s.cr4, s.efer]).toEqual([0x80050033n, 0xffff8880000011c0n, 0x30ec000n, 0xa0n, 0xd01n]);
      expect(recordToState(recs[1]!.words).gpr.rax).toBe(0xffffffffffffffffn);
      expect(recs[0]!.events).toEqual([]);
    }
  });

  it('attaches delivered interrupts to the next record, each with the dump printed with it', () => {
    const text = RECORD('ffffffff81000001', '0000000000000001') +
      'Servicing hardware INT=0x20\n' +
      '     3: v=20 e=0000 i=0 cpl=0 IP=0010:ffffffff81000002 pc=ffffffff81000002 SP=0018:ffffffff82a03f50 env->regs[R_EAX]=0000000000000001\n' +
      RECORD('ffffffff81000002', '0000000000000001') + // the state at delivery: not an instruction
      RECORD('ffffffff81c00000', '0000000000000001') +
      'check_exception old: 0xffffffff new 0xe\n' +
      '     4: v=0e e=0002 i=0 cpl=0 IP=0010:ffffffff81c00000 pc=ffffffff81c00000 SP=0018:ffffffff82a03f28 CR2=0000000000001000\n' +
      RECORD('ffffffff81c00000', '0000000000000001') +
      RECORD('ffffffff81c01000', '0000000000000001');
    const p = new CpuLogParser();
    p.feed(Buffer.from(text, 'latin1'));
    const recs = p.take();
    expect(recs.map((r) => recordToState(r.words).rip)).toEqual([0xffffffff81000001n, 0xffffffff81c00000n, 0xffffffff81c01000n]);
    expect(recs[1]!.events).toMatchObject([{ vector: 0x20, errorCode: 0, software: false, exception: false, pc: 0xffffffff81000002n, stateFormat: 'long64' }]);
    expect(recs[2]!.events).toMatchObject([{ vector: 0x0e, errorCode: 2, software: false, exception: true, pc: 0xffffffff81c00000n, stateFormat: 'long64' }]);
    // the dump is kept with its event: the state QEMU delivered the interrupt in
    expect(recordToState(recs[1]!.events[0]!.state!).rip).toBe(0xffffffff81000002n);
    expect(recordToState(recs[2]!.events[0]!.state!).rip).toBe(0xffffffff81c00000n);
  });

  it('parses the 32-bit formats QEMU prints outside 64-bit code, and says which words they leave out', () => {
    const text = 'SMM: after RSM\n' + LEGACY + COMPAT + RECORD('00000000010008a7', '0000000080000001');
    for (let cut = 1; cut < text.length; cut++) {
      const p = new CpuLogParser();
      p.feed(Buffer.from(text.slice(0, cut), 'latin1'));
      p.feed(Buffer.from(text.slice(cut), 'latin1'));
      const recs = p.take();
      expect(recs.map((r) => r.format)).toEqual(['legacy', 'compat', 'long64']);
      const [legacy, compat] = recs.map((r) => recordToState(r.words));
      expect(legacy!.gpr).toMatchObject({ rax: 0n, rbx: 0x21e0n, rcx: 0x1000850n, rdx: 0x518n, rsi: 0x11c0n, rdi: 0x6ef4n, rbp: 0n, rsp: 0x6edcn, r8: 0n, r15: 0n });
      expect([legacy!.rip, legacy!.rflags, legacy!.seg.cs.selector, legacy!.seg.gs.selector, legacy!.gsBase]).toEqual([0x1000850n, 6n, 8, 0x10, 0x12345678n]);
      expect([legacy!.cr0, legacy!.cr2, legacy!.cr3, legacy!.cr4, legacy!.efer]).toEqual([0x11n, 0n, 0n, 0n, 0n]);
      expect(compat!.gpr).toMatchObject({ rax: 0x80000001n, rcx: 0xc0000080n, rdi: 0x3143478n, rsp: 0x31484d0n });
      expect([compat!.rip, compat!.rflags]).toEqual([0x10008a0n, 2n]);
      expect([compat!.cr0, compat!.cr2, compat!.cr3, compat!.cr4, compat!.efer]).toEqual([0x80000011n, 0n, 0x2a10000n, 0x20n, 0x500n]);
      expect(recordToState(recs[2]!.words).rip).toBe(0x10008a7n);
    }
    // what a 32-bit record leaves out: GPR/RIP/FS/GS-base upper halves, R8-R15; outside IA-32e also CR2/CR3's
    expect(UNLOGGED_WORDS.long64).toEqual([]);
    expect(UNLOGGED_WORDS.compat).toHaveLength(8 + 16 + 3);
    expect(UNLOGGED_WORDS.compat).not.toContain(RR.CR3 + 1);
    expect(UNLOGGED_WORDS.legacy).toEqual([...UNLOGGED_WORDS.compat, RR.CR2 + 1, RR.CR3 + 1]);
  });

  it('fills a 32-bit record\'s missing words from the emulator and compares only what QEMU printed', () => {
    const p = new CpuLogParser();
    p.feed(Buffer.from(LEGACY, 'latin1'));
    const [r] = p.take();
    const emu = new Uint32Array(r!.words);
    emu[RR.GPR + 2 * 9] = 0xdead; // R9's low half: not in the record
    emu[RR.RIP + 1] = 1;
    expect(sameLogged(r!, emu)).toBe(true);
    emu[RR.GPR] = 5; // EAX: in the record
    expect(sameLogged(r!, emu)).toBe(false);
    emu[RR.GPR] = 0;
    completeRecord(r!, emu);
    expect(recordToState(r!.words).gpr.r9).toBe(0xdeadn);
    expect(recordToState(r!.words).rip).toBe(0x100000000n + 0x1000850n);
    expect(r!.words).toEqual(emu);
  });

  it('says what it got when the log is not an x86-64 cpu log', () => {
    const p = new CpuLogParser();
    expect(() => p.feed(Buffer.alloc(70_000, 0x41))).toThrow(/no register record in 70000 bytes of QEMU's log/);
  });
});
