/**
 * keystone-wasm (1.0.4) wrapper for x86-64, Intel syntax, with dead-instance recovery.
 *
 * Numbers: we never call `ks_option(KS_OPT_SYNTAX, …)`. keystone's default x86 syntax is already
 * Intel, and setting KS_OPT_SYNTAX_INTEL explicitly switches the lexer to radix 16 (measured:
 * `mov eax, 10` → b8 10 00 00 00 and `10h` becomes an error). Without the option, bare numbers are
 * DECIMAL like nasm (`mov eax, 10` → b8 0a 00 00 00), and `0x10`, `10h`, `0b101` all work.
 *
 * Why instances die: an instruction that combines a high-byte register (ah/bh/ch/dh) with a REX
 * prefix makes LLVM call report_fatal_error → exit(1). Emscripten turns that into a thrown
 * `ExitStatus`, which (a) sets `process.exitCode = 1` through its default `quit_` hook, (b) skips
 * the C stack unwinding, leaking ~3.4 KB of the wasm stack per failure, so after ~22 failures
 * every call traps with "table index is out of bounds", and (c) leaks heap; the heap cannot grow
 * (16 MiB fixed) so even with the stack pointer restored the instance dies of OOM after ~500.
 *
 * What this wrapper does about it:
 *  - a `quit` hook that only throws (no process.exitCode side effect), stderr captured (the LLVM
 *    message becomes the error reason instead of console noise);
 *  - after an ExitStatus the stack pointer is restored (captured via `instantiateWasm`), then a
 *    canary (`nop` → 90) checks the instance; on any keystone error the canary is run too;
 *  - a dead instance (canary fails, or a trap such as RuntimeError) is replaced by a warm spare
 *    instance synchronously, and the failed input is retried once on it; a new spare is built in
 *    the background (~10 ms: the wasm is compiled once and re-instantiated per instance);
 *  - every instance is a fresh copy of the package's CJS build (the package keeps its emscripten
 *    module in a module-level singleton, so a fresh module copy is the only way to get a fresh
 *    wasm instance through its public API). Dropped instances are garbage-collectable.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/* The project's lib (ES2022, no DOM) has no WebAssembly typings: declare the little we use. */
type WasmModule = object;
type WasmExports = Record<string, unknown>;
interface WasmInstance {
  exports: WasmExports;
}
const WA = (
  globalThis as unknown as {
    WebAssembly: {
      compile(bytes: Uint8Array): Promise<WasmModule>;
      Instance: new (module: WasmModule, imports: object) => WasmInstance;
    };
  }
).WebAssembly;

/** The subset of keystone-wasm's API we use (its own typings do not resolve under NodeNext). */
interface KsModuleArgs {
  print?: (s: string) => void;
  printErr?: (s: string) => void;
  quit?: (status: number, toThrow: unknown) => never;
  instantiateWasm?: (
    imports: object,
    receive: (instance: WasmInstance) => void,
  ) => WasmExports;
}
interface KsEngine {
  asm(data: string, options?: { address?: number | bigint }): Uint8Array;
  errNo(): number;
  close(): void;
}
interface KsPackage {
  Const: Record<string, number>;
  Keystone: { new (arch: number, mode: number): KsEngine; strError(errNo: number): string };
  loadKeystone(args?: KsModuleArgs): Promise<void>;
}

const KS_ARCH_X86 = 4;
/** keystone's KS_MODE_16/32/64 by code width in bits. */
const KS_MODE: Record<CodeBits, number> = { 16: 2, 32: 4, 64: 8 };

/** The width of the code keystone assembles (`bits 16/32/64`). */
export type CodeBits = 16 | 32 | 64;

const require = createRequire(import.meta.url);
// The CJS build, by path: resolvers disagree on the entry (tsx resolves the bare name to index.d.ts).
const KS_CJS_PATH = path.join(path.dirname(require.resolve('keystone-wasm')), 'index.cjs');
let compiledWasm: Promise<WasmModule> | undefined;
function compiled(): Promise<WasmModule> {
  if (!compiledWasm) {
    compiledWasm = WA.compile(readFileSync(path.join(path.dirname(KS_CJS_PATH), 'keystone.wasm')));
  }
  return compiledWasm;
}

/** One wasm instance + one ks_engine handle. */
class KsInstance {
  dead = false;
  fatalCount = 0;
  private constructor(
    readonly engine: KsEngine,
    /** stderr lines printed by the wasm module (LLVM fatal messages) */
    readonly stderr: string[],
    readonly pkg: KsPackage,
    private readonly stackSave: () => number,
    private readonly stackRestore: (sp: number) => void,
  ) {}

  static async create(bits: CodeBits = 64): Promise<KsInstance> {
    const mod = await compiled();
    // A fresh copy of the CJS build = a fresh emscripten module singleton.
    delete require.cache[KS_CJS_PATH];
    const pkg = require(KS_CJS_PATH) as KsPackage;
    delete require.cache[KS_CJS_PATH];
    const stderr: string[] = [];
    let exportsRef: WasmExports | undefined;
    await pkg.loadKeystone({
      print: () => {},
      printErr: (s) => {
        stderr.push(s);
      },
      quit: (_status, toThrow) => {
        throw toThrow;
      },
      instantiateWasm(imports, receive) {
        const inst = new WA.Instance(mod, imports);
        exportsRef = inst.exports;
        receive(inst);
        return inst.exports;
      },
    });
    if (!exportsRef) throw new Error('keystone-wasm: instantiateWasm hook was not called');
    // Minified export names of keystone-wasm 1.0.4 (pinned): I = stackSave, J = stackRestore.
    const save = exportsRef['I'];
    const restore = exportsRef['J'];
    if (typeof save !== 'function' || typeof restore !== 'function') {
      throw new Error('keystone-wasm: unexpected wasm exports (stackSave/stackRestore not found)');
    }
    const engine = new pkg.Keystone(KS_ARCH_X86, KS_MODE[bits]);
    return new KsInstance(engine, stderr, pkg, save as () => number, restore as (sp: number) => void);
  }

  sp(): number {
    return this.stackSave();
  }
  restoreSp(sp: number): void {
    this.stackRestore(sp);
  }
  /** Canary: a healthy instance assembles `nop` to 0x90. */
  healthy(): boolean {
    if (this.dead) return false;
    try {
      const b = this.engine.asm('nop', { address: 0n });
      return b.length === 1 && b[0] === 0x90;
    } catch {
      return false;
    }
  }
}

export class KeystoneError extends Error {
  override readonly name = 'KeystoneError';
  constructor(
    message: string,
    /** keystone errno (KS_ERR_*) when keystone reported one */
    readonly errno: number | undefined,
    /** LLVM fatal error (exit(1) inside wasm) rather than an ordinary assembly error */
    readonly fatal: boolean,
  ) {
    super(message);
  }
}

export interface KeystoneStats {
  /** wasm instances created, including the first and the spares */
  instancesCreated: number;
  /** times a dead instance was replaced */
  recreations: number;
  /** LLVM fatal errors (ExitStatus) seen */
  fatalErrors: number;
  /** assemble() calls */
  calls: number;
}

export interface KeystoneOptions {
  /** Restore the wasm stack pointer after an LLVM fatal error (default true). Off = die after ~22. */
  restoreStackAfterFatal?: boolean;
  /** Warm spare instances kept for synchronous replacement (default 1). */
  spares?: number;
  /** Code width (default 64): 32 assembles `bits 32` code (no REX, 32-bit default sizes). */
  bits?: CodeBits;
}

type AsmOutcome =
  | { ok: true; bytes: Uint8Array }
  | { ok: false; error: KeystoneError; instanceDied: boolean };

function isExitStatus(e: unknown): e is { status: number } {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'ExitStatus';
}

/** keystone x86-64 assembler (Intel syntax, decimal bare numbers) with instance recovery. */
export class KeystoneX86 {
  private current: KsInstance;
  private readonly spares: KsInstance[] = [];
  private pendingSpares = 0;
  private spareWaiters: Array<() => void> = [];
  private readonly wantSpares: number;
  /** The code width this assembler produces. */
  readonly bits: CodeBits;
  private readonly restoreStack: boolean;
  private closed = false;
  private readonly st: KeystoneStats = { instancesCreated: 0, recreations: 0, fatalErrors: 0, calls: 0 };

  private constructor(first: KsInstance, opts: KeystoneOptions) {
    this.current = first;
    this.wantSpares = Math.max(0, opts.spares ?? 1);
    this.restoreStack = opts.restoreStackAfterFatal ?? true;
    this.bits = opts.bits ?? 64;
    this.st.instancesCreated = 1;
  }

  static async create(opts: KeystoneOptions = {}): Promise<KeystoneX86> {
    const ks = new KeystoneX86(await KsInstance.create(opts.bits), opts);
    ks.refillSpares();
    await ks.ready();
    return ks;
  }

  get stats(): Readonly<KeystoneStats> {
    return { ...this.st };
  }

  /** Resolves once the spare pool is full (call between bursts of hostile input). */
  async ready(): Promise<void> {
    while (!this.closed && this.spares.length < this.wantSpares) {
      if (this.pendingSpares === 0) this.refillSpares();
      await new Promise<void>((resolve) => this.spareWaiters.push(resolve));
    }
  }

  private refillSpares(): void {
    while (!this.closed && this.spares.length + this.pendingSpares < this.wantSpares) {
      this.pendingSpares++;
      KsInstance.create(this.bits).then(
        (inst) => {
          this.pendingSpares--;
          this.st.instancesCreated++;
          if (!this.closed) this.spares.push(inst);
          this.wakeWaiters();
        },
        () => {
          this.pendingSpares--;
          this.wakeWaiters();
        },
      );
    }
  }
  private wakeWaiters(): void {
    const w = this.spareWaiters;
    this.spareWaiters = [];
    for (const f of w) f();
  }

  /** Replace the current (dead) instance. Synchronous when a spare is warm. */
  private replaceCurrent(): boolean {
    this.current.dead = true;
    const next = this.spares.shift();
    this.refillSpares();
    if (!next) return false;
    this.current = next;
    this.st.recreations++;
    return true;
  }

  private async replaceCurrentAsync(): Promise<void> {
    if (this.replaceCurrent()) return;
    const inst = await KsInstance.create(this.bits);
    this.st.instancesCreated++;
    this.current = inst;
    this.st.recreations++;
  }

  private attempt(inst: KsInstance, text: string, address: bigint): AsmOutcome {
    inst.stderr.length = 0;
    const sp = inst.sp();
    try {
      return { ok: true, bytes: inst.engine.asm(text, { address }) };
    } catch (e) {
      if (isExitStatus(e)) {
        this.st.fatalErrors++;
        inst.fatalCount++;
        if (this.restoreStack) inst.restoreSp(sp);
        const msg = inst.stderr.join('\n').replace(/^LLVM ERROR:\s*/, '') || 'LLVM fatal error';
        const died = !inst.healthy();
        return { ok: false, error: new KeystoneError(msg, undefined, true), instanceDied: died };
      }
      if (e instanceof Error && /^Failed to assemble/.test(e.message)) {
        let errno: number | undefined;
        try {
          errno = inst.engine.errNo();
        } catch {
          errno = undefined;
        }
        const msg = e.message.replace(/^Failed to assemble, error: /, '');
        return { ok: false, error: new KeystoneError(msg, errno, false), instanceDied: !inst.healthy() };
      }
      // wasm trap (RuntimeError: table index is out of bounds, Aborted(OOM), …): instance is dead.
      const msg = e instanceof Error ? e.message : String(e);
      return { ok: false, error: new KeystoneError(`keystone instance trapped: ${msg}`, undefined, false), instanceDied: true };
    }
  }

  /**
   * Assemble a whole (multi-line) program at `address`. Throws KeystoneError for invalid input.
   * A dead instance is replaced by a warm spare and the input retried once. If no spare is warm
   * (several deaths without yielding to the event loop), throws; `assembleAsync` never does.
   */
  assemble(text: string, address: bigint = 0n): Uint8Array {
    const r = this.tryAssemble(text, address);
    if (r.ok) return r.bytes;
    throw r.error;
  }

  /** Non-throwing form of `assemble`. */
  tryAssemble(text: string, address: bigint = 0n): { ok: true; bytes: Uint8Array } | { ok: false; error: KeystoneError } {
    if (this.closed) throw new Error('KeystoneX86 is closed');
    this.st.calls++;
    const r = this.attempt(this.current, text, address);
    if (r.ok || !r.instanceDied) return r.ok ? r : { ok: false, error: r.error };
    if (!this.replaceCurrent()) {
      throw new KeystoneError(
        'keystone instance died and no spare instance is warm yet (await ks.ready() or use assembleAsync)',
        undefined,
        false,
      );
    }
    // The input may well be valid (an earlier input killed the instance): retry once.
    const r2 = this.attempt(this.current, text, address);
    if (!r2.ok && r2.instanceDied) this.replaceCurrent();
    return r2.ok ? r2 : { ok: false, error: r2.error };
  }

  /** Like `assemble`, but waits for a fresh instance instead of failing when no spare is warm. */
  async assembleAsync(text: string, address: bigint = 0n): Promise<Uint8Array> {
    if (this.current.dead) await this.replaceCurrentAsync();
    this.st.calls++;
    const r = this.attempt(this.current, text, address);
    if (r.ok) return r.bytes;
    if (!r.instanceDied) throw r.error;
    await this.replaceCurrentAsync();
    const r2 = this.attempt(this.current, text, address);
    if (!r2.ok && r2.instanceDied) this.current.dead = true;
    if (r2.ok) return r2.bytes;
    throw r2.error;
  }

  close(): void {
    this.closed = true;
    for (const i of [this.current, ...this.spares]) {
      if (i.dead) continue;
      try {
        i.engine.close();
      } catch {
        /* dead or already closed */
      }
    }
    this.spares.length = 0;
    this.wakeWaiters();
  }
}

const shared = new Map<CodeBits, Promise<KeystoneX86>>();
/** The process-wide shared assembler instance for a code width (default 64). */
export function getKeystone(bits: CodeBits = 64): Promise<KeystoneX86> {
  let ks = shared.get(bits);
  if (!ks) shared.set(bits, (ks = KeystoneX86.create({ bits })));
  return ks;
}
