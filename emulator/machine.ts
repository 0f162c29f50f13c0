import { type CpuModel, qemu64Model } from './cpu/cpu-model.js';
import { CR0_PE, Cpu, EFER_LMA, isCanonical } from './cpu/cpu.js';
import { deliverLongMode, pushesErrorCode } from './cpu/interrupts.js';
import { deliverProtected, deliverReal } from './cpu/interrupts-legacy.js';
import { DECODE_TOO_LONG, DECODE_UD, type DecodeMode, decode, MAX_INSN_LENGTH, NEED_MORE } from './decode/decoder.js';
import { Insn, Opnd } from './decode/insn.js';
import { SoftwareInterrupt } from './exec/control-flow.js';
import { type Block, compilable, compileBlock, MAX_BLOCK_INSNS } from './exec/block-compiler.js';
import { DISPATCH, type Handler, NO_EFFECTIVE_ADDRESS } from './exec/handlers.js';
import { specialise } from './exec/fast.js';
import { repBulk } from './exec/string-ops.js';
import { Bus } from './memory/bus.js';
import { GuestFault, Vec } from './memory/guest-fault.js';
import { Access } from './memory/mmu.js';
import { TF } from './isa/flags.js';

/** DR6.BS: the #DB came from single-stepping. */
const DR6_BS = 0x4000n;

export type StepOutcome =
  | { kind: 'ok' }
  | { kind: 'halted' }
  | { kind: 'triple-fault' }
  | { kind: 'crash'; message: string };

/** What Machine.run stopped on: a step's outcome, a stop address, or the instruction limit. */
export type RunOutcome = Exclude<StepOutcome, { kind: 'ok' }> | { kind: 'breakpoint' } | { kind: 'limit' };

const OK: StepOutcome = { kind: 'ok' };
const HALTED: StepOutcome = { kind: 'halted' };
const TRIPLE: StepOutcome = { kind: 'triple-fault' };
const BREAKPOINT: RunOutcome = { kind: 'breakpoint' };
const LIMIT: RunOutcome = { kind: 'limit' };
const NO_STOPS: ReadonlySet<number> = new Set();

const CONTRIBUTORY = new Set([Vec.DE, Vec.TS, Vec.NP, Vec.SS, Vec.GP]);
/** Machine.raise: no exception being delivered before this one. */
const NO_EVENT = -1;


/** A stop address at one of the block's instructions after its first (Machine.burst stops there). */
function stopInside(b: Block, rip: number, stopMode: number, stopAt: number, stops: ReadonlySet<number>): boolean {
  if (stopMode === 1) {
    const o = stopAt - rip;
    return o > 0 && o < b.span && b.offsets.includes(o);
  }
  for (const s of stops) if (b.offsets.includes(s - rip)) return true;
  return false;
}

/**
 * The fetch–decode–execute loop around one CPU and its bus: faults thrown by handlers are
 * delivered here (with #DF and triple-fault escalation), and any other exception becomes a
 * 'crash' outcome naming RIP and the instruction bytes.
 */
export class Machine {
  readonly bus: Bus;
  readonly cpu: Cpu;
  private readonly buf = new Uint8Array(16);
  private mode: DecodeMode;
  /** The decode mode of `mode` (-1 until the first fetch sets both: key 0 is 16-bit code). */
  private modeKey = -1;
  /**
   * Decoded instructions by physical address of their first byte. A write to a page that holds
   * decoded code drops that page's entries (Bus.codePages/onCodeWrite); instructions that cross a
   * page boundary are never cached.
   */
  private readonly cachePages: Map<number, Array<Insn | undefined>>;
  /**
   * Per cached page, the offsets filled since it was last emptied: emptying a page clears those
   * instead of all 4,096 slots (the batch runner rewrites the case page for every case; the
   * full fill was ~8 µs of the emulator's ~160 µs per batched case).
   */
  private readonly cacheFilled: Map<number, number[]>;
  decodeCacheEnabled = true;
  /** Use operand-form-specialised handlers (exec/fast.ts); tests turn it off to compare. */
  specialiseHandlers = true;
  /** Compile hot straight-line code (exec/block-compiler.ts); needs the two switches above. */
  compileBlocks = true;
  /**
   * Entries into the code at one instruction (by a branch or after a block) before a block is
   * compiled there: high enough that straight-line code run once (most fuzz cases) never pays
   * for compiling, low enough that a loop is compiled within its first iterations. Tests set 1.
   */
  blockThreshold = 64;
  /** The last code page's translation (valid while the MMU generation and CPL are unchanged). */
  private fastLinPage = NaN;
  private fastPhysPage = 0;
  private fastGen = -1;
  private fastUser = false;
  private fastEntries: Array<Insn | undefined> | undefined;
  /** Set by a triple fault; only reset() clears it. */
  shutdown = false;
  /** The last instruction's row id (coverage), -1 if it did not decode. */
  lastRow = -1;
  /** Steps the last run() executed (each counts as one step(), faulting ones included). */
  executed = 0;
  /** Outcome of the last burst (OK: keep going). */
  private burstOutcome: StepOutcome = OK;

  /**
   * A new CPU over a new bus of `ram` bytes, or over an existing bus (whose memory it keeps).
   * `decodeCacheOf`: a machine on the same bus and CPU model whose decoded instructions (and
   * compiled blocks) this one takes over. They depend only on the bytes, which writes to the bus
   * keep in step (codePages), and on the decode mode, which each entry records; a reset then does
   * not decode and compile the same unchanged code again (the batch runner's loops: a tenth of
   * the emulator's time per batch). Taken only from a machine with the default switches, which
   * prepared its entries as this one would.
   */
  constructor(ram: number | Bus, model: CpuModel = qemu64Model(), decodeCacheOf?: Machine) {
    this.bus = typeof ram === 'number' ? new Bus(ram) : ram;
    const adopt = decodeCacheOf !== undefined && decodeCacheOf.bus === this.bus && decodeCacheOf.cpu.model === model &&
      decodeCacheOf.decodeCacheEnabled && decodeCacheOf.specialiseHandlers;
    if (adopt) {
      this.cachePages = decodeCacheOf.cachePages;
      this.cacheFilled = decodeCacheOf.cacheFilled;
    } else {
      this.cachePages = new Map();
      this.cacheFilled = new Map();
      this.bus.codePages.fill(0); // the decode cache starts empty, so no page is code yet
    }
    this.cpu = new Cpu(this.bus, model);
    this.mode = { long64: true, default32: true, features: model.features };
    this.bus.onCodeWrite = (page) => this.invalidatePage(page);
  }

  private cacheStore(page: number, list: Array<Insn | undefined>, off: number, d: Insn): void {
    list[off] = d;
    let filled = this.cacheFilled.get(page);
    if (!filled) this.cacheFilled.set(page, (filled = []));
    if (filled.length < 4096) filled.push(off);
  }

  /** Empty a page's list in place (a running burst may hold it). */
  private emptyPage(page: number, list: Array<Insn | undefined>): void {
    const filled = this.cacheFilled.get(page);
    if (filled && filled.length < 4096) for (const off of filled) list[off] = undefined;
    else list.fill(undefined);
    if (filled) filled.length = 0;
  }

  /** Empty the page's entries in place: a running burst may hold the list (Machine.burst). */
  private invalidatePage(page: number): void {
    const list = this.cachePages.get(page);
    if (list) this.emptyPage(page, list);
    this.bus.codePages[page] = 0;
    this.cpu.codeEpoch++; // a running block stops after the write (block-compiler.ts)
  }

  /** Drop every cached decode (mode or feature changes, tests). */
  flushDecodeCache(): void {
    for (const [page, list] of this.cachePages) {
      this.emptyPage(page, list);
      this.bus.codePages[page] = 0;
    }
    this.cpu.codeEpoch++;
  }

  /** Execute one instruction (or one REP iteration), delivering any exception it raises. */
  step(): StepOutcome {
    if (this.shutdown) return TRIPLE;
    const c = this.cpu;
    if (c.halted) return HALTED;
    const rip = c.rip;
    // TF as it was when the instruction started: POPF setting TF traps after the next one.
    const singleStep = (c.flagsRest & TF) !== 0;
    try {
      this.execute(c);
      c.rip = c.nextRip;
      c.icount++;
      // single-step trap (SDM Vol. 3 §18.3.1.4): #DB after the instruction, RIP = the next one
      if (singleStep) {
        c.dr[6] = c.dr[6]! | DR6_BS;
        return this.raise(Vec.DB, undefined, undefined, c.rip, false);
      }
      return c.halted ? HALTED : OK;
    } catch (e) {
      c.icount++;
      return this.fault(e, rip);
    }
  }

  /** Deliver what the instruction at `rip` threw (the instruction counts as retired already). */
  private fault(e: unknown, rip: number): StepOutcome {
    const c = this.cpu;
    if (e instanceof GuestFault) return this.raise(e.vector, e.errorCode, e.address, rip, false);
    // INT1 is delivered as a trap-like #DB: no gate DPL check, EXT set in a delivery fault's
    // error code (QEMU's helper_icebp: exception_is_int = 0); INT n, INT3 and INTO check the DPL.
    if (e instanceof SoftwareInterrupt) return this.raise(e.vector, undefined, undefined, c.nextRip, e.checkDpl, rip);
    return { kind: 'crash', message: this.crashMessage(rip, e) };
  }

  /**
   * Up to `max` steps, exactly as that many step() calls would run them, stopping early (before
   * a step other than the first) when RIP is in `stops`, or when a step does not return 'ok'.
   * Returns that step's outcome, 'breakpoint' (RIP is a stop, also checked after the last step)
   * or 'limit'; `executed` tells how many steps ran. While nothing needs step()'s slow path
   * (TF, HLT, shutdown), instructions run in bursts that keep the decoded code page at hand.
   */
  run(max: number, stops: ReadonlySet<number> = NO_STOPS): RunOutcome {
    const c = this.cpu;
    let n = 0;
    while (n < max) {
      if (n > 0 && stops.has(c.rip)) {
        this.executed = n;
        return BREAKPOINT;
      }
      if (this.shutdown || c.halted || (c.flagsRest & TF) !== 0) {
        const r = this.step();
        n++;
        if (r.kind !== 'ok') {
          this.executed = n;
          return r;
        }
        continue;
      }
      n = this.burst(n, max, stops);
      const r = this.burstOutcome;
      if (r.kind !== 'ok') {
        this.executed = n;
        return r;
      }
    }
    this.executed = n;
    return stops.has(c.rip) ? BREAKPOINT : LIMIT;
  }

  /**
   * Steps from count `n` while they stay on the fast path: returns the new count with the
   * outcome in burstOutcome (OK to continue). Each instruction does what step() does for it
   * when TF is clear and the CPU neither halted nor shut down; the burst ends before a stop
   * address (the caller reports it), after HLT, when TF becomes set, or after an exception.
   */
  private burst(n: number, max: number, stops: ReadonlySet<number>): number {
    const c = this.cpu;
    const mmu = c.mmu;
    const regs = c.regs;
    const flags = c.cc;
    const n0 = n;
    // The code page being executed: its linear base, physical base, decoded entries, the MMU
    // generation that validates the translation (Cpu.updateMode bumps it too, so mode and CPL
    // are covered), the decode-mode key, and the stops on it (none, exactly `stopAt`, or
    // several: ask the set).
    let page = NaN;
    let physPage = 0;
    let entries: Array<Insn | undefined> = [];
    let gen = -1;
    let key = 0;
    let stopMode = 0;
    let stopAt = 0;
    let rip = c.rip;
    // Control arrived here other than by falling through (a branch, a block's end, the burst's
    // start): blocks are compiled where code is entered.
    let entered = true;
    // The block running and c.icount when it started, to count what it retired if it faults.
    let running: Block | undefined;
    let blockIcount = 0;
    const compile = this.compileBlocks && this.specialiseHandlers && this.decodeCacheEnabled;
    try {
      for (;;) {
        let d: Insn | undefined;
        const off = rip - page;
        if (off >= 0 && off < 4096 && mmu.generation === gen) {
          if (stopMode !== 0 && (stopMode === 1 ? rip === stopAt : stops.has(rip))) break;
          d = entries[off];
          if (d !== undefined && d.modeKey !== key) d = undefined;
        } else if (n > n0 && stops.has(rip)) break;
        if (d === undefined) {
          d = this.fetchDecode(c);
          // Cache the page for the following instructions when the fast path applies to it.
          if (c.long64 && this.fastEntries !== undefined && this.fastLinPage === rip - (rip & 0xfff)) {
            if (this.fastLinPage !== page || this.fastEntries !== entries) {
              page = this.fastLinPage;
              entries = this.fastEntries;
              stopMode = 0;
              for (const s of stops) {
                if (s - (s & 0xfff) !== page) continue;
                stopMode = stopMode === 0 ? 1 : 2;
                stopAt = s;
              }
            }
            physPage = this.fastPhysPage;
            gen = this.fastGen;
            key = d.modeKey;
          } else {
            page = NaN;
            stopMode = 2; // blocks ask the set (stopInside)
          }
        }
        let b = d.block;
        if (b === undefined && entered && compile && ++d.heat >= this.blockThreshold && entries[rip - page] === d) {
          d.heat = -0x3fffffff; // one attempt (a failed one is not retried for a billion entries)
          this.buildBlock(d, rip - page, entries, physPage);
          b = d.block;
        }
        if (b !== undefined && compile && n + b.insns.length <= max && (stopMode === 0 || !stopInside(b, rip, stopMode, stopAt, stops))) {
          // A compiled block: it advances icount by the instructions it retired but the last,
          // which counts below like any step (block-compiler.ts compileBlock: exit protocol).
          // A looping block may go round while whole rounds fit the limit, and while its start
          // is not a stop (stops inside it were ruled out above).
          const len = b.insns.length;
          // (Kept a small integer: a double argument would be boxed on every call.)
          const loops = !b.loops || (stopMode !== 0 && (stopMode === 1 ? rip === stopAt : stops.has(rip))) ? 1 : Math.min(0x3fffffff, Math.floor((max - n) / len));
          blockIcount = c.icount;
          running = b;
          b.fn(c, regs, flags, b.insns, rip, loops);
          running = undefined;
          const done = c.icount - blockIcount;
          this.lastRow = b.insns[done < len ? done : done % len]!.rowId;
          n += done;
          entered = true;
        } else {
          this.lastRow = d.rowId;
          const fall = rip + d.len;
          c.nextRip = fall;
          if (d.checks) this.checkLockAndPrivilege(c, d);
          if (d.needsEa) c.lin = c.linearOf(d);
          (d.exec as Handler)(c, d);
          // A block may start after a branch, or after an instruction no block can start with.
          entered = c.nextRip !== fall || !d.startsBlocks;
          // REP iterations: the instruction asks to run again at the same RIP. Each further
          // iteration is a step of its own, run here while nothing the loop's checks look at
          // could have changed: no stop at this RIP, no HLT/TF, the limit, the page still
          // mapped the same (MMU generation) and this instruction still in its decode cache.
          if (c.nextRip === rip && d.rep !== 0 && !d.checks && page === page && !stops.has(rip)) {
            while (c.nextRip === rip && n + 1 < max && !c.halted && (c.flagsRest & TF) === 0 && mmu.generation === gen && entries[rip - page] === d) {
              const k = repBulk(c, d, max - n - 1);
              if (k !== 0) {
                c.icount += k;
                n += k;
                continue;
              }
              c.icount++;
              n++;
              c.nextRip = fall;
              if (d.needsEa) c.lin = c.linearOf(d);
              (d.exec as Handler)(c, d);
            }
          }
        }
        rip = c.nextRip;
        c.rip = rip;
        c.icount++;
        n++;
        if (c.halted) {
          this.burstOutcome = HALTED;
          return n;
        }
        if ((c.flagsRest & TF) !== 0 || n >= max) break;
      }
      this.burstOutcome = OK;
      return n;
    } catch (e) {
      if (running !== undefined) {
        const done = c.icount - blockIcount;
        n += done;
        this.lastRow = running.insns[done % running.insns.length]!.rowId;
      }
      c.icount++;
      this.burstOutcome = this.fault(e, c.rip);
      return n + 1;
    }
  }

  /**
   * Compile the straight-line code from `d` (at page offset `off`) into a block: compilable
   * instructions, then at most one other (not one with LOCK/privilege checks), all on this
   * page. Instructions ahead are decoded from the page's physical bytes and cached as
   * fetchDecode would cache them.
   */
  private buildBlock(d: Insn, off: number, entries: Array<Insn | undefined>, physPage: number): void {
    if (!d.startsBlocks || d.modeKey !== this.modeKey) return;
    const insns = [d];
    let o = off + d.len;
    while (insns.length < MAX_BLOCK_INSNS && o < 4096 && insns[insns.length - 1]!.startsBlocks) {
      let next = entries[o];
      if (next === undefined || next.modeKey !== d.modeKey) next = this.decodeCached(physPage, o, entries);
      if (next === undefined || next.checks) break;
      insns.push(next);
      o += next.len;
    }
    d.block = compileBlock(insns);
  }

  /** Decode and cache the instruction at page offset `off`; undefined if it does not decode within the page. */
  private decodeCached(physPage: number, off: number, entries: Array<Insn | undefined>): Insn | undefined {
    const avail = Math.min(MAX_INSN_LENGTH, 4096 - off);
    if (physPage + off + avail > this.bus.ramSize) return undefined;
    const buf = this.buf;
    for (let i = 0; i < avail; i++) buf[i] = this.bus.read8(physPage + off + i);
    const d = new Insn();
    if (decode(buf, avail, this.mode, d) <= 0) return undefined;
    this.prepare(d);
    this.cacheStore(Math.floor(physPage / 4096), entries, off, d);
    return d;
  }

  /** Fill in what the machine keeps on a decoded instruction (handler, EA, checks, mode key). */
  private prepare(d: Insn): void {
    d.exec = ((this.specialiseHandlers ? specialise(d) : undefined) ?? DISPATCH[d.row.id]!) as Insn['exec'];
    d.needsEa = d.hasMem && !NO_EFFECTIVE_ADDRESS.has(d.row.handler);
    d.modeKey = this.modeKey;
    d.rowId = d.row.id;
    d.checks = d.lock || d.row.privileged;
    d.startsBlocks = compilable(d);
  }

  private execute(c: Cpu): void {
    const d = this.fetchDecode(c);
    this.lastRow = d.rowId;
    c.nextRip = c.rip + d.len;
    if (d.checks) this.checkLockAndPrivilege(c, d);
    if (d.needsEa) c.lin = c.linearOf(d);
    (d.exec as Handler)(c, d);
  }

  private checkLockAndPrivilege(c: Cpu, d: Insn): void {
    const row = d.row;
    if (d.lock && (!row.lock || d.ot[0] !== Opnd.Mem)) throw new GuestFault(Vec.UD);
    if (row.privileged && c.cpl !== 0) throw new GuestFault(Vec.GP, 0);
  }

  private fetchDecode(c: Cpu): Insn {
    const key = (c.long64 ? 1 : 0) | (c.default32 ? 2 : 0);
    if (key !== this.modeKey) {
      this.modeKey = key;
      this.mode = { long64: c.long64, default32: c.default32, features: c.model.features };
    }
    const rip = c.rip;
    if (c.long64 && !isCanonical(rip)) throw new GuestFault(Vec.GP, 0);
    const lin = c.long64 ? rip : (rip + c.segBase[1]!) % 4294967296;
    const off = lin & 0xfff;
    const linPage = lin - off;
    let phys: number;
    let entries: Array<Insn | undefined> | undefined;
    if (linPage === this.fastLinPage && c.mmu.generation === this.fastGen && c.user === this.fastUser) {
      phys = this.fastPhysPage + off;
      entries = this.fastEntries;
    } else {
      phys = c.mmu.translate(lin, Access.Exec, c.user);
      entries = this.cachePages.get(Math.floor(phys / 4096));
      this.fastLinPage = linPage;
      this.fastPhysPage = phys - off;
      this.fastGen = c.mmu.generation;
      this.fastUser = c.user;
      this.fastEntries = entries;
    }
    if (entries !== undefined) {
      const cached = entries[off];
      if (cached !== undefined && cached.modeKey === key) return cached;
    }
    const inPage = 4096 - (lin & 0xfff);
    const avail = Math.min(MAX_INSN_LENGTH, inPage);
    const buf = this.buf;
    for (let i = 0; i < avail; i++) buf[i] = c.bus.read8(phys + i);
    const d = new Insn();
    let r = decode(buf, avail, this.mode, d);
    let crosses = false;
    if (r === NEED_MORE) {
      crosses = true;
      const next = c.mmu.translate(lin + inPage, Access.Exec, c.user);
      for (let i = avail; i < MAX_INSN_LENGTH; i++) buf[i] = c.bus.read8(next + (i - avail));
      r = decode(buf, MAX_INSN_LENGTH, this.mode, d);
    }
    if (r === DECODE_UD || r === NEED_MORE) throw new GuestFault(Vec.UD);
    if (r === DECODE_TOO_LONG) throw new GuestFault(Vec.GP, 0);
    this.prepare(d);
    if (this.decodeCacheEnabled && !crosses && phys + d.len <= this.bus.ramSize) {
      const page = Math.floor(phys / 4096);
      let list = this.cachePages.get(page);
      if (!list) {
        this.cachePages.set(page, (list = new Array<Insn | undefined>(4096).fill(undefined)));
        this.fastLinPage = NaN; // the fast path holds the old (missing) list
      }
      this.cacheStore(page, list, off, d);
      this.bus.codePages[page] = 1;
    }
    return d;
  }

  /** Deliver an exception, escalating to #DF and then to a triple fault (SDM Vol. 3 Table 6-5). */
  /**
   * `faultRip`: what a fault raised while delivering this event saves as its return address
   * (the instruction's own address: for INT n, not the next one; QEMU and the SDM alike).
   */
  private raise(vector: number, errorCode: number | undefined, address: number | undefined, returnRip: number, software: boolean, faultRip = returnRip): StepOutcome {
    const c = this.cpu;
    // A software interrupt (INT n, INT3, INTO) is no first exception for SDM Vol. 3 Table 6-5: a
    // fault while delivering INT 0 or INT 8 is delivered as itself, not as #DF (QEMU: is_int skips
    // check_exception). NO_EVENT counts as benign.
    let first = software ? NO_EVENT : vector;
    // INT n with an exception's vector pushes no error code (SDM Vol. 3 6.4.2), whatever the vector
    let ev = { vector, errorCode: !software && pushesErrorCode(vector) ? (errorCode ?? 0) : undefined, software, returnRip };
    let addr = address;
    for (let attempt = 0; attempt < 4; attempt++) {
      try {
        if (ev.vector === Vec.PF && addr !== undefined) c.setCr2(addr);
        if ((c.cr0 & CR0_PE) === 0) deliverReal(c, ev);
        else if (c.efer & EFER_LMA) deliverLongMode(c, ev);
        else deliverProtected(c, ev);
        c.halted = false;
        return OK;
      } catch (e) {
        if (!(e instanceof GuestFault)) return { kind: 'crash', message: this.crashMessage(c.rip, e) };
        const second = e.vector;
        if (first === Vec.DF) {
          this.shutdown = true;
          return TRIPLE;
        }
        const benignFirst = !CONTRIBUTORY.has(first) && first !== Vec.PF;
        const escalate = !benignFirst && (CONTRIBUTORY.has(second) || (first === Vec.PF && second === Vec.PF));
        if (escalate) {
          ev = { vector: Vec.DF, errorCode: 0, software: false, returnRip: faultRip };
          addr = undefined;
          first = Vec.DF;
        } else {
          ev = { vector: second, errorCode: pushesErrorCode(second) ? (e.errorCode ?? 0) : undefined, software: false, returnRip: faultRip };
          addr = e.address;
          first = second;
        }
      }
    }
    this.shutdown = true;
    return TRIPLE;
  }

  private crashMessage(rip: number, e: unknown): string {
    const ripHex = BigInt.asUintN(64, BigInt(rip)).toString(16);
    let bytes = '';
    try {
      const lin = rip;
      const phys = this.cpu.mmu.peekTranslate(lin);
      if (phys >= 0) bytes = Array.from(this.bus.peek(phys, 15), (b) => b.toString(16).padStart(2, '0')).join(' ');
    } catch {
      bytes = '(unreadable)';
    }
    const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return `emulator crash at RIP 0x${ripHex} (bytes ${bytes || 'unmapped'}): ${what}`;
  }
}
