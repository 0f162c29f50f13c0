import type { Cpu } from '../cpu/cpu.js';
import { CC, type LazyFlags } from '../cpu/lazy-flags.js';
import { BASE_RIP, type Insn, Seg } from '../decode/insn.js';
import { mutants } from '../mutants.js';
import { constantShiftCount, type FastForm, fastForm } from './fast.js';

/**
 * Block compiler: a straight run of register-only instructions (the forms exec/fast.ts
 * specialises: ALU/TEST/INC/DEC/MOV on 32/64-bit registers with register or immediate sources,
 * LEA) becomes one JavaScript function with the register numbers, immediates and flag kinds
 * written in as constants. The run may end with one instruction of any other kind (a branch, a
 * store, …), which the function executes through its handler, with RIP, the instruction count
 * and the flags brought up to date first, exactly as Machine.burst would.
 *
 * Why: after the decode cache and the specialised handlers, the remaining cost per instruction
 * was the dispatch itself (an indirect call per instruction, the lookup of the next decoded
 * instruction) and the lazy-flag record every ALU instruction stores (nine fields). In a
 * compiled block the calls are gone, and the flag record lives in locals: V8 drops the
 * assignments a later instruction overwrites, so only the block's last flag record is stored.
 *
 * What stays exact:
 * - Compiled instructions cannot fault, so an exception can only come from the last
 *   instruction, which runs with c.rip, c.nextRip, c.icount and the flags as a single step
 *   would leave them; RDTSC as the last instruction reads the right count.
 * - Anything that changes the mode, paging, TF, or writes code is a last instruction (compiled
 *   ones touch only registers and flags), so the machine's checks after the block see it.
 * - No planted bug (emulator/mutants.ts) is on these forms: RIP-relative LEA, memory sources
 *   and the other mutated forms are never compiled.
 */
/** `loops`: how many times a looping block may run (at least 1; the machine's instruction limit and stops decide). */
export type BlockFn = (c: Cpu, r: Uint32Array, f: LazyFlags, ds: readonly Insn[], rip0: number, loops: number) => void;

export interface Block {
  readonly fn: BlockFn;
  /** The block's instructions; the last one may be a non-compiled one run through its handler. */
  readonly insns: readonly Insn[];
  /** Offsets of the instructions after the first, from the block's start (stop addresses). */
  readonly offsets: readonly number[];
  /** Bytes covered. */
  readonly span: number;
  /** Ends in a Jcc back to its start: the function may run several rounds. */
  readonly loops: boolean;
}

/** Longest run compiled into one block. */
export const MAX_BLOCK_INSNS = 64;

/**
 * A form the compiler emits (register-only ALU/MOV/LEA inline; register↔memory MOV and
 * PUSH/POP through their specialised handlers; ALU with a memory source) and on which no
 * planted bug sits: RIP-relative addresses (mutants.ripRelFromStart) stay out, and so does a
 * 64-bit ADD from memory while its planted bug (add64MemTrunc32) is switched on.
 */
export function compilable(d: Insn): boolean {
  const f = fastForm(d.exec);
  if (f === undefined) return false;
  if (f.src === 'm' && f.op === 0 && f.size === 8 && mutants.add64MemTrunc32) return false;
  // constant shifts: only counts the mask leaves alone (the shift-count planted bug is then moot), and not 0 (no flags)
  if (f.op === 'shl' || f.op === 'shr' || f.op === 'sar') {
    const n = constantShiftCount(d);
    if (n <= 0 || n >= f.size * 8) return false;
  }
  return !(d.hasMem && (d.base === BASE_RIP || d.absolute));
}

/**
 * Compile `insns` (consecutive, the first at the block's start; all but possibly the last
 * compilable). Returns undefined when there is nothing to gain (no compilable instruction).
 *
 * Exit protocol (Machine.burst relies on it): when the function returns, c.nextRip is where
 * execution continues and c.icount has grown by the instructions retired minus one (the
 * machine counts the last one, as after any step). When it throws, c.rip is the faulting
 * instruction, c.icount has grown by the instructions retired before it, and the flags are
 * those before it.
 */
export function compileBlock(insns: readonly Insn[]): Block | undefined {
  const n = insns.length;
  const tail = insns[n - 1]!;
  const last = compilable(tail) ? undefined : tail;
  const inline = last === undefined ? n : n - 1;
  if (inline === 0) return undefined;
  let span = 0;
  for (const d of insns) span += d.len;
  // A loop: the block ends in a conditional jump back to its own start. The function then runs
  // the block again itself (up to `loops` times) for as long as the jump is taken: a Jcc
  // changes nothing but RIP, and anything else that could end the run (a fault, a write to
  // code, an MMU change) leaves the function anyway.
  const loop = last !== undefined && last.row.handler === 'jcc' && (last.imm | 0) + span === 0;
  const g = new Emitter(loop);
  const offsets: number[] = [];
  let off = 0;
  for (let i = 0; i < inline; i++) {
    const d = insns[i]!;
    if (i > 0) offsets.push(off);
    g.insn(d, fastForm(d.exec)!, i, off);
    off += d.len;
  }
  g.endTry();
  g.storeFlags();
  if (last !== undefined) {
    offsets.push(off);
    g.line(`c.icount += ${inline};`);
    g.line(`c.rip = rip0 + ${off};`);
    g.line(`c.nextRip = rip0 + ${off + last.len};`);
    // The handler's name in a comment: blocks share a function only when they end in the same
    // handler, so that call site stays monomorphic and V8 can inline the handler.
    g.line(`const last = ds[${inline}]; /* ${((last.exec as { name?: string } | null)?.name ?? '').replace(/\W/g, '')} */`);
    if (last.needsEa) g.line('c.lin = c.linearOf(last);');
    g.line('last.exec(c, last);');
    // Another round: the jump retired (the machine counts only the last instruction).
    if (loop) g.line('if (c.nextRip !== rip0 || --loops <= 0) return;\nc.icount += 1;\n}');
  } else {
    g.line(`c.icount += ${inline - 1};`);
    g.line(`c.nextRip = rip0 + ${off};`);
  }
  return { fn: functionFor(g.source()), insns, offsets, span, loops: loop };
}

/**
 * Compiled functions by source. Blocks hold no per-machine state (RIP comes in as rip0), so the
 * same code in a new machine (every reset makes one) or at another address reuses the function
 * V8 has already optimized, instead of starting again in the bytecode interpreter.
 */
const FUNCTIONS = new Map<string, BlockFn>();
const MAX_FUNCTIONS = 4096;

function functionFor(source: string): BlockFn {
  let fn = FUNCTIONS.get(source);
  if (fn === undefined) {
    if (FUNCTIONS.size >= MAX_FUNCTIONS) FUNCTIONS.clear();
    fn = new Function('c', 'r', 'f', 'ds', 'rip0', 'loops', source) as BlockFn;
    FUNCTIONS.set(source, fn);
  }
  return fn;
}

/** Flag kinds as alu()/fast.ts record them. */
const ALU_CC: Record<number, CC> = { 0: CC.Add, 1: CC.Logic, 4: CC.Logic, 5: CC.Sub, 6: CC.Logic, 7: CC.Sub };
const LOGIC_OP: Record<number, string> = { 1: '|', 4: '&', 6: '^' };

/**
 * Emits the body. The lazy-flag record of the latest flag-setting instruction is kept in locals
 * (fr, frh, fa, fah, fb, fbh, fcin) with its kind and size known here; storeFlags writes it to
 * `f` once. Before any instruction in the block sets flags, `f` itself is current.
 */
class Emitter {
  private readonly lines: string[] = [
    'let fr = 0, frh = 0, fa = 0, fah = 0, fb = 0, fbh = 0, fcin = 0, t = 0, lo = 0, hi = 0, a = 0, ah = 0, b = 0, bh = 0, m = 0, mh = 0, pos = 0, lin = 0, xh = 0, yh = 0;',
    'const mmuGen = c.mmu.generation, codeEpoch = c.codeEpoch;',
  ];
  private ccOp = -1;
  private ccSize = 0;
  private cinSet = false;
  private tmp = 0;
  /** catch-clause cases: the state a fault at each memory instruction must leave. */
  private readonly faults: string[] = [];

  constructor(loop: boolean) {
    if (loop) this.line('for (;;) {');
    this.line('try {');
  }

  line(s: string): void {
    this.lines.push(s);
  }

  source(): string {
    return this.lines.join('\n');
  }

  /** Record flags: kind and size are constants, the values expressions. */
  private setCc(op: CC, size: number, res: string, resHi: string, a: string, aHi: string, b: string, bHi: string): void {
    this.line(`fr = ${res}; frh = ${resHi}; fa = ${a}; fah = ${aHi}; fb = ${b}; fbh = ${bHi};`);
    this.ccOp = op;
    this.ccSize = size;
  }

  private setCin(expr: string): void {
    this.line(`fcin = ${expr};`);
    this.cinSet = true;
  }

  /** CF as 0/1 (computeCarry), from the record in locals or, before any, from the CPU. */
  private carry(): string {
    const v = `cf${this.tmp++}`;
    switch (this.ccOp) {
      case -1:
        this.line(`const ${v} = c.carry();`);
        break;
      case CC.Add:
        this.line(`const ${v} = (frh !== fah ? frh < fah : fr < fa) ? 1 : 0;`);
        break;
      case CC.Sub:
        this.line(`const ${v} = (fah !== fbh ? fah < fbh : fa < fb) ? 1 : 0;`);
        break;
      case CC.Logic:
        this.line(`const ${v} = 0;`);
        break;
      case CC.Inc:
      case CC.Dec:
        this.line(`const ${v} = fcin & 1;`);
        break;
      case CC.Shl:
        this.line(`const ${v} = ${this.ccSize === 8 ? 'fah' : 'fa'} >>> 31;`);
        break;
      case CC.Sar:
        this.line(`const ${v} = fa & 1;`);
        break;
      default:
        throw new Error(`block compiler: no carry for flag kind ${this.ccOp}`);
    }
    return v;
  }

  /** The statement storing the flag record in locals to `f` (empty before any flag-setting instruction). */
  private flagStore(): string {
    let out = '';
    if (this.ccOp >= 0) out += `f.op = ${this.ccOp}; f.size = ${this.ccSize}; f.res = fr; f.resHi = frh; f.a = fa; f.aHi = fah; f.b = fb; f.bHi = fbh;`;
    if (this.cinSet) out += ' f.cin = fcin;';
    return out;
  }

  storeFlags(): void {
    const s = this.flagStore();
    if (s) this.line(s);
  }

  /** Close the body's try: a fault in instruction `pos` stores what a step would have left, and rethrows. */
  endTry(): void {
    this.line('} catch (e) {');
    if (this.faults.length > 0) this.line(`switch (pos) {\n${this.faults.join('\n')}\n}`);
    this.line('throw e;');
    this.line('}');
  }

  /** Instruction `i` (at `off`) may fault from here on: the catch restores the state before it. */
  private mayFault(d: Insn, i: number, off: number): void {
    this.faults.push(`case ${i}: ${this.flagStore()} c.icount += ${i}; c.rip = rip0 + ${off}; c.nextRip = rip0 + ${off + d.len}; break;`);
    this.line(`pos = ${i};`);
  }

  /**
   * Leave after an access that dropped decoded code or changed the MMU state (a TLB eviction):
   * the instructions after it must be fetched again, as single steps would.
   */
  private leaveIfCodeOrMmuChanged(d: Insn, i: number, off: number): void {
    this.line(`if (c.codeEpoch !== codeEpoch || c.mmu.generation !== mmuGen) { ${this.flagStore()} c.icount += ${i}; c.nextRip = rip0 + ${off + d.len}; return; }`);
  }

  /**
   * Instruction `i` (at `off`) is a memory access, as its specialised handler does it (so it
   * may fault: the catch restores the state before it; and a store may hit decoded code or a
   * page table).
   */
  private memoryAccess(d: Insn, op: 'load' | 'store' | 'push' | 'pop', size: number, i: number, off: number): void {
    this.mayFault(d, i, off);
    const x = d.ra;
    const y = d.rb;
    if (op === 'push') this.line(`c.push64(r[${x}], r[${x + 1}]);`);
    else if (op === 'pop') this.line(`lo = c.pop64(); r[${x}] = lo; r[${x + 1}] = c.hi;`);
    else {
      this.address(d, i);
      if (op === 'load') {
        if (size === 8) this.line(`lo = c.read64(lin); r[${x}] = lo; r[${x + 1}] = c.hi;`);
        else if (size === 4) this.line(`lo = c.read32(lin); r[${x}] = lo; r[${x + 1}] = 0;`);
        else this.line(`lo = c.read8(lin); r[${x}] = (r[${x}] & 0xffffff00) | lo;`);
      } else if (size === 8) this.line(`c.write64(lin, r[${y}], r[${y + 1}]);`);
      else if (size === 4) this.line(`c.write32(lin, r[${y}]);`);
      else this.line(`c.write8(lin, r[${y}]);`);
    }
    this.leaveIfCodeOrMmuChanged(d, i, off);
  }

  /**
   * The memory operand's linear address into `lin`: Cpu.linearOf's 64-bit-mode arithmetic with
   * the instruction's constants, falling back to linearOf itself (exact wrap-around, the
   * canonical-address fault) when a register is too large for it or the result is not canonical.
   */
  private address(d: Insn, i: number): void {
    if (d.asize !== 8 || d.absolute || d.base === BASE_RIP) {
      this.line(`lin = c.linearOf(ds[${i}]);`);
      return;
    }
    const terms = [`${d.disp}`];
    const checks: string[] = [];
    if (d.base >= 0) {
      const bi = d.base << 1;
      this.line(`xh = r[${bi + 1}] | 0;`);
      terms.push(`xh * 4294967296 + r[${bi}]`);
      checks.push('xh >= 0x8000 || xh < -0x8000');
    }
    if (d.index >= 0) {
      const ii = d.index << 1;
      this.line(`yh = r[${ii + 1}] | 0;`);
      terms.push(`(yh * 4294967296 + r[${ii}]) * ${1 << d.scale}`);
      checks.push('yh >= 0x8000 || yh < -0x8000');
    }
    if (d.seg >= Seg.FS) terms.push(`c.segBase[${d.seg}]`);
    this.line(`lin = ${terms.join(' + ')};`);
    checks.push('!(lin >= -140737488355328 && lin < 140737488355328)');
    this.line(`if (${checks.join(' || ')}) lin = c.linearOf(ds[${i}]);`);
  }

  insn(d: Insn, form: FastForm, i: number, off: number): void {
    const x = d.ra;
    const y = d.rb;
    const { op, size, src } = form;
    const w = size === 8;
    // Source halves as expressions (the instruction's own constants, its register, or the
    // memory operand read into m/mh).
    const sLo = src === 'i' ? `${d.imm >>> 0}` : src === 'm' ? 'm' : `r[${y}]`;
    const sHi = src === 'i' ? `${d.immHi >>> 0}` : src === 'm' ? 'mh' : `r[${y + 1}]`;
    if (typeof op === 'number') {
      if (src === 'm') {
        // read the source first: the only step that can fault
        this.mayFault(d, i, off);
        this.address(d, i);
        this.line(w ? 'm = c.read64(lin); mh = c.hi;' : 'm = c.read32(lin); mh = 0;');
      }
      const cc = ALU_CC[op]!;
      const write = op !== 7;
      if (w) {
        this.line(`a = r[${x}]; ah = r[${x + 1}]; b = ${sLo}; bh = ${sHi};`);
        if (cc === CC.Add) this.line('t = a + b; lo = t >>> 0; hi = (ah + bh + (t > 0xffffffff ? 1 : 0)) >>> 0;');
        else if (cc === CC.Sub) this.line('t = a - b; lo = t >>> 0; hi = (ah - bh - (t < 0 ? 1 : 0)) >>> 0;');
        else this.line(`lo = (a ${LOGIC_OP[op]} b) >>> 0; hi = (ah ${LOGIC_OP[op]} bh) >>> 0;`);
        if (write) this.line(`r[${x}] = lo; r[${x + 1}] = hi;`);
        this.setCc(cc, 8, 'lo', 'hi', 'a', 'ah', 'b', 'bh');
      } else {
        this.line(`a = r[${x}]; b = ${sLo};`);
        if (cc === CC.Add) this.line('lo = (a + b) >>> 0;');
        else if (cc === CC.Sub) this.line('lo = (a - b) >>> 0;');
        else this.line(`lo = (a ${LOGIC_OP[op]} b) >>> 0;`);
        if (write) this.line(`r[${x}] = lo; r[${x + 1}] = 0;`);
        this.setCc(cc, 4, 'lo', '0', 'a', '0', 'b', '0');
      }
      this.setCin('0');
      // after the instruction retired: leave if its read evicted a TLB entry
      if (src === 'm') this.leaveIfCodeOrMmuChanged(d, i, off);
      return;
    }
    switch (op) {
      case 'test':
        // TEST leaves the carry-in as it was (fast.ts test* do not touch cc.cin).
        if (w) this.setCc(CC.Logic, 8, `(r[${x}] & ${sLo}) >>> 0`, `(r[${x + 1}] & ${sHi}) >>> 0`, '0', '0', '0', '0');
        else this.setCc(CC.Logic, 4, `(r[${x}] & ${sLo}) >>> 0`, '0', '0', '0', '0', '0');
        return;
      case 'inc':
      case 'dec': {
        const delta = op === 'inc' ? 1 : -1;
        const cf = this.carry();
        if (w) {
          this.line(`a = r[${x}]; ah = r[${x + 1}]; t = a + ${delta}; lo = t >>> 0; hi = (ah + (t > 0xffffffff ? 1 : t < 0 ? -1 : 0)) >>> 0;`);
          this.line(`r[${x}] = lo; r[${x + 1}] = hi;`);
          this.setCc(op === 'inc' ? CC.Inc : CC.Dec, 8, 'lo', 'hi', 'a', 'ah', '1', '0');
        } else {
          this.line(`a = r[${x}]; lo = (a + ${delta}) >>> 0; r[${x}] = lo; r[${x + 1}] = 0;`);
          this.setCc(op === 'inc' ? CC.Inc : CC.Dec, 4, 'lo', '0', 'a', '0', '1', '0');
        }
        this.setCin(cf);
        return;
      }
      case 'mov':
        if (w) this.line(`lo = ${sLo}; hi = ${sHi}; r[${x}] = lo; r[${x + 1}] = hi;`);
        else this.line(`r[${x}] = ${sLo}; r[${x + 1}] = 0;`);
        return;
      case 'lea':
        this.lea(d, x, w);
        return;
      case 'shl':
      case 'shr':
      case 'sar':
        this.shift(op, constantShiftCount(d), x, w);
        return;
      default:
        this.memoryAccess(d, op, size, i, off);
    }
  }

  /**
   * Shift by a constant count n (1 ≤ n < width), as exec/shifts.ts shift(): the value shifted
   * by n-1 goes into the flag record's `a` (CF and OF come from it), the carry-in is left alone.
   */
  private shift(op: 'shl' | 'shr' | 'sar', n: number, x: number, w: boolean): void {
    if (w) {
      this.line(`a = r[${x}]; ah = r[${x + 1}];`);
      const [tl, th] = shift64Expr(op, n - 1, 'a', 'ah');
      this.line(`t = ${tl}; b = ${th};`);
      const [rl, rh] = shift64Expr(op, n, 'a', 'ah');
      this.line(`lo = ${rl}; hi = ${rh}; r[${x}] = lo; r[${x + 1}] = hi;`);
      this.setCc(op === 'shl' ? CC.Shl : CC.Sar, 8, 'lo', 'hi', 't', 'b', '0', '0');
      return;
    }
    this.line(`a = r[${x}];`);
    const by = (k: number) => (op === 'shl' ? `(a << ${k}) >>> 0` : op === 'shr' ? `a >>> ${k}` : `((a | 0) >> ${k}) >>> 0`);
    this.line(`t = ${by(n - 1)}; lo = ${by(n)}; r[${x}] = lo; r[${x + 1}] = 0;`);
    this.setCc(op === 'shl' ? CC.Shl : CC.Sar, 4, 'lo', '0', 't', '0', '0', '0');
  }

  /** LEA with a 64-bit address, not RIP-relative (fast.ts lea64Address with constants). */
  private lea(d: Insn, x: number, w: boolean): void {
    this.line(`lo = ${d.disp >>> 0}; hi = ${d.disp < 0 ? 0xffffffff : 0};`);
    if (d.base >= 0) {
      const bi = d.base << 1;
      this.line(`t = lo + r[${bi}]; lo = t >>> 0; hi = (hi + r[${bi + 1}] + (t > 0xffffffff ? 1 : 0)) >>> 0;`);
    }
    if (d.index >= 0) {
      const ii = d.index << 1;
      const s = d.scale;
      if (s === 0) this.line(`b = r[${ii}]; bh = r[${ii + 1}];`);
      else this.line(`b = (r[${ii}] << ${s}) >>> 0; bh = ((r[${ii + 1}] << ${s}) | (r[${ii}] >>> ${32 - s})) >>> 0;`);
      this.line('t = lo + b; lo = t >>> 0; hi = (hi + bh + (t > 0xffffffff ? 1 : 0)) >>> 0;');
    }
    this.line(w ? `r[${x}] = lo; r[${x + 1}] = hi;` : `r[${x}] = lo; r[${x + 1}] = 0;`);
  }
}

/** Halves of a 64-bit value (`lo`, `hi` expressions) shifted by the constant k (0 ≤ k < 64), as expressions. */
function shift64Expr(op: 'shl' | 'shr' | 'sar', k: number, lo: string, hi: string): [string, string] {
  if (k === 0) return [lo, hi];
  if (op === 'shl') return k < 32 ? [`(${lo} << ${k}) >>> 0`, `((${hi} << ${k}) | (${lo} >>> ${32 - k})) >>> 0`] : ['0', `(${lo} << ${k - 32}) >>> 0`];
  const top = op === 'shr' ? `${hi} >>> ${k}` : `(${hi} >> ${k}) >>> 0`;
  if (k < 32) return [`((${lo} >>> ${k}) | (${hi} << ${32 - k})) >>> 0`, top];
  return op === 'shr' ? [`${hi} >>> ${k - 32}`, '0'] : [`(${hi} >> ${k - 32}) >>> 0`, `(${hi} >> 31) >>> 0`];
}
