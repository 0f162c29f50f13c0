import { describe, expect, it } from 'vitest';
import { RR } from '../../contracts/register-record.js';
import { CpuLogParser, type LogRecord } from '../../oracle/qemu/cpu-log.js';
import { interruptedBeforeRunning, type ReprintCount, skipReprints } from './stream-common.js';

/** A record in QEMU 7.2's x86-64 format (x86_cpu_dump_state with CPU_DUMP_CCOP), as in a real log. */
const RECORD = (rip: string, rax: string) => `RAX=${rax} RBX=ffffc9000000b0f0 RCX=0000000000002e5e RDX=0000000000002e5d
RSI=00000000000186a0 RDI=ffffffffffffffff RBP=ffff8880050b5c00 RSP=ffffc90000013c78
R8 =00000000000003e8 R9 =ffffc9000000b148 R10=ffffffffffffffff R11=0000000000000202
R12=0000000001dad739 R13=ffff8880050b5c38 R14=ffff8880050b5d58 R15=aaaaaaaaaaaaaaab
RIP=${rip} RFL=00000087 [--S--PC] CPL=0 II=0 A20=1 SMM=0 HLT=0
ES =0000 0000000000000000 00000000 00000000
CS =0010 0000000000000000 ffffffff 00af9b00 DPL=0 CS64 [-RA]
SS =0018 0000000000000000 ffffffff 00c09300 DPL=0 DS   [-WA]
DS =0000 0000000000000000 00000000 00000000
FS =0000 0000000000000000 00000000 00000000
GS =0000 ffff88801f200000 00000000 00000000
LDT=0000 0000000000000000 0000ffff 00008200 DPL=0 LDT
TR =0040 fffffe0000003000 00004087 00008900 DPL=0 TSS64-avl
GDT=     fffffe0000001000 0000007f
IDT=     fffffe0000000000 00000fff
CR0=80050033 CR2=ffff888004401000 CR3=0000000002a10000 CR4=000006f0
DR0=0000000000000000 DR1=0000000000000000 DR2=0000000000000000 DR3=0000000000000000 
DR6=00000000ffff0ff0 DR7=0000000000000400
CCS=0000000000000087 CCD=0000000000002e5d CCO=EFLAGS
EFER=0000000000000d01
`;
const MMIO_READ = RECORD('ffffffff81a3154e', '0000000000002e5d'); // hpet_alloc.cold+0x240: mov rax, [rbx]
const AFTER = RECORD('ffffffff81a31551', '0000000001db0596');
const TIMER = '     7: v=ec e=0000 i=0 cpl=0 IP=0010:ffffffff81a3154e pc=ffffffff81a3154e SP=0018:ffffc90000013c78 env->regs[R_EAX]=0000000000002e5d\n';

function records(text: string): LogRecord[] {
  const p = new CpuLogParser();
  p.feed(Buffer.from(text, 'latin1'));
  return p.take();
}

async function skip(recs: LogRecord[]): Promise<{ next: LogRecord | undefined; count: ReprintCount }> {
  const count = { total: 0, longest: 0 };
  const [cur, first, ...rest] = recs;
  const next = await skipReprints(cur!, first, () => rest.shift(), count);
  return { next, count };
}

describe('records QEMU prints again', () => {
  it('skips every re-print of a block, however many in a row', async () => {
    // the HPET counter read as QEMU printed it at hpet_alloc: three times, then the next instruction
    const { next, count } = await skip(records(MMIO_READ + MMIO_READ + MMIO_READ + AFTER));
    expect(next!.words[RR.RIP]).toBe(0x81a31551);
    expect(count).toEqual({ total: 2, longest: 2 });
  });

  it('keeps a record with an interrupt before it, even when its registers are the same', async () => {
    // the dump printed with the v= line is not an instruction (the parser keeps it with its event); the record
    // after it is the handler's, but here a record equal to the last one stands for any state
    // QEMU reached through an event
    const recs = records(MMIO_READ + TIMER + MMIO_READ + MMIO_READ + AFTER);
    expect(recs.map((r) => r.events.length)).toEqual([0, 1, 0]);
    const { next, count } = await skip(recs);
    expect(next).toBe(recs[1]);
    expect(count).toEqual({ total: 0, longest: 0 });
  });

  it('runs out with the records', async () => {
    const { next, count } = await skip(records(MMIO_READ + MMIO_READ));
    expect(next).toBeUndefined();
    expect(count.total).toBe(1);
  });
});

describe('an interrupt QEMU took before running the block it had printed', () => {
  const HANDLER = RECORD('ffffffff81c01000', '0000000000002e5d');
  it('is told by the state it dumped at the delivery: the printed record itself', () => {
    // printed, then the timer came due and the block's exit request ended it before its first instruction
    const [cur, handler] = records(MMIO_READ + TIMER + MMIO_READ + HANDLER);
    expect(handler!.events[0]!.vector).toBe(0xec);
    expect(interruptedBeforeRunning(cur!, handler!)).toBe(true);
  });

  it('is not that when the block ran first (the dump holds its results) or the event was an exception', () => {
    const ranFirst = TIMER.replace(/ffffffff81a3154e/g, 'ffffffff81a31551');
    const [cur, handler] = records(MMIO_READ + ranFirst + AFTER + HANDLER);
    expect(interruptedBeforeRunning(cur!, handler!)).toBe(false);
    const fault = 'check_exception old: 0xffffffff new 0xe\n' + TIMER.replace('v=ec', 'v=0e');
    const [cur2, handler2] = records(MMIO_READ + fault + MMIO_READ + HANDLER);
    expect(handler2!.events[0]!.exception).toBe(true);
    expect(interruptedBeforeRunning(cur2!, handler2!)).toBe(false);
  });
});
